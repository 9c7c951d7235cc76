package keeper

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/proxy"
)

func (e *env) pending(t *testing.T, pool string) int {
	t.Helper()
	_, _, pending, _, _, err := e.st.PoolState(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	return pending
}

func (e *env) lastAudit(t *testing.T) string {
	t.Helper()
	a := e.actions(t)
	if len(a) == 0 {
		return ""
	}
	return a[len(a)-1]
}

// Every outcome but a confirmation takes a claim's grant back at once, for
// a revoked user and for a pool-group member, with the reason audited.
func TestUnconfirmedClaimsRollBack(t *testing.T) {
	whys := []string{proxy.WhyBadCredentials, proxy.WhyCaptcha, proxy.WhyNoLicence, proxy.WhyOtherUser,
		proxy.WhyAnonymous, "status-400", proxy.WhyClientGone, proxy.WhyUpstream}
	for _, why := range whys {
		for _, who := range []string{"carol", "dave"} { // revoked, pool-group member
			t.Run(why+"/"+who, func(t *testing.T) {
				e := newEnv(t, 10, false)
				if who == "carol" {
					revoke(t, e, "jira-software", "carol")
				} else {
					e.k.refreshSeatless(t.Context())
				}
				id := identity.Identity{User: who, Source: identity.SourceLoginBody, Route: identity.RouteRESTSession}
				v := e.k.Ensure(t.Context(), id, nil)
				if !v.Granted || v.Ticket == 0 || !e.member(t, who, "jira-software-users") {
					t.Fatalf("claim: got %+v, want a provisional grant", v)
				}
				e.k.Settle(id, v, proxy.Judgement{Why: why})
				if e.member(t, who, "jira-software-users") {
					t.Error("the unconfirmed grant was left behind")
				}
				if n := e.pending(t, "jira-software"); n != 0 {
					t.Errorf("pending grants after rollback: %d", n)
				}
				if got, want := e.lastAudit(t), "rollback "+who+" jira-software "+why; got != want {
					t.Errorf("audit: got %q, want %q", got, want)
				}
				if ins, _ := e.st.Intents(t.Context()); len(ins) != 0 {
					t.Errorf("intents left: %+v", ins)
				}
				// Still owed a seat: the next claim is granted again, and
				// a confirmation keeps it.
				v = e.k.Ensure(t.Context(), id, nil)
				if !v.Granted {
					t.Fatalf("after rollback: got %+v, want a new grant", v)
				}
				e.k.Settle(id, v, proxy.Judgement{Confirmed: true})
				if !e.member(t, who, "jira-software-users") {
					t.Error("a confirmed login lost its seat")
				}
				if e.k.npending.Load() != 0 {
					t.Error("a confirmed ticket is still pending")
				}
			})
		}
	}
}

func TestLearnedCredentialsAreNotClaims(t *testing.T) {
	e := newEnv(t, 10, true)
	revoke(t, e, "jira-software", "alice")
	id := identity.Identity{User: "alice", Source: identity.SourceSession}
	v := e.k.Ensure(t.Context(), id, nil)
	if !v.Granted || v.Ticket != 0 {
		t.Fatalf("a learned session's grant: got %+v, want granted with no ticket", v)
	}
	e.k.Settle(id, v, proxy.Judgement{Why: proxy.WhyClientGone}) // nothing to settle
	if !e.member(t, "alice", "jira-software-users") {
		t.Error("a learned session's grant was rolled back")
	}
}

func TestSSOGrantWaitsForARequestAsTheUser(t *testing.T) {
	e := newEnv(t, 10, true)
	revoke(t, e, "jira-software", "alice")
	revoke(t, e, "jira-software", "carol")
	saml := func(u string) (identity.Identity, proxy.Verdict) {
		id := identity.Identity{User: u, Source: identity.SourceLoginBody, Route: identity.RouteSAML}
		v := e.k.Ensure(t.Context(), id, nil)
		if v.Ticket == 0 {
			t.Fatalf("SAML claim for %s: no ticket", u)
		}
		e.k.Settle(id, v, proxy.Judgement{Await: true})
		return id, v
	}
	saml("alice")
	saml("carol")
	e.k.AnsweredAs("ALICE") // a later request the app answered as alice
	e.advance(3 * time.Minute)
	e.k.sweepTickets()
	if !e.member(t, "alice", "jira-software-users") {
		t.Error("alice, confirmed by a later request, lost the seat")
	}
	if e.member(t, "carol", "jira-software-users") {
		t.Error("carol, never seen within the wait, kept the seat")
	}
	if got := e.lastAudit(t); got != "rollback carol jira-software unconfirmed" {
		t.Errorf("audit: got %q", got)
	}
}

// A rollback interrupted after the groups were removed (the revoked record
// could not be written) is finished by Reconcile: the user is recorded as
// revoked again, not left with neither seat nor record.
func TestRollbackSurvivesAFailedRestore(t *testing.T) {
	e := newEnv(t, 10, true)
	revoke(t, e, "jira-software", "carol")
	fs := &flakyStore{Store: e.st, failRestore: 1}
	e.k.records = fs
	id := identity.Identity{User: "carol", Source: identity.SourceBasic}
	v := e.k.Ensure(t.Context(), id, nil)
	e.k.Settle(id, v, proxy.Judgement{Why: proxy.WhyBadCredentials})
	if e.member(t, "carol", "jira-software-users") {
		t.Fatal("groups not removed")
	}
	if got := e.lastAudit(t); got != "rollback carol jira-software bad-credentials error" {
		t.Errorf("audit: got %q, want the failure recorded", got)
	}
	if err := e.k.Reconcile(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := e.st.RevokedUser(t.Context(), "jira-software", "carol")
	if err != nil || !ok || len(rec.Groups) != 1 {
		t.Fatalf("after reconcile: record %+v %v %v, want carol recorded as revoked", rec, ok, err)
	}
	if ins, _ := e.st.Intents(t.Context()); len(ins) != 0 {
		t.Errorf("intents left: %+v", ins)
	}
	// and she gets her seat back with the right password.
	v = e.k.Ensure(t.Context(), id, nil)
	e.k.Settle(id, v, proxy.Judgement{Confirmed: true})
	if !e.member(t, "carol", "jira-software-users") {
		t.Error("no seat after reconcile")
	}
}

// flakyStore fails RestoreRevoked, CompleteGrant and CompleteRevoke a
// number of times each.
type flakyStore struct {
	*store.Store
	failRestore int
	failGrant   int
	failRevoke  int
}

func (f *flakyStore) CompleteRevoke(ctx context.Context, pool, user string, r store.Revoked) error {
	if f.failRevoke > 0 {
		f.failRevoke--
		return errors.New("injected: redis write failed")
	}
	return f.Store.CompleteRevoke(ctx, pool, user, r)
}

func (f *flakyStore) CompleteGrant(ctx context.Context, pool, user string) error {
	if f.failGrant > 0 {
		f.failGrant--
		return errors.New("injected: redis write failed")
	}
	return f.Store.CompleteGrant(ctx, pool, user)
}

func (f *flakyStore) RestoreRevoked(ctx context.Context, pool, user string, r store.Revoked) error {
	if f.failRestore > 0 {
		f.failRestore--
		return errors.New("injected: redis write failed")
	}
	return f.Store.RestoreRevoked(ctx, pool, user, r)
}

// The requests as the user that confirm an SSO grant may go through
// another replica: activity recorded for the user since the grant (shared
// in Redis) confirms it at the sweep; activity from before does not.
func TestSSOGrantConfirmedByActivityOnAnotherReplica(t *testing.T) {
	e := newEnv(t, 10, true)
	revoke(t, e, "jira-software", "alice")
	revoke(t, e, "jira-software", "carol")
	ctx := t.Context()
	if err := e.st.RecordActivity(ctx, []store.Activity{{User: "carol", At: e.clock().Add(-time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "carol"} {
		id := identity.Identity{User: u, Source: identity.SourceHint, Route: identity.RouteOIDC}
		v := e.k.Ensure(ctx, id, nil)
		if v.Ticket == 0 {
			t.Fatalf("hint claim for %s: no ticket", u)
		}
		e.k.Settle(id, v, proxy.Judgement{Await: true})
	}
	e.advance(time.Second)
	if err := e.st.RecordActivity(ctx, []store.Activity{{User: "alice", At: e.clock()}}); err != nil {
		t.Fatal(err)
	}
	e.advance(3 * time.Minute)
	e.k.sweepTickets()
	if !e.member(t, "alice", "jira-software-users") {
		t.Error("alice, seen by another replica after the grant, lost the seat")
	}
	if e.member(t, "carol", "jira-software-users") {
		t.Error("carol, seen only before the grant, kept the seat")
	}
	if e.k.Pending() != 0 {
		t.Errorf("pending after the sweep: %d", e.k.Pending())
	}
}

// A live session of a revoked user (Crowd/LDAP) is handled like the
// remember-me cookie: until the app can see the grant, the session cookie
// is dropped so the app asks for a login; a password or SSO login (which
// re-reads groups) ends that; with the app's REST backend nothing is dropped.
func TestLiveSessionDroppedUntilTheAppCanSeeTheGrant(t *testing.T) {
	e := newEnv(t, 10, false)
	revoke(t, e, "jira-software", "alice")
	ctx := t.Context()
	live := identity.Identity{User: "alice", Source: identity.SourceSession, Creds: identity.Credentials{Session: "s1"}}
	if v := e.k.Ensure(ctx, live, nil); !v.Granted || !v.DropSession {
		t.Fatalf("live-session click: got %+v, want granted and the session dropped", v)
	}
	if v := e.k.Ensure(ctx, live, nil); !v.DropSession {
		t.Errorf("next click before any login: got %+v, want the session still dropped", v)
	}
	for _, login := range []identity.Identity{
		{User: "alice", Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin},
		{User: "alice", Route: identity.RouteOIDC}, // an SSO login floatseat could not name
	} {
		e.k.Settle(login, proxy.Verdict{}, proxy.Judgement{Confirmed: login.Route == identity.RouteJiraLogin, Await: login.Route == identity.RouteOIDC})
		newSession := identity.Identity{User: "alice", Source: identity.SourceSession, Creds: identity.Credentials{Session: "s2"}}
		if v := e.k.Ensure(ctx, newSession, nil); v.DropSession {
			t.Errorf("after a %s login: got %+v, want the session forwarded", login.Route, v)
		}
		revoke(t, e, "jira-software", "alice")
		if v := e.k.Ensure(ctx, live, nil); !v.DropSession {
			t.Fatalf("revoked again: %+v", v)
		}
	}
	e.advance(2 * time.Hour) // past the directory sync
	if v := e.k.Ensure(ctx, live, nil); v.DropSession {
		t.Errorf("after the sync: got %+v, want the session forwarded", v)
	}

	rest := newEnv(t, 10, true)
	revoke(t, rest, "jira-software", "alice")
	if v := rest.k.Ensure(ctx, live, nil); !v.Granted || v.DropSession {
		t.Errorf("app REST backend: got %+v, want granted with the session forwarded", v)
	}
}

// app.end_sessions: every revocation also ends the user's sessions; a
// failure there is counted and logged, and the revocation stands.
func TestRevocationEndsSessionsWhenAsked(t *testing.T) {
	e := newEnv(t, 10, false)
	var ended []string
	fail := false
	e.k.opt.EndSessions = func(_ context.Context, u string) error {
		ended = append(ended, u)
		if fail {
			return errors.New("503 from the app")
		}
		return nil
	}
	revoke(t, e, "jira-software", "alice")
	fail = true
	revoke(t, e, "jira-software", "bob")
	if len(ended) != 2 || ended[0] != "alice" || ended[1] != "bob" {
		t.Errorf("sessions ended for %v, want alice and bob", ended)
	}
	if e.member(t, "bob", "jira-software-users") {
		t.Error("a failure to end sessions undid the revocation")
	}
}

// A revoked user's mistyped password in a full pool: the grant gave back
// a seat the app still counts (the revocation was not visible yet), so
// the rollback makes the revocation pending again, and the retry with the
// right password is granted back as the first try was. Before, the
// rollback left the seat counted as neither freed nor held: the reaper
// would revoke someone else for it, and the retry met a full pool.
func TestRolledBackReturnInAFullPoolIsGrantedOnRetry(t *testing.T) {
	for _, immediate := range []bool{true, false} {
		t.Run(map[bool]string{true: "app REST", false: "directory sync"}[immediate], func(t *testing.T) {
			e := newEnv(t, 3, immediate) // 3 seats, 3 used: full
			revoked := e.clock()
			revoke(t, e, "jira-software", "carol")
			if n := e.pendingRevocations(t); n != 1 {
				t.Fatalf("pending revocations after the revoke: %d, want 1", n)
			}
			id := identity.Identity{User: "carol", Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin}
			try := func(t *testing.T, j proxy.Judgement) {
				t.Helper()
				v := e.k.Ensure(t.Context(), id, nil)
				if !v.Granted || v.Deny || v.Ticket == 0 {
					t.Fatalf("login: got %+v, want a provisional grant", v)
				}
				e.k.Settle(id, v, j)
			}
			e.advance(time.Second)
			try(t, proxy.Judgement{Why: proxy.WhyBadCredentials})
			if n := e.pendingRevocations(t); n != 1 {
				t.Errorf("pending revocations after the rollback: got %d, want 1", n)
			}
			if n := e.pending(t, "jira-software"); n != 0 {
				t.Errorf("pending grants after the rollback: got %d, want 0", n)
			}
			// Pending until the app can see the groups removed again,
			// which is later than the first revocation's visible-at. By
			// then the app counts carol out (2 used): a report answered
			// after her revocation started gives her seat back only if
			// one is free, since it cannot tell her seat from another's.
			report := func(at time.Time) {
				t.Helper()
				if err := e.st.SetLicense(t.Context(), "jira-software", store.LicenseCount{Seats: 3, Used: 2}, at); err != nil {
					t.Fatal(err)
				}
			}
			report(e.k.removalVisibleAt(revoked))
			if n := e.pendingRevocations(t); n != 1 {
				t.Errorf("pending revocations after a report at the revocation's visible-at: got %d, want 1", n)
			}
			try(t, proxy.Judgement{Confirmed: true})
			if !e.member(t, "carol", "jira-software-users") {
				t.Error("carol has no seat after the confirmed retry")
			}
			if n := e.pendingRevocations(t); n != 0 {
				t.Errorf("pending revocations after her confirmed return: got %d, want 0", n)
			}
		})
	}
}
