package keeper

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
)

// In observe mode a would-revoked user's return is a would-grant when
// enforce would have had a seat, and a would-deny (the full page, counted)
// when it would not; nothing changes in the directory either way.
func TestObserveReturnWouldGrantOrWouldDeny(t *testing.T) {
	for _, c := range []struct {
		name       string
		seats      int // used is 3 (alice, bob, carol); alice is would-revoked
		wantAction string
	}{
		{"a seat enforce would have", 3, audit.Grant},
		{"over the licence: enforce would be full", 2, audit.Deny},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.seats, true)
			ctx := t.Context()
			k := newKeeper(t, Options{Pools: []Pool{{Name: "jira-software", LicenseGroups: []string{"jira-software-users"}}},
				Dir: e.dir, Store: e.st, Audit: e.audit, Observe: true, Virtual: e.st, Immediate: true,
				GrantTimeout: time.Second, Floor: 5 * time.Hour, Clock: e.clock, Log: quiet, Reg: prometheus.NewRegistry()})
			_ = e.st.RecordActivity(ctx, []store.Activity{{User: "alice", At: e.now.Add(-9 * time.Hour), Pools: []string{"jira-software"}}})
			for i := 0; i < 3; i++ {
				if err := k.Revoke(ctx, RevokeRequest{Pool: "jira-software", User: "alice", Reason: "pressure", Trigger: "reaper"}); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 3; i++ {
				v := k.Ensure(ctx, identity.Identity{User: "alice", Source: identity.SourceSession}, httptest.NewRequest("GET", "/browse/A-1", nil))
				if v.Deny || v.Granted {
					t.Fatalf("observe mode changed the request: %+v", v)
				}
			}
			evs, _ := e.audit.Since(ctx, time.Time{}, 0)
			n := map[string]int{}
			for _, ev := range evs {
				if ev.Mode == "observe" {
					n[ev.Action]++
				}
			}
			if n[audit.Revoke] != 1 || n[c.wantAction] != 1 || len(n) != 2 {
				t.Fatalf("observe audit %v; want one would-revoke and one %s", n, c.wantAction)
			}
			free, _, deny, _ := e.st.ObserveFigures(ctx, "jira-software")
			if c.wantAction == audit.Deny && (free != 1 || deny != 1) || c.wantAction == audit.Grant && (free != 0 || deny != 0) {
				t.Fatalf("figures: would free %d, would deny %d", free, deny)
			}
			if !e.member(t, "alice", "jira-software-users") {
				t.Fatal("observe mode removed alice from her group")
			}
		})
	}
}
