package keeper

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/store/storetest"
	"github.com/floatseat/floatseat/proxy"
)

const prefix = "floatseat-parked-"

type parkEnv struct {
	*env
	mr  *miniredis.Miniredis
	opt Options
}

// newParkEnv is newEnv with parking groups, on a Redis the test can flush.
func newParkEnv(t *testing.T, users int) *parkEnv {
	t.Helper()
	st, mr := storetest.New(t, "floatseat:test")
	dir := appsim.NewInternalDirectory()
	ctx := t.Context()
	for _, g := range []string{"jira-software-users", "jira-servicedesk-users", prefix + "jira-software-users", prefix + "jira-servicedesk-users"} {
		dir.AddGroup(g)
	}
	for i := range users {
		u := fmt.Sprintf("user%04d", i)
		dir.AddUser(u, "pw-"+u)
		_ = dir.AddMember(ctx, u, "jira-software-users")
		if i%4 == 0 {
			_ = dir.AddMember(ctx, u, "jira-servicedesk-users")
		}
	}
	e := &parkEnv{env: &env{st: st, dir: dir, now: time.Now().Truncate(time.Millisecond)}, mr: mr}
	e.audit = audit.New(st, quiet, 10000, "test", "enforce")
	e.opt = Options{
		Pools: []Pool{
			{Name: "jira-software", LicenseGroups: []string{"jira-software-users"}, DefaultGroups: []string{"jira-software-users"}},
			{Name: "jsm", LicenseGroups: []string{"jira-servicedesk-users"}, DefaultGroups: []string{"jira-servicedesk-users"}},
		},
		Dir: dir, Store: st, Audit: e.audit, Immediate: true, GrantTimeout: 5 * time.Second, Floor: time.Hour,
		ParkingPrefix: prefix, Clock: e.clock, Log: quiet, Reg: prometheus.NewRegistry(),
	}
	e.k = newKeeper(t, e.opt)
	e.k.Prime(ctx)
	e.license(t)
	return e
}

func (e *parkEnv) license(t *testing.T) {
	t.Helper()
	for _, p := range []string{"jira-software", "jsm"} {
		if err := e.st.SetLicense(t.Context(), p, store.LicenseCount{Seats: 100000, Used: 0}, e.clock()); err != nil {
			t.Fatal(err)
		}
	}
}

// restart is a new floatseat process on the same Redis and directory.
func (e *parkEnv) restart(t *testing.T) {
	o := e.opt
	o.Reg = prometheus.NewRegistry()
	e.k = newKeeper(t, o)
	e.k.Prime(t.Context())
}

func (e *parkEnv) login(t *testing.T, u string) {
	t.Helper()
	id := identity.Identity{User: u, Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin}
	v := e.k.Ensure(t.Context(), id, nil)
	if !v.Granted {
		t.Fatalf("login of %s: %+v, want a grant", u, v)
	}
	e.k.Settle(id, v, proxy.Judgement{Confirmed: true})
}

func TestRevokeParksAndGrantUnparks(t *testing.T) {
	e := newParkEnv(t, 1)
	revoke(t, e.env, "jira-software", "user0000")
	revoke(t, e.env, "jsm", "user0000")
	for g, want := range map[string]bool{"jira-software-users": false, "jira-servicedesk-users": false,
		prefix + "jira-software-users": true, prefix + "jira-servicedesk-users": true} {
		if got := e.member(t, "user0000", g); got != want {
			t.Errorf("after the revoke, member of %s = %v, want %v", g, got, want)
		}
	}
	e.login(t, "user0000")
	for g, want := range map[string]bool{"jira-software-users": true, "jira-servicedesk-users": true,
		prefix + "jira-software-users": false, prefix + "jira-servicedesk-users": false} {
		if got := e.member(t, "user0000", g); got != want {
			t.Errorf("after the grant, member of %s = %v, want %v", g, got, want)
		}
	}
}

func TestRevokeWithoutAParkingGroupFailsClosed(t *testing.T) {
	e := newParkEnv(t, 1)
	e.dir.AddUser("solo", "pw")
	e.dir.AddGroup("solo-users")
	_ = e.dir.AddMember(t.Context(), "solo", "solo-users")
	o := e.opt
	o.Reg = prometheus.NewRegistry()
	o.Pools = []Pool{{Name: "solo", LicenseGroups: []string{"solo-users"}, DefaultGroups: []string{"solo-users"}}}
	e.k = newKeeper(t, o)
	err := e.k.Revoke(t.Context(), RevokeRequest{Pool: "solo", User: "solo", Reason: "ceiling", Trigger: "test"})
	if err == nil || !e.member(t, "solo", "solo-users") {
		t.Fatalf("revoke with no parking group: %v, still licensed %v; want a refusal and the group kept", err, e.member(t, "solo", "solo-users"))
	}
}

// After Redis loses its data, a running replica and a restarted one both
// rebuild the revoked view from the parking groups, and a returning user
// gets exactly the groups taken.
func TestRedisLosingItsDataLocksNobodyOut(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restarted=%v", restart), func(t *testing.T) {
			e := newParkEnv(t, 8)
			for i := range 8 {
				u := fmt.Sprintf("user%04d", i)
				revoke(t, e.env, "jira-software", u)
				if i%4 == 0 {
					revoke(t, e.env, "jsm", u)
				}
			}
			before := testutil.ToFloat64(e.k.rebuilds) // the first start rebuilt from nothing
			e.mr.FlushAll()
			e.license(t)
			if restart {
				before = 0
				e.restart(t)
				if got := e.k.IsRevoked("user0004"); len(got) != 2 {
					t.Errorf("restarted on an empty Redis: user0004's records %+v, want both pools", got)
				}
			}
			for i := range 8 {
				u := fmt.Sprintf("user%04d", i)
				e.login(t, u)
				if !e.member(t, u, "jira-software-users") || e.member(t, u, prefix+"jira-software-users") {
					t.Errorf("%s: no Jira Software seat back after the flush", u)
				}
				if got, want := e.member(t, u, "jira-servicedesk-users"), i%4 == 0; got != want {
					t.Errorf("%s: JSM after the flush = %v, want %v (exactly the groups taken)", u, got, want)
				}
			}
			if n := testutil.ToFloat64(e.k.rebuilds) - before; n != 1 {
				t.Errorf("floatseat_state_rebuilds_total moved by %v after one loss, want 1", n)
			}
		})
	}
}

// A user parked and licensed at once (a grant or revoke half-way) is not
// taken for revoked.
func TestRebuildTakesParkedHoldersForLicensed(t *testing.T) {
	e := newParkEnv(t, 2)
	_ = e.dir.AddMember(t.Context(), "user0001", prefix+"jira-software-users")
	revoke(t, e.env, "jira-software", "user0000")
	e.mr.FlushAll()
	e.restart(t)
	if got := e.k.IsRevoked("user0001"); len(got) != 0 {
		t.Errorf("a parked holder was taken for revoked: %+v", got)
	}
	if got := e.k.IsRevoked("user0000"); len(got["jira-software"].Groups) != 1 {
		t.Errorf("the parked user was not found: %+v", got)
	}
}

// The rebuild of 1,000 parked users: the number goes in the closing note.
func TestRebuildOfAThousandParkedUsers(t *testing.T) {
	e := newParkEnv(t, 1000)
	ctx := t.Context()
	for i := range 1000 {
		u := fmt.Sprintf("user%04d", i)
		_ = e.dir.RemoveMember(ctx, u, "jira-software-users")
		_ = e.dir.AddMember(ctx, u, prefix+"jira-software-users")
	}
	e.mr.FlushAll()
	start := time.Now()
	e.restart(t)
	t.Logf("rebuilt 1,000 parked users (in-process directory, miniredis) in %v", time.Since(start))
	recs, err := e.st.RevokedUsers(ctx, "jira-software")
	if err != nil || len(recs) != 1000 {
		t.Fatalf("rebuilt records: %d %v, want 1000", len(recs), err)
	}
}

// removeCounter counts the writes a parking check makes.
type removeCounter struct {
	*appsim.InternalDirectory
	removes int
}

func (d *removeCounter) RemoveMember(ctx context.Context, u, g string) error {
	d.removes++
	return d.InternalDirectory.RemoveMember(ctx, u, g)
}

// EnsureParking creates what is missing and probes writes with the service
// account; without one it writes nothing at all.
func TestEnsureParkingCreatesAndProbes(t *testing.T) {
	in := appsim.NewInternalDirectory()
	in.AddUser("svc", "pw")
	in.AddGroup(prefix + "jira-software-users")
	dir := &removeCounter{InternalDirectory: in}
	groups := ParkingGroups(prefix, []string{"jira-software-users", "jira-servicedesk-users", "JIRA-SOFTWARE-USERS"})
	if len(groups) != 2 {
		t.Fatalf("parking groups %v, want one per licence group, case-insensitively", groups)
	}
	got := EnsureParking(t.Context(), dir, groups, "")
	if dir.removes != 0 {
		t.Errorf("%d directory writes without a probe user, want none", dir.removes)
	}
	if !got[0].Exists || got[0].Created || !got[1].Created || got[1].Err != nil {
		t.Errorf("states %+v: want the first found and the second created", got)
	}
	if _, err := in.Members(t.Context(), prefix+"jira-servicedesk-users", false); err != nil {
		t.Errorf("the missing parking group was not created: %v", err)
	}
	for _, c := range []struct{ probe, want string }{
		{"svc", "yes"},
		{"ghost", "not checked (the probe user ghost is not in this directory)"},
	} {
		for _, st := range EnsureParking(t.Context(), dir, groups, c.probe) {
			if st.Writable != c.want || st.Err != nil {
				t.Errorf("probe %s: %s writable %q err %v, want %q", c.probe, st.Group, st.Writable, st.Err, c.want)
			}
		}
	}
}
