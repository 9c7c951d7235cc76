package keeper

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/proxy"
)

// otherReplica is a second keeper on e's store and directory, primed
// before anything happens and never running: every event of the first
// keeper is lost on it, as in the milliseconds before pub/sub delivers.
func (e *env) otherReplica(t *testing.T) *Keeper {
	t.Helper()
	k := newKeeper(t, Options{
		Pools: e.k.opt.Pools, Dir: e.dir, Store: e.st, Audit: e.audit, Immediate: e.k.opt.Immediate,
		SyncInterval: time.Hour, GrantTimeout: 2 * time.Second, Floor: 5 * time.Hour, Clock: e.clock, Log: quiet,
		Reg: prometheus.NewRegistry(),
	})
	k.Prime(t.Context())
	return k
}

// countingReader counts the reads of single revoked records (with or
// without the revocation under way) and can fail them.
type countingReader struct {
	RevokedReader
	reads atomic.Int64
	fail  bool
}

func (c *countingReader) RevokedUser(ctx context.Context, pool, user string) (store.Revoked, bool, error) {
	c.reads.Add(1)
	if c.fail {
		return store.Revoked{}, false, errors.New("injected: redis down")
	}
	return c.RevokedReader.RevokedUser(ctx, pool, user)
}

func (c *countingReader) RevokedOrRevoking(ctx context.Context, pool, user string) (store.Revoked, bool, bool, error) {
	c.reads.Add(1)
	if c.fail {
		return store.Revoked{}, false, false, errors.New("injected: redis down")
	}
	return c.RevokedReader.RevokedOrRevoking(ctx, pool, user)
}

// A login on replica B right after replica A revoked the user, before B
// heard of it: B reads the user's record from Redis and grants before the
// login is forwarded, or the app would refuse it.
func TestLoginOnAnotherReplicaRightAfterARevokeIsGranted(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   identity.Identity
	}{
		{"password login", identity.Identity{User: "carol", Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin}},
		{"REST login", identity.Identity{User: "Carol", Source: identity.SourceLoginBody, Route: identity.RouteRESTSession}},
		{"SAML", identity.Identity{User: "carol", Source: identity.SourceLoginBody, Route: identity.RouteSAML}},
		{"seat page", identity.Identity{User: "carol", Source: identity.SourceSeatPage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 10, true)
			b := e.otherReplica(t)
			revoke(t, e, "jira-software", "carol") // on replica A
			if got := b.IsRevoked("carol"); len(got) != 0 {
				t.Fatalf("replica B heard of the revoke: %+v; the test needs it not to", got)
			}
			v := b.Ensure(t.Context(), tc.id, nil)
			if !v.Granted || v.Ticket == 0 {
				t.Fatalf("login on replica B: got %+v, want a provisional grant before forwarding", v)
			}
			if !e.member(t, "carol", "jira-software-users") {
				t.Error("carol not given her group back before the login")
			}
			if _, ok, _ := e.st.RevokedUser(t.Context(), "jira-software", "carol"); ok {
				t.Error("the revoked record stayed after the grant")
			}
		})
	}
}

// A JSM-only agent revoked on replica A logs in on replica B: the login
// needs the main pool, which the agent never held, so only the record
// read from Redis tells B that the agent holds no seat at all.
func TestLoginOfARevokedAgentOnAnotherReplicaIsGranted(t *testing.T) {
	e := newEnv(t, 10, true)
	e.dir.AddUser("erin", "pw-erin")
	_ = e.dir.AddMember(t.Context(), "erin", "jira-servicedesk-users")
	b := e.otherReplica(t)
	b.opt.Need = func(*http.Request) uint64 { return b.bits["jira-software"] }
	revoke(t, e, "jsm", "erin")
	id := identity.Identity{User: "erin", Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin}
	if v := b.Ensure(t.Context(), id, httptest.NewRequest(http.MethodPost, "/login.jsp", nil)); !v.Granted {
		t.Fatalf("agent login on replica B: got %+v, want the agent seat back", v)
	}
	if !e.member(t, "erin", "jira-servicedesk-users") {
		t.Error("erin not given JSM back")
	}
}

// Only logins pay the read, and a Redis that cannot answer leaves the
// login forwarded as before (the app decides).
func TestLateViewReadIsForLoginsAndFailsOpen(t *testing.T) {
	e := newEnv(t, 10, true)
	b := e.otherReplica(t)
	cr := &countingReader{RevokedReader: b.reader}
	b.reader = cr
	revoke(t, e, "jira-software", "carol")
	for _, id := range []identity.Identity{
		{User: "carol", Source: identity.SourceSession},
		{User: "carol", Source: identity.SourceBasic},
		{User: "carol", Source: identity.SourceBearer},
	} {
		if v := b.Ensure(t.Context(), id, nil); v != (proxyVerdictZero) {
			t.Errorf("%s request: got %+v, want nothing done", id.Source, v)
		}
	}
	if n := cr.reads.Load(); n != 0 {
		t.Errorf("requests that are not logins read Redis %d times, want 0", n)
	}
	cr.fail = true
	login := identity.Identity{User: "carol", Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin}
	if v := b.Ensure(t.Context(), login, nil); v != (proxyVerdictZero) {
		t.Errorf("login with Redis down: got %+v, want it forwarded unchanged", v)
	}
	if cr.reads.Load() != 1 {
		t.Errorf("reads with Redis down: %d, want 1 (stop at the first error)", cr.reads.Load())
	}
}

// A replica whose view is behind a grant made on another replica (the
// grant's event not heard yet) sees the user holding the groups while its
// view still names a record: reconcile asks Redis before it repairs
// anything, and a grant that already dropped the record is no drift to
// audit or complete. Before, it audited a second grant, reason drift.
func TestReconcileBehindAGrantOnAnotherReplicaAuditsNoDrift(t *testing.T) {
	e := newEnv(t, 10, true)
	b := e.otherReplica(t)
	revoke(t, e, "jira-software", "carol") // on replica A
	id := identity.Identity{User: "carol", Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin}
	v := b.Ensure(t.Context(), id, nil)
	if !v.Granted {
		t.Fatalf("login on replica B: got %+v, want granted", v)
	}
	b.Settle(id, v, proxy.Judgement{Confirmed: true})
	if got := e.k.IsRevoked("carol"); len(got) == 0 {
		t.Fatal("replica A heard of the grant; the test needs it not to")
	}
	reconcile(t, e) // on replica A
	want := []string{"revoke carol jira-software ceiling", "grant carol jira-software login"}
	if got := e.actions(t); !equal(got, want) {
		t.Errorf("audit: got %q, want %q", got, want)
	}
	if got := e.k.IsRevoked("carol"); len(got) != 0 {
		t.Errorf("replica A's view after reconcile: %+v, want carol forgotten", got)
	}
}
