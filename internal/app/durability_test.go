package app

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/store/storetest"
)

// rebuilds sums floatseat_state_rebuilds_total over the replicas.
func (w *world) rebuilds() float64 {
	w.t.Helper()
	var n float64
	for _, a := range w.apps {
		mfs, err := a.Registry().Gather()
		if err != nil {
			w.t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "floatseat_state_rebuilds_total" {
				for _, m := range mf.GetMetric() {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// durabilityWorld has 20 users (every 5th a JSM agent too), all revoked.
func durabilityWorld(t *testing.T) (*world, []string) {
	var users, agents []string
	for i := range 20 {
		u := fmt.Sprintf("u%02d", i)
		if i%5 == 0 {
			agents = append(agents, u)
		} else {
			users = append(users, u)
		}
	}
	// Room for every return counted twice (pending, then by the app too):
	// the fake clock stands still while they log in.
	w := newWorld(t, worldOpts{seats: 50, users: users, agents: agents})
	w.advance(5 * time.Hour) // past max_idle: everyone is revoked
	all := append(append([]string(nil), users...), agents...)
	for _, u := range all {
		if w.licensed(u, "jira-software-users") || !w.licensed(u, "floatseat-parked-jira-software-users") {
			t.Fatalf("%s: not revoked and parked before the loss", u)
		}
	}
	// The app's directory sync has run since: it no longer counts them.
	// (Right after a loss, a revocation the app still counts is not known
	// to be pending any more, so it frees no seat for its returning user:
	// the safe side of the licence.)
	if err := w.sim.SyncNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	return w, all
}

// isAgent: the world's agents are u00, u05, u10, u15.
func isAgent(u string) bool { return strings.HasSuffix(u, "0") || strings.HasSuffix(u, "5") }

// After Redis loses every byte, each revoked user's correct password works
// on the first try and gives back exactly the groups floatseat took.
func TestE2ERedisLosesItsDataAndNobodyIsLockedOut(t *testing.T) {
	for _, how := range []string{"flushall", "restart without persistence"} {
		t.Run(how, func(t *testing.T) {
			w, all := durabilityWorld(t)
			before := w.rebuilds()
			if how == "flushall" {
				if err := storetest.Inspect(t, w.redis.Addr).FlushAll(t.Context()); err != nil {
					t.Fatal(err)
				}
			} else {
				w.redis.Stop()
				w.redis.Restart(t)
			}
			// Licence reports and heartbeats again (Redis had lost them too),
			// taken after the app's sync.
			w.clock.Advance(time.Minute)
			w.settle()
			for i, u := range all {
				b := w.browser(u)
				if res, err := b.Login(t.Context(), false); err != nil || res.LoginReason() != "OK" {
					for _, a := range w.apps {
						st, _ := a.Status(t.Context())
						for _, p := range st.Pools {
							t.Logf("replica %s: %+v", a.replica, p)
						}
					}
					t.Fatalf("login of %s (#%d) after the loss: %d %q %v", u, i, res.Status, res.LoginReason(), err)
				}
				if i == 0 {
					// The first seat decision rebuilt the records of
					// everyone else from the parking groups.
					recs, err := w.apps[0].Store().RevokedUsers(t.Context(), "jira-software")
					if err != nil || len(recs) != len(all)-1 {
						t.Errorf("revoked records after the first return: %d %v, want %d rebuilt", len(recs), err, len(all)-1)
					}
				}
				if !w.licensed(u, "jira-software-users") || w.licensed(u, "floatseat-parked-jira-software-users") {
					t.Errorf("%s: no Jira Software seat back", u)
				}
				if isAgent(u) { // the agent seat comes back with agent work (DESIGN §2.11)
					// The session learned by one replica reaches the other
					// through Redis asynchronously: the next click does it.
					eventually(t, u+"'s agent seat back at agent work", func() bool {
						_, _ = b.Get(t.Context(), "/projects/SD/queues/custom/1")
						return w.licensed(u, "jira-servicedesk-users")
					})
				}
				if got := w.licensed(u, "jira-servicedesk-users"); got != isAgent(u) {
					t.Errorf("%s: JSM = %v, want %v (exactly the groups taken)", u, got, isAgent(u))
				}
				if n := w.sim.FailedLoginCount(u); n != 0 {
					t.Errorf("%s: %d failed logins, want none", u, n)
				}
			}
			if after := w.rebuilds(); after <= before {
				t.Errorf("floatseat_state_rebuilds_total %v → %v: the loss went unnoticed", before, after)
			}
		})
	}
}

// restore --all is the way out, with Redis down.
func TestE2ERestoreAllWithRedisDown(t *testing.T) {
	w, all := durabilityWorld(t)
	w.redis.Stop()
	t.Setenv("FLOATSEAT_LDAP_BIND_PASSWORD", "x")
	t.Setenv("FLOATSEAT_APP_PASSWORD", "svc-pw")
	cfg := filepath.Join(t.TempDir(), "floatseat.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
product: jira
redis: {addr: %q, key_prefix: "floatseat:e2e", timeout: 200ms}
app: {user: svc}
pools:
  - {name: jira-software, license_groups: [jira-software-users], application_role: jira-software}
  - {name: jsm, license_groups: [jira-servicedesk-users], application_role: jira-servicedesk}
directory: {type: ldap, ldap: {url: "ldap://unused:389", bind_dn: x, user_base_dn: x, group_base_dn: x}}
log: {level: error}
`, w.redis.Addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, warns, errs := config.Load(cfg)
	if len(errs) > 0 {
		t.Fatal(errs, warns)
	}
	rep, err := Restore(t.Context(), c, slog.New(slog.DiscardHandler), nil, true, false, WithDirectory(w.dir, false))
	if err != nil || rep.RedisErr == nil || len(rep.Users) != len(all) {
		t.Fatalf("restore --all with Redis down: %d users, redis error %v, err %v; want %d users and Redis reported down",
			len(rep.Users), rep.RedisErr, err, len(all))
	}
	for _, r := range rep.Users {
		if r.Err != nil {
			t.Errorf("restore of %s: %v", r.User, r.Err)
		}
	}
	for _, u := range all {
		if !w.licensed(u, "jira-software-users") || w.licensed(u, "floatseat-parked-jira-software-users") {
			t.Errorf("%s: not given Jira Software back", u)
		}
		if got := w.licensed(u, "jira-servicedesk-users"); got != isAgent(u) {
			t.Errorf("%s: JSM = %v, want %v", u, got, isAgent(u))
		}
	}
}
