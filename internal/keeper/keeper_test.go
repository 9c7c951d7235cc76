package keeper

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/store/storetest"
	"github.com/floatseat/floatseat/proxy"
)

type env struct {
	k     *Keeper
	st    *store.Store
	dir   *appsim.InternalDirectory
	audit *audit.Log
	now   time.Time
	mu    sync.Mutex
}

func (e *env) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newKeeper is New for a test: without a membership view in opt it gives
// the keeper one over opt's pool groups, as app does, read in full
// whenever asked (tests change the directory between steps).
func newKeeper(t *testing.T, opt Options) *Keeper {
	t.Helper()
	if opt.Members == nil {
		var groups []string
		for _, p := range opt.Pools {
			groups = append(groups, p.LicenseGroups...)
			groups = append(groups, p.PoolGroups...)
		}
		opt.Members = membership.New(membership.Options{Dir: opt.Dir, Groups: groups,
			Interval: time.Nanosecond, Clock: opt.Clock, Log: quiet})
	}
	k, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestNewNeedsMembers: the view is shared, never built on the side.
func TestNewNeedsMembers(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrNoMembers) {
		t.Errorf("New without Members: got %v, want ErrNoMembers", err)
	}
}

func newEnv(t *testing.T, seats int, immediate bool) *env {
	t.Helper()
	st, _ := storetest.New(t, "floatseat:test")
	dir := appsim.NewInternalDirectory()
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		dir.AddUser(u, "pw-"+u)
	}
	dir.AddGroup("jira-software-users")
	dir.AddGroup("jira-servicedesk-users")
	dir.AddGroup("contractors")
	ctx := t.Context()
	for _, u := range []string{"alice", "bob", "carol"} {
		_ = dir.AddMember(ctx, u, "jira-software-users")
	}
	_ = dir.AddMember(ctx, "bob", "jira-servicedesk-users")
	_ = dir.AddMember(ctx, "dave", "contractors")
	e := &env{st: st, dir: dir, now: time.Now().Truncate(time.Millisecond)}
	e.audit = audit.New(st, quiet, 1000, "test", "enforce")
	e.k = newKeeper(t, Options{
		Pools: []Pool{
			{Name: "jira-software", LicenseGroups: []string{"jira-software-users"}, DefaultGroups: []string{"jira-software-users"}, PoolGroups: []string{"contractors"}},
			{Name: "jsm", LicenseGroups: []string{"jira-servicedesk-users"}, DefaultGroups: []string{"jira-servicedesk-users"}},
		},
		Dir: dir, Store: st, Audit: e.audit, Immediate: immediate, SyncInterval: time.Hour,
		GrantTimeout: 2 * time.Second, Floor: 5 * time.Hour, Clock: e.clock, Log: quiet, Reg: prometheus.NewRegistry(),
	})
	for _, p := range []string{"jira-software", "jsm"} {
		if err := st.SetLicense(ctx, p, store.LicenseCount{Seats: seats, Used: 3}, e.now); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) member(t *testing.T, user, group string) bool {
	ok, err := e.dir.IsMember(t.Context(), user, group, false)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (e *env) actions(t *testing.T) []string {
	evs, err := e.audit.Since(t.Context(), time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		s := ev.Action + " " + ev.User + " " + ev.Pool + " " + ev.Reason
		if ev.Error != "" {
			s += " error"
		}
		out = append(out, s)
	}
	return out
}

func equal(a, b []string) bool {
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

func revoke(t *testing.T, e *env, pool, user string) {
	t.Helper()
	if err := e.k.Revoke(t.Context(), RevokeRequest{Pool: pool, User: user, Reason: "ceiling", Trigger: "test"}); err != nil {
		t.Fatalf("revoke %s: %v", user, err)
	}
}

func TestFastPathCostsNothing(t *testing.T) {
	e := newEnv(t, 10, true)
	id := identity.Identity{User: "alice", Source: identity.SourceSession}
	if v := e.k.Ensure(t.Context(), id, nil); v != (proxyVerdictZero) {
		t.Fatalf("licensed user: got %+v, want nothing to do", v)
	}
	if n := testing.AllocsPerRun(1000, func() { e.k.Ensure(context.Background(), id, nil) }); n != 0 {
		t.Errorf("fast path: %v allocs, want 0", n)
	}
}

func TestRevokeThenReturnRestoresExactlyTheRemovedGroups(t *testing.T) {
	e := newEnv(t, 10, true)
	ctx := t.Context()
	revoke(t, e, "jsm", "bob")
	if e.member(t, "bob", "jira-servicedesk-users") {
		t.Fatal("bob still holds JSM after the revoke")
	}
	if !e.member(t, "bob", "jira-software-users") {
		t.Fatal("revoking JSM took Jira Software too")
	}
	v := e.k.Ensure(ctx, identity.Identity{User: "Bob", Source: identity.SourceSession}, nil)
	if !v.Granted || v.Deny || v.DropRememberMe {
		t.Fatalf("returning user: got %+v, want granted", v)
	}
	if !e.member(t, "bob", "jira-servicedesk-users") {
		t.Error("bob did not get JSM back")
	}
	if got := e.actions(t); !equal(got, []string{"revoke bob jsm ceiling", "grant bob jsm return"}) {
		t.Errorf("audit: got %q", got)
	}
	// Granted: back on the fast path.
	if v := e.k.Ensure(ctx, identity.Identity{User: "bob"}, nil); v.Granted {
		t.Error("a second request granted again")
	}
}

func TestNeverRevokesSomeoneActiveWithinTheFloor(t *testing.T) {
	e := newEnv(t, 10, true)
	if err := e.st.RecordActivity(t.Context(), []store.Activity{{User: "alice", At: e.now.Add(-4 * time.Hour), Pools: []string{"jira-software"}}}); err != nil {
		t.Fatal(err)
	}
	err := e.k.Revoke(t.Context(), RevokeRequest{Pool: "jira-software", User: "alice", Reason: "pressure"})
	if err == nil || !e.member(t, "alice", "jira-software-users") {
		t.Fatalf("got err %v, want a refusal and alice still licensed", err)
	}
}

func TestWrongPasswordRollsTheGrantBack(t *testing.T) {
	e := newEnv(t, 10, false)
	revoke(t, e, "jira-software", "carol")
	id := identity.Identity{User: "carol", Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin}
	v := e.k.Ensure(t.Context(), id, nil)
	if !v.Granted || !e.member(t, "carol", "jira-software-users") {
		t.Fatalf("login of a revoked user: got %+v, want the seat before forwarding", v)
	}
	if v.Ticket == 0 {
		t.Fatal("a grant for a login body came without a ticket")
	}
	e.k.Settle(id, v, proxy.Judgement{Why: proxy.WhyBadCredentials})
	if e.member(t, "carol", "jira-software-users") {
		t.Error("a wrong password left the seat behind")
	}
	if got := e.k.IsRevoked("carol"); len(got["jira-software"].Groups) != 1 {
		t.Errorf("revoked record after rollback: got %+v", got)
	}
	if got := e.actions(t); !equal(got, []string{"revoke carol jira-software ceiling", "grant carol jira-software login", "rollback carol jira-software bad-credentials"}) {
		t.Errorf("audit: got %q", got)
	}
	// The right password later works.
	v = e.k.Ensure(t.Context(), id, nil)
	e.k.Settle(id, v, proxy.Judgement{Confirmed: true})
	if !e.member(t, "carol", "jira-software-users") {
		t.Error("the retry with the right password got no seat")
	}
}

func TestFullPoolDenies(t *testing.T) {
	e := newEnv(t, 3, true) // 3 seats, 3 used by the app
	revoke(t, e, "jira-software", "alice")
	e.k.SetSeatless(map[string][]string{"dave": {"jira-software"}})
	// The app still counts alice until it reports again: no free seat
	// except alice's own, which she may take back.
	v := e.k.Ensure(t.Context(), identity.Identity{User: "dave", Source: identity.SourceSession}, nil)
	if !v.Deny || v.Pool != "jira-software" || v.RetryAfter <= 0 {
		t.Errorf("pool-group member on a full pool: got %+v, want a denial with Retry-After", v)
	}
	if e.member(t, "dave", "jira-software-users") {
		t.Error("dave got a seat past the licence")
	}
	// alice's own seat is still counted by the app: she may take it back.
	if v := e.k.Ensure(t.Context(), identity.Identity{User: "alice"}, nil); !v.Granted {
		t.Errorf("alice returning to her own uncounted seat: got %+v", v)
	}
}

// TestReturnAfterAReportThatCountedHerOutNeedsASeat: a report answered
// after alice's revocation started may already leave her out, although her
// revocation is still pending; dave takes the seat it shows free, and
// alice's return must then wait for a free seat, or the app would count 4
// of 3.
func TestReturnAfterAReportThatCountedHerOutNeedsASeat(t *testing.T) {
	e := newEnv(t, 3, true) // 3 seats, 3 used by the app
	revoke(t, e, "jira-software", "alice")
	if n := e.pendingRevocations(t); n != 1 {
		t.Fatalf("pending revocations after the revoke: %d, want 1", n)
	}
	e.advance(time.Second) // before the revocation's visible-at
	if err := e.st.SetLicense(t.Context(), "jira-software", store.LicenseCount{Seats: 3, Used: 2}, e.clock()); err != nil {
		t.Fatal(err)
	}
	e.k.SetSeatless(map[string][]string{"dave": {"jira-software"}})
	if v := e.k.Ensure(t.Context(), identity.Identity{User: "dave", Source: identity.SourceSession}, nil); !v.Granted {
		t.Fatalf("dave on the seat the report shows free: got %+v, want granted", v)
	}
	v := e.k.Ensure(t.Context(), identity.Identity{User: "alice", Source: identity.SourceSession}, nil)
	if v.Granted || !v.Deny {
		t.Errorf("alice returning to a pool the app counts full: got %+v, want a denial", v)
	}
	if e.member(t, "alice", "jira-software-users") {
		t.Error("alice got a seat past the licence")
	}
}

func TestPoolGroupMemberGetsDefaultGroups(t *testing.T) {
	e := newEnv(t, 10, true)
	e.k.refreshSeatless(t.Context()) // dave is in contractors, the pool group
	v := e.k.Ensure(t.Context(), identity.Identity{User: "dave", Source: identity.SourceSession}, nil)
	if !v.Granted || !e.member(t, "dave", "jira-software-users") {
		t.Errorf("got %+v; dave in jira-software-users: %v", v, e.member(t, "dave", "jira-software-users"))
	}
}

func TestConcurrentRequestsShareOneGrant(t *testing.T) {
	e := newEnv(t, 10, true)
	revoke(t, e, "jira-software", "alice")
	var wg sync.WaitGroup
	granted := make(chan bool, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := e.k.Ensure(context.Background(), identity.Identity{User: "alice", Source: identity.SourceSession}, nil)
			granted <- v.Granted
		}()
	}
	wg.Wait()
	close(granted)
	n := 0
	for g := range granted {
		if g {
			n++
		}
	}
	grants := 0
	for _, a := range e.actions(t) {
		if a == "grant alice jira-software return" {
			grants++
		}
	}
	if n != 1 || grants != 1 {
		t.Errorf("got %d requests owning a grant and %d grant events, want 1 and 1", n, grants)
	}
}

func TestRememberMeDroppedUntilTheAppCanSeeTheGrant(t *testing.T) {
	e := newEnv(t, 10, false) // LDAP/Crowd: visible at the next sync
	revoke(t, e, "jira-software", "alice")
	id := identity.Identity{User: "alice", Source: identity.SourceRememberMe, RememberMeCookie: identity.CookieJiraRememberMe}
	if v := e.k.Ensure(t.Context(), id, nil); !v.Granted || !v.DropRememberMe {
		t.Fatalf("remember-me return: got %+v, want granted and the cookie dropped", v)
	}
	if v := e.k.Ensure(t.Context(), id, nil); !v.DropRememberMe {
		t.Errorf("next request before the sync: got %+v, want the cookie still dropped", v)
	}
	e.advance(2 * time.Hour) // past the directory sync
	if v := e.k.Ensure(t.Context(), id, nil); v.DropRememberMe {
		t.Errorf("after the sync: got %+v, want the cookie forwarded", v)
	}
}

func TestReconcileCompletesACrashedRevoke(t *testing.T) {
	e := newEnv(t, 10, true)
	ctx := t.Context()
	// A crash after the intent, before the directory changed.
	in := store.Intent{Op: "revoke", User: "alice", Pool: "jira-software", Groups: []string{"jira-software-users"}, Reason: "ceiling", At: e.now}
	if err := e.st.RecordIntent(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := e.k.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if e.member(t, "alice", "jira-software-users") {
		t.Error("the interrupted revoke was not completed")
	}
	if ins, _ := e.st.Intents(ctx); len(ins) != 0 {
		t.Errorf("intents left: %+v", ins)
	}
	// She gets the right groups back on return.
	if v := e.k.Ensure(ctx, identity.Identity{User: "alice"}, nil); !v.Granted || !e.member(t, "alice", "jira-software-users") {
		t.Errorf("return after reconcile: %+v", v)
	}
	// A crashed revoke of someone active since is undone instead.
	_ = e.st.RecordIntent(ctx, store.Intent{Op: "revoke", User: "bob", Pool: "jsm", Groups: []string{"jira-servicedesk-users"}, At: e.now.Add(-time.Minute)})
	_ = e.dir.RemoveMember(ctx, "bob", "jira-servicedesk-users") // the directory change happened
	_ = e.st.RecordActivity(ctx, []store.Activity{{User: "bob", At: e.now, Pools: []string{"jsm"}}})
	if err := e.k.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if !e.member(t, "bob", "jira-servicedesk-users") {
		t.Error("bob, active since the intent, was left revoked")
	}
}

func TestReconcileDropsDrift(t *testing.T) {
	e := newEnv(t, 10, true)
	revoke(t, e, "jira-software", "alice")
	_ = e.dir.AddMember(t.Context(), "alice", "jira-software-users") // an admin, by hand
	if err := e.k.Reconcile(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := e.k.IsRevoked("alice"); len(got) != 0 {
		t.Errorf("revoked record kept for a user re-added by hand: %+v", got)
	}
	if err := e.k.Reconcile(t.Context(), nil); err != nil { // idempotent, no flapping
		t.Fatal(err)
	}
	if !e.member(t, "alice", "jira-software-users") {
		t.Error("reconcile took the hand-given seat away")
	}
}

func TestObserveChangesNothing(t *testing.T) {
	e := newEnv(t, 10, true)
	e.k.opt.Observe = true
	revoke(t, e, "jira-software", "alice")
	if !e.member(t, "alice", "jira-software-users") {
		t.Error("observe mode revoked")
	}
	if got := e.actions(t); len(got) != 1 || got[0] != "revoke alice jira-software ceiling" {
		t.Errorf("audit: got %q, want the decision recorded", got)
	}
}
