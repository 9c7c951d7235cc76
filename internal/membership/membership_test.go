package membership

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
)

// fakeDir serves group members and counts the calls; fail makes every call
// fail, during (if set) runs inside a call.
type fakeDir struct {
	mu     sync.Mutex
	groups map[string][]string
	calls  int
	fail   error
	during func()
}

func (d *fakeDir) Members(_ context.Context, group string, _ bool) ([]string, error) {
	d.mu.Lock()
	d.calls++
	during, fail := d.during, d.fail
	ms, ok := d.groups[group]
	ms = append([]string(nil), ms...)
	d.mu.Unlock()
	if during != nil {
		during()
	}
	if fail != nil {
		return nil, fail
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w", group, directory.ErrGroupNotFound)
	}
	return ms, nil
}

func (d *fakeDir) set(f func(d *fakeDir)) { d.mu.Lock(); f(d); d.mu.Unlock() }

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newView(d *fakeDir, c *clock) *View {
	return New(Options{Dir: d, Groups: []string{"jira-software-users", "missing-group"},
		Exclude:  Exclusions{Groups: []string{"jira-administrators"}, Users: []string{"Bot"}, ServiceAccount: "svc"},
		Interval: 10 * time.Minute, Clock: c.Now})
}

func TestMembersOfNormalisesAndSkipsUnknownGroups(t *testing.T) {
	d := &fakeDir{groups: map[string][]string{"a": {"Alice", "bob"}, "b": {"ALICE", "carol"}}}
	got, err := MembersOf(t.Context(), d, []string{"a", "no-such", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got["alice"] || !got["bob"] || !got["carol"] {
		t.Errorf("got %v, want alice, bob, carol", got)
	}
	d.set(func(d *fakeDir) { d.fail = directory.ErrUnavailable })
	if _, err := MembersOf(t.Context(), d, []string{"a"}); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("a failing directory: got %v, want ErrUnavailable", err)
	}
}

func TestRefreshIntervalHonoured(t *testing.T) {
	d := &fakeDir{groups: map[string][]string{"jira-software-users": {"alice"}, "jira-administrators": {"root"}}}
	c := &clock{now: time.Unix(1_000_000, 0)}
	v := newView(d, c)
	ctx := t.Context()
	if err := v.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first := d.calls
	if first != 3 { // three groups, one listing each
		t.Fatalf("first refresh: %d directory calls, want 3", first)
	}
	d.set(func(d *fakeDir) { d.groups["jira-software-users"] = []string{"alice", "bob"} })
	for i := 0; i < 9; i++ {
		c.advance(time.Minute)
		if err := v.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d.calls != first {
		t.Errorf("within the interval: %d directory calls, want none", d.calls-first)
	}
	if v.IsMember("bob", "jira-software-users") {
		t.Error("an outside change showed before the refresh was due")
	}
	c.advance(time.Minute) // 10 minutes since the last refresh
	if err := v.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if d.calls != 2*first || !v.IsMember("bob", "jira-software-users") {
		t.Errorf("after the interval: %d calls, bob member %v; want a full refresh that sees bob", d.calls-first, v.IsMember("bob", "jira-software-users"))
	}
}

func TestOwnWritesReflectedAtOnce(t *testing.T) {
	d := &fakeDir{groups: map[string][]string{"jira-software-users": {"alice", "bob"}}}
	c := &clock{now: time.Unix(1_000_000, 0)}
	v := newView(d, c)
	if err := v.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	calls := d.calls
	v.Removed("Alice", "jira-software-users")
	v.Added("carol", "jira-software-users")
	v.Added("dave", "unwatched-group")
	m, _ := v.Members("jira-software-users")
	if len(m) != 2 || !m["bob"] || !m["carol"] {
		t.Errorf("after own writes: got %v, want bob and carol", m)
	}
	if m, _ := v.Members("unwatched-group"); len(m) != 0 {
		t.Errorf("an unwatched group is tracked: %v", m)
	}
	if d.calls != calls {
		t.Errorf("own writes cost %d directory calls, want 0", d.calls-calls)
	}
}

// A write made while a refresh is in flight survives the refresh's older
// snapshot.
func TestWriteDuringRefreshSurvives(t *testing.T) {
	d := &fakeDir{groups: map[string][]string{"jira-software-users": {"alice", "bob"}}}
	c := &clock{now: time.Unix(1_000_000, 0)}
	v := newView(d, c)
	var once sync.Once
	d.during = func() {
		once.Do(func() { v.Removed("alice", "jira-software-users") }) // revoked while the listing runs
	}
	if err := v.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v.IsMember("alice", "jira-software-users") {
		t.Error("a revocation made during the refresh was undone by its snapshot")
	}
}

func TestFailedRefreshKeepsLastViewAndIsNotFresh(t *testing.T) {
	d := &fakeDir{groups: map[string][]string{"jira-software-users": {"alice"}, "jira-administrators": {"root"}}}
	c := &clock{now: time.Unix(1_000_000, 0)}
	v := newView(d, c)
	ctx := t.Context()
	if !errors.Is(func() error { d.set(func(d *fakeDir) { d.fail = directory.ErrUnavailable }); return v.Ensure(ctx) }(), directory.ErrUnavailable) {
		t.Fatal("a failing first refresh must fail")
	}
	if _, ok := v.Members(); ok || v.Fresh() {
		t.Fatal("a view never read must not be loaded or fresh")
	}
	d.set(func(d *fakeDir) { d.fail = nil })
	if err := v.Ensure(ctx); err != nil || !v.Fresh() {
		t.Fatalf("refresh: %v, fresh %v", err, v.Fresh())
	}
	c.advance(11 * time.Minute)
	d.set(func(d *fakeDir) { d.fail = directory.ErrUnavailable })
	if err := v.Ensure(ctx); err == nil {
		t.Fatal("want the failure reported")
	}
	if v.Fresh() {
		t.Error("fresh after a failed refresh: revocations would rely on it")
	}
	if !v.IsMember("alice", "jira-software-users") {
		t.Error("the last good view was dropped")
	}
	// A failed refresh is retried at once, and a success makes it fresh.
	d.set(func(d *fakeDir) { d.fail = nil })
	if err := v.Ensure(ctx); err != nil || !v.Fresh() {
		t.Errorf("after recovery: %v, fresh %v", err, v.Fresh())
	}
}

func TestExcludedIsOneSet(t *testing.T) {
	d := &fakeDir{groups: map[string][]string{"jira-software-users": {"alice"}, "jira-administrators": {"Root"}}}
	v := newView(d, &clock{now: time.Unix(1_000_000, 0)})
	if err := v.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	ex := v.Excluded()
	if len(ex) != 3 || !ex["root"] || !ex["bot"] || !ex["svc"] {
		t.Errorf("excluded: got %v, want root (group), bot (exclude.users), svc (the service account)", ex)
	}
}

// TestRefreshListsGroupsConcurrentlyWithinTheBound: a refresh runs up to
// Concurrency listings at once, never more.
func TestRefreshListsGroupsConcurrentlyWithinTheBound(t *testing.T) {
	groups := map[string][]string{}
	var names []string
	for i := 0; i < 6; i++ {
		g := fmt.Sprintf("g%d", i)
		groups[g], names = []string{"u" + g}, append(names, g)
	}
	var inflight, peak, finished atomic.Int32
	d := &fakeDir{groups: groups}
	d.during = func() {
		n := inflight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		deadline := time.Now().Add(2 * time.Second)
		for inflight.Load() < 2 && finished.Load() < 5 && time.Now().Before(deadline) {
			runtime.Gosched() // wait for a second listing to start (unless this is the last)
		}
		inflight.Add(-1)
		finished.Add(1)
	}
	v := New(Options{Dir: d, Groups: names, Concurrency: 2})
	if err := v.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak concurrent listings: %d, want 2 (the bound)", p)
	}
	if m, _ := v.Members(names...); len(m) != 6 {
		t.Errorf("members: %v", m)
	}
}

// Count counts a user once across groups, from the last good view when a
// refresh fails, and fails only with no view at all.
func TestCountIsDistinctAndSurvivesAFailedRefresh(t *testing.T) {
	d := &fakeDir{groups: map[string][]string{"jira-software-users": {"alice", "bob"}, "jira-administrators": {"bob", "root"}}}
	c := &clock{now: time.Unix(1_000_000, 0)}
	v := New(Options{Dir: d, Groups: []string{"jira-software-users", "jira-administrators"}, Interval: 10 * time.Minute, Clock: c.Now})
	ctx := t.Context()
	d.set(func(d *fakeDir) { d.fail = directory.ErrUnavailable })
	if _, err := v.Count(ctx, "jira-software-users"); !errors.Is(err, directory.ErrUnavailable) {
		t.Fatalf("no view yet: %v, want the directory's error", err)
	}
	d.set(func(d *fakeDir) { d.fail = nil })
	if n, err := v.Count(ctx, "jira-software-users", "jira-administrators"); err != nil || n != 3 {
		t.Fatalf("count %d %v, want 3 distinct users", n, err)
	}
	c.advance(11 * time.Minute)
	d.set(func(d *fakeDir) { d.fail = directory.ErrUnavailable })
	if n, err := v.Count(ctx, "jira-software-users"); err != nil || n != 2 {
		t.Errorf("after a failed refresh: %d %v, want 2 from the last good view", n, err)
	}
}
