package reaper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/keeper"
	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	r   *Reaper
	k   *keeper.Keeper
	st  *store.Store
	dir *appsim.InternalDirectory
	mu  sync.Mutex
	now time.Time
}

func (e *env) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }

const floor = 5 * time.Hour

// newEnv: 10 licensed users u0..u9, admin excluded, seats as given, the
// observation started 10 days ago.
func newEnv(t *testing.T, seats int, observe bool) *env {
	t.Helper()
	return newEnvWith(t, seats, observe, nil)
}

// newEnvWith: as newEnv, the reaper and keeper sharing the membership view
// that view builds over the directory (nil: one over the licence group,
// admins excluded, read in full on every run).
func newEnvWith(t *testing.T, seats int, observe bool, view func(directory.Directory, func() time.Time) *membership.View) *env {
	t.Helper()
	st, _ := storetest.New(t, "fs")
	e := &env{st: st, dir: appsim.NewInternalDirectory(), now: time.Now().Truncate(time.Millisecond)}
	ctx := t.Context()
	e.dir.AddGroup("jira-software-users")
	e.dir.AddGroup("jira-administrators")
	for _, u := range []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "admin"} {
		e.dir.AddUser(u, "pw")
		_ = e.dir.AddMember(ctx, u, "jira-software-users")
	}
	_ = e.dir.AddMember(ctx, "admin", "jira-administrators")
	// Observation started 10 days ago (first heartbeat), and a live one now.
	_ = e.st.Heartbeat(ctx, "old", e.now.Add(-240*time.Hour))
	_ = e.st.Heartbeat(ctx, "live", e.now)
	_ = e.st.SetLicense(ctx, "jira-software", store.LicenseCount{Seats: seats, Used: 11}, e.now)
	log := audit.New(e.st, quiet, 1000, "test", "enforce")
	if view == nil {
		view = func(d directory.Directory, clock func() time.Time) *membership.View {
			return membership.New(membership.Options{Dir: d, Groups: []string{"jira-software-users"},
				Exclude:  membership.Exclusions{Groups: []string{"jira-administrators"}},
				Interval: time.Nanosecond, Clock: clock, Log: quiet})
		}
	}
	members := view(e.dir, e.clock)
	pools := []keeper.Pool{{Name: "jira-software", LicenseGroups: []string{"jira-software-users"}, DefaultGroups: []string{"jira-software-users"}}}
	var err error
	e.k, err = keeper.New(keeper.Options{Pools: pools, Dir: e.dir, Members: members, Store: e.st, Audit: log, Immediate: true,
		GrantTimeout: time.Second, Floor: floor, Clock: e.clock, Log: quiet, Reg: prometheus.NewRegistry(), Observe: observe})
	if err != nil {
		t.Fatal(err)
	}
	e.r = mustNew(t, Options{
		Pools: []Pool{{Name: "jira-software", LicenseGroups: []string{"jira-software-users"}, Reserve: 2}},
		Store: e.st, Members: members, Keeper: e.k, Replica: "test", Interval: time.Minute, LockTTL: time.Minute,
		HeartbeatMaxAge: time.Minute, Floor: floor, Ceiling: 168 * time.Hour, MaxRevocations: 50, Observe: observe,
		Clock: e.clock, Log: quiet, Reg: prometheus.NewRegistry(),
	})
	return e
}

func mustNew(t *testing.T, opt Options) *Reaper {
	t.Helper()
	r, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestNewNeedsMembers: the view is shared, never built on the side.
func TestNewNeedsMembers(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrNoMembers) {
		t.Errorf("New without Members: got %v, want ErrNoMembers", err)
	}
}

func (e *env) activeAgo(t *testing.T, user string, d time.Duration) {
	if err := e.st.RecordActivity(t.Context(), []store.Activity{{User: user, At: e.now.Add(-d), Pools: []string{"jira-software"}}}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) licensed(t *testing.T) []string {
	ms, _ := e.dir.Members(t.Context(), "jira-software-users", false)
	sort.Strings(ms)
	return ms
}

func TestCeilingAndFloor(t *testing.T) {
	e := newEnv(t, 1000, false)            // plenty of seats: only the ceiling applies
	e.activeAgo(t, "u0", time.Hour)        // active
	e.activeAgo(t, "u1", 6*time.Hour)      // idle, within the ceiling
	e.activeAgo(t, "u2", 200*time.Hour)    // past the ceiling
	e.activeAgo(t, "admin", 300*time.Hour) // excluded
	// u3..u9 were never seen: idle since the observation start, 240 h.
	if err := e.r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{"admin", "u0", "u1"}
	if got := e.licensed(t); !eq(got, want) {
		t.Errorf("licensed after the run: got %v, want %v", got, want)
	}
	rep, _, _ := e.r.Report()
	if p := rep["jira-software"]; p.Excluded != 1 || p.Active != 1 || len(p.Revoked) != 8 {
		t.Errorf("report: %+v", p)
	}
}

func TestPressureFreesLongestIdleFirstDownToTheReserve(t *testing.T) {
	e := newEnv(t, 11, false) // 11 seats, 11 used: headroom 0, reserve 2
	for i, u := range []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"} {
		e.activeAgo(t, u, time.Duration(i+1)*time.Hour) // u9 the idlest, 10 h
	}
	e.activeAgo(t, "admin", 100*time.Hour)
	if err := e.r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := e.licensed(t)
	if len(got) != 9 || contains(got, "u9") || contains(got, "u8") || !contains(got, "admin") {
		t.Errorf("licensed: got %v, want u8 and u9 (longest idle) gone and nobody else", got)
	}
	if w := testutil.ToFloat64(e.r.window.WithLabelValues("jira-software")); w != (9 * time.Hour).Seconds() {
		t.Errorf("effective window: got %vs, want 9h (u8's idle)", w)
	}
	// The next run sees the revocations as pending and revokes nobody more.
	if err := e.r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.licensed(t); len(got) != 9 {
		t.Errorf("second run revoked again before the app noticed: %v", got)
	}
}

func TestNoHeartbeatNoRevocations(t *testing.T) {
	e := newEnv(t, 1000, false)
	e.mu.Lock()
	e.now = e.now.Add(time.Hour) // the last heartbeat is an hour old
	e.mu.Unlock()
	if err := e.r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.licensed(t); len(got) != 11 {
		t.Errorf("revoked without a proxy heartbeat: %v", got)
	}
}

func TestObserveRevokesNobody(t *testing.T) {
	e := newEnv(t, 1000, true)
	if err := e.r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.licensed(t); len(got) != 11 {
		t.Errorf("observe mode revoked: %v", got)
	}
}

func TestOneReaperAtATime(t *testing.T) {
	e := newEnv(t, 1000, false)
	other := mustNew(t, Options{Pools: e.r.opt.Pools, Store: e.st, Members: e.r.opt.Members, Keeper: e.k, Replica: "other",
		Interval: time.Minute, LockTTL: time.Minute, HeartbeatMaxAge: time.Minute, Floor: floor,
		Ceiling: 168 * time.Hour, MaxRevocations: 50, Clock: e.clock, Log: quiet, Reg: prometheus.NewRegistry()})
	if err := e.r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := other.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(other.runs.WithLabelValues("skipped")); got != 1 {
		t.Errorf("second replica: got %v skipped runs, want 1 (the lock is held)", got)
	}
}

// flaky fails every listing while fail is set.
type flaky struct {
	directory.Directory
	fail atomic.Bool
}

func (f *flaky) Members(ctx context.Context, group string, nested bool) ([]string, error) {
	if f.fail.Load() {
		return nil, fmt.Errorf("listing %s: %w", group, directory.ErrUnavailable)
	}
	return f.Directory.Members(ctx, group, nested)
}

// TestStaleMembershipBlocksRevocationsNotGrants: a failed refresh keeps
// the last good view; the reaper then revokes nobody, while a returning
// revoked user still gets the seat back.
func TestStaleMembershipBlocksRevocationsNotGrants(t *testing.T) {
	var f *flaky
	var view *membership.View
	e := newEnvWith(t, 1000, false, func(d directory.Directory, clock func() time.Time) *membership.View {
		f = &flaky{Directory: d}
		view = membership.New(membership.Options{Dir: f, Groups: []string{"jira-software-users"},
			Exclude:  membership.Exclusions{Groups: []string{"jira-administrators"}},
			Interval: 10 * time.Minute, Clock: clock, Log: quiet})
		return view
	})
	ctx := t.Context()
	e.activeAgo(t, "u0", time.Hour) // everyone else is past the ceiling
	if err := view.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	f.fail.Store(true)
	view.Invalidate() // the next run refreshes, and fails
	if err := e.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.licensed(t); len(got) != 11 {
		t.Errorf("revoked on a stale membership view: %v", got)
	}
	if rep, _, _ := e.r.Report(); rep["jira-software"].Skipped != SkippedStaleMembership || rep["jira-software"].Licensed != 11 {
		t.Errorf("report: %+v, want the pool judged on the last view and skipped as stale", rep["jira-software"])
	}
	f.fail.Store(false)
	if err := e.r.RunOnce(ctx); err != nil { // the failed refresh is retried at once
		t.Fatal(err)
	}
	if got := e.licensed(t); !eq(got, []string{"admin", "u0"}) {
		t.Fatalf("after recovery: licensed %v, want admin (excluded) and u0 (active), the idle revoked", got)
	}
	if view.IsMember("u2", "jira-software-users") {
		t.Error("the view still holds u2 after floatseat revoked it")
	}
	// Stale again: a returning user still gets the seat back.
	f.fail.Store(true)
	view.Invalidate()
	_ = e.r.RunOnce(ctx)
	if v := e.k.Ensure(ctx, identity.Identity{User: "u2"}, nil); !v.Granted {
		t.Errorf("grant on a stale view: %+v, want granted", v)
	}
	if !view.IsMember("u2", "jira-software-users") {
		t.Error("the grant is not reflected in the view at once")
	}
}

func eq(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
