package app

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
)

// Observe mode simulates (DESIGN §2.12): over many reaper runs each
// would-revoke is audited once, a would-revoked user's next real request
// is audited once as a would-grant with its route, and /api/v1/status says
// what enforce would free now and the peak it would have needed.
func TestObserveModeSimulates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	jsw := []string{"jira-software"}
	dir := appsim.NewInternalDirectory()
	dir.AddGroup("jira-software-users")
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		dir.AddUser(u, "pw")
		_ = dir.AddMember(ctx, u, "jira-software-users")
	}
	var mu sync.Mutex
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := startEmbedded(t, `directory: {type: jira}
app: {user: svc}
pools: [{name: jira-software, license_groups: [jira-software-users], seats: 4, reserve: 2, refresh_interval: 1s}]
`, WithDirectory(dir, true), WithClock(clock))
	if a.cfg().Mode != "observe" {
		t.Fatalf("mode %s: the embedded store runs in observe mode", a.cfg().Mode)
	}
	// alice and bob went home hours ago; carol and dave are working. Four
	// seats, all used, a reserve of 2: enforce would revoke alice and bob.
	_ = a.store.RecordActivity(ctx, []store.Activity{{User: "alice", At: now.Add(-10 * time.Hour), Pools: jsw},
		{User: "bob", At: now.Add(-8 * time.Hour), Pools: jsw}, {User: "carol", At: now, Pools: jsw}, {User: "dave", At: now, Pools: jsw}})
	eventually(t, "seat counts", func() bool {
		st, err := a.Status(ctx)
		return err == nil && st.Pools[0].Seats == 4 && st.Pools[0].Used == 4
	})
	for i := 0; i < 8; i++ {
		if err := a.seats.reaper.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	events := func(action string) map[string]int {
		evs, err := a.audit.Since(ctx, time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, e := range evs {
			if e.Action == action && e.Mode == "observe" {
				n[e.User]++
				if action == "grant" && (e.Trigger == "" || e.Reason != "return") {
					t.Errorf("would-grant %+v: want reason return and the route as trigger", e)
				}
			}
		}
		return n
	}
	if got := events("revoke"); len(got) != 2 || got["alice"] != 1 || got["bob"] != 1 {
		t.Fatalf("would-revokes over 8 runs: %v; want alice and bob once each", got)
	}
	if ms, _ := dir.Members(ctx, "jira-software-users", false); len(ms) != 4 {
		t.Fatalf("observe mode changed the directory: %v", ms)
	}

	// alice comes back: a would-grant, once.
	id := identity.Identity{User: "alice", Source: identity.SourceSession}
	for i := 0; i < 3; i++ {
		if v := a.seats.keeper.Ensure(ctx, id, httptest.NewRequest("GET", "/browse/ABC-1", nil)); v.Deny || v.Granted {
			t.Fatalf("observe mode changed a request: %+v", v)
		}
	}
	_ = a.store.RecordActivity(ctx, []store.Activity{{User: "alice", At: now, Pools: jsw}})
	if err := a.seats.reaper.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := events("grant"); len(got) != 1 || got["alice"] != 1 {
		t.Fatalf("would-grants: %v; want alice once", got)
	}
	if got := events("revoke"); got["alice"] != 1 || got["bob"] != 1 {
		t.Fatalf("would-revokes after the return: %v; still once each", got)
	}

	body, err := httpGet("http://" + a.AdminAddr() + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Pools []struct {
			Observe *struct {
				WouldFree  int `json:"would_free"`
				PeakNeeded int `json:"peak_needed"`
			} `json:"observe"`
		} `json:"pools"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Pools) != 1 || st.Pools[0].Observe == nil {
		t.Fatalf("status %v: %s", err, body)
	}
	if o := st.Pools[0].Observe; o.WouldFree != 1 || o.PeakNeeded != 4 {
		t.Fatalf("observe figures %+v; want enforce would free 1 seat (bob) now, peak needed 4", *o)
	}
	page, _ := httpGet("http://" + a.AdminAddr() + "/")
	if !regexpMatch(`data-testid="would-free-jira-software">1 seats now<`, page) {
		t.Fatalf("status page lacks the would-free figure")
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
