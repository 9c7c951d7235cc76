package replay_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/accesslog"
	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/keeper"
	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/reaper"
	"github.com/floatseat/floatseat/internal/replay"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/store/storetest"
)

// One fixture of activity drives the real reaper (store, keeper,
// directory, minute by minute on an injected clock) and replay (the same
// activity as an access log): both must revoke the same users at the same
// minutes, for the same reasons — floor, pressure, reserve, ceiling and an
// exclusion all play.
func TestReplayAndReaperDecideAlike(t *testing.T) {
	const (
		pool    = "jira-software"
		group   = "jira-software-users"
		nSeats  = 7
		reserve = 2
		floor   = time.Hour
		ceiling = 3 * time.Hour
	)
	zone := time.FixedZone("", 3600)
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, zone)
	// Minutes after 08:00 at which each user makes a real request.
	work := map[string][]int{
		"u0":     span(0, 600, 10), // all day
		"u1":     span(0, 240, 15), // until noon
		"u2":     span(0, 120, 20),
		"u3":     span(0, 60, 30),
		"u4":     {0, 370}, // back after being revoked: a grant
		"u5":     span(0, 180, 5),
		"svc-ci": {0}, // excluded: never revoked
	}
	excluded := map[string]bool{"svc-ci": true}
	end := 600

	// The reaper's world.
	ctx := t.Context()
	st, _ := storetest.New(t, "fs")
	dir := appsim.NewInternalDirectory()
	dir.AddGroup(group)
	for u := range work {
		dir.AddUser(u, "pw")
		_ = dir.AddMember(ctx, u, group)
	}
	now := start
	clock := func() time.Time { return now }
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	_ = st.Heartbeat(ctx, "proxy", now)
	// The one membership view of app's wiring, read in full on every run.
	view := membership.New(membership.Options{Dir: dir, Groups: []string{group},
		Exclude: membership.Exclusions{Users: []string{"svc-ci"}}, Interval: time.Nanosecond, Clock: clock, Log: quiet})
	k, err := keeper.New(keeper.Options{Pools: []keeper.Pool{{Name: pool, LicenseGroups: []string{group}, DefaultGroups: []string{group}}},
		Dir: dir, Members: view, Store: st, Audit: audit.New(st, quiet, 1000, "test", "enforce"), Immediate: true,
		GrantTimeout: time.Second, Floor: floor, Clock: clock, Log: quiet, Reg: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := reaper.New(reaper.Options{Pools: []reaper.Pool{{Name: pool, LicenseGroups: []string{group}, Reserve: reserve}},
		Store: st, Members: view, Keeper: k, Replica: "test", Interval: time.Minute, LockTTL: time.Hour,
		HeartbeatMaxAge: time.Hour, Floor: floor, Ceiling: ceiling, MaxRevocations: 50,
		Clock: clock, Log: quiet, Reg: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}

	var reaperSaw []string
	var lines []string
	held := func() []string {
		ms, _ := dir.Members(ctx, group, false)
		slices.Sort(ms)
		return ms
	}
	for m := 0; m <= end; m++ {
		now = start.Add(time.Duration(m) * time.Minute)
		if m > 0 {
			before := held()
			setUsed(t, st, pool, nSeats, len(before), now)
			_ = st.Heartbeat(ctx, "proxy", now)
			if err := r.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			after := held()
			for _, u := range before {
				if !slices.Contains(after, u) {
					reaperSaw = append(reaperSaw, fmt.Sprintf("%03d %s", m, u))
				}
			}
		}
		for _, u := range sortedUsers(work) {
			if !slices.Contains(work[u], m) {
				continue
			}
			if !slices.Contains(held(), u) {
				if _, err := k.Grant(ctx, u, "test"); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.RecordActivity(ctx, []store.Activity{{User: u, At: now, Pools: []string{pool}}}); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf(`10.0.0.1 1x%dx1 %s [%s] "GET /browse/A-%d HTTP/1.1" 200 1 1 "-" "-" "-"`,
				m, u, now.Format("02/Jan/2006:15:04:05 -0700"), m))
		}
	}

	// Replay over the same activity as a log.
	var replaySaw []string
	o := replay.Options{Pools: []replay.Pool{{Name: pool, Seats: nSeats, Reserve: reserve}}, Floor: floor, Ceiling: ceiling,
		Interval: time.Minute, MaxRevocations: 50, Excluded: func(u string) bool { return excluded[u] },
		OnRevoke: func(_ int, u string, at time.Time, _ string) {
			replaySaw = append(replaySaw, fmt.Sprintf("%03d %s", int(at.Sub(start)/time.Minute), u))
		}}
	res, err := replay.Run(o, []replay.Input{{Name: "log", R: strings.NewReader(strings.Join(lines, "\n")), Format: accesslog.Jira}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("revocations (minute user): %v", reaperSaw)
	if len(reaperSaw) < 4 {
		t.Fatalf("the fixture revokes too little to prove anything: %v", reaperSaw)
	}
	slices.Sort(reaperSaw)
	slices.Sort(replaySaw)
	if !slices.Equal(reaperSaw, replaySaw) {
		t.Fatalf("revocations differ (minute user):\nreaper %v\nreplay %v", reaperSaw, replaySaw)
	}
	if p := res.Pools[0]; p.Revocations != len(reaperSaw) || p.Grants != len(work)+1 {
		t.Fatalf("replay counts %+v; want %d revocations and %d grants", p, len(reaperSaw), len(work)+1)
	}
}

func span(from, to, step int) []int {
	var out []int
	for m := from; m <= to; m += step {
		out = append(out, m)
	}
	return out
}

func sortedUsers(m map[string][]int) []string {
	var out []string
	for u := range m {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// setUsed reports the app's own count: the users holding the group now.
func setUsed(t *testing.T, st *store.Store, pool string, seats, used int, now time.Time) {
	t.Helper()
	if err := st.SetLicense(context.Background(), pool, store.LicenseCount{Seats: seats, Used: used}, now); err != nil {
		t.Fatal(err)
	}
}
