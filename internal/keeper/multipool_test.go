package keeper

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
)

// multiPoolEnv: users revoked from both pools, Jira Software with room and
// JSM full. Which pool a grant tries first must not decide the outcome, so
// every test runs over several users.
func multiPoolEnv(t *testing.T, immediate bool) (*env, []string) {
	t.Helper()
	e := newEnv(t, 10, immediate)
	ctx := t.Context()
	var users []string
	for i := range 8 {
		u := fmt.Sprintf("agent%d", i)
		e.dir.AddUser(u, "pw")
		_ = e.dir.AddMember(ctx, u, "jira-software-users")
		_ = e.dir.AddMember(ctx, u, "jira-servicedesk-users")
		revoke(t, e, "jira-software", u)
		revoke(t, e, "jsm", u)
		users = append(users, u)
	}
	// A report taken after the revocations show (the directory sync
	// included): the app no longer counts the agents, and JSM is full.
	for pool, c := range map[string]store.LicenseCount{
		"jira-software": {Seats: 20, Used: 3},
		"jsm":           {Seats: 3, Used: 3},
	} {
		if err := e.st.SetLicense(ctx, pool, c, e.clock().Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	return e, users
}

// A claim that needs two pools, granted in the first and denied in the
// second, must not keep the first: the request is answered with the full
// page, so the app never confirms the claim. Every provisional grant it
// made is rolled back, audited with the pool that was full.
func TestDeniedMultiPoolClaimRollsBackItsPartialGrant(t *testing.T) {
	e, users := multiPoolEnv(t, true)
	ctx := t.Context()
	for _, u := range users {
		id := identity.Identity{User: u, Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin}
		v := e.k.Ensure(ctx, id, nil) // a login with no Need rules: every pool
		if !v.Deny || v.Pool != "jsm" || v.Ticket != 0 {
			t.Fatalf("%s: got %+v, want the JSM full page and no ticket", u, v)
		}
		if e.member(t, u, "jira-software-users") {
			t.Errorf("%s: the Software grant of a denied claim stands", u)
		}
		if got := e.k.IsRevoked(u); len(got["jira-software"].Groups) != 1 || len(got["jsm"].Groups) != 1 {
			t.Errorf("%s: revoked view after the denial: %+v, want both pools still revoked", u, got)
		}
		rec, ok, err := e.st.RevokedUser(ctx, "jira-software", u)
		if err != nil || !ok || len(rec.Groups) != 1 {
			t.Errorf("%s: Software record %+v %v %v, want it kept", u, rec, ok, err)
		}
	}
	if n := e.pending(t, "jira-software"); n != 0 {
		t.Errorf("pending Software grants after the denials: %d, want 0", n)
	}
	if ins, _ := e.st.Intents(ctx); len(ins) != 0 {
		t.Errorf("intents left: %+v", ins)
	}
	if e.k.Pending() != 0 {
		t.Errorf("provisional grants left: %d", e.k.Pending())
	}
	grants, rollbacks := map[string]bool{}, map[string]bool{}
	for _, a := range e.actions(t) {
		var act, u, pool, why string
		fmt.Sscan(a, &act, &u, &pool, &why)
		switch {
		case act == "grant" && pool == "jira-software":
			grants[u] = true
		case act == "rollback" && pool == "jira-software" && why == "denied-full:jsm":
			rollbacks[u] = true
		}
	}
	for u := range grants {
		if !rollbacks[u] {
			t.Errorf("%s: Software granted and not rolled back with reason denied-full:jsm; audit %q", u, e.actions(t))
		}
	}
}

// A confirmed identity (a session the app taught floatseat) keeps what it
// was given before a later pool was full: the app itself vouched for the
// user, and rolling back on every denied request would write the directory
// twice a request with no claim limit to bound it. But the seat it keeps
// is handled like any other: with a backend the app sees only at its next
// sync, the user's remember-me cookie is kept from the app meanwhile.
func TestDeniedMultiPoolReturnKeepsItsGrantAndItsCookieRule(t *testing.T) {
	e, users := multiPoolEnv(t, false) // Crowd/LDAP: visible at the next sync
	ctx := t.Context()
	e.k.opt.Need = func(r *http.Request) uint64 {
		if r.URL.Path == "/both" {
			return e.k.bits["jira-software"] | e.k.bits["jsm"]
		}
		return e.k.bits["jira-software"]
	}
	for _, u := range users {
		id := identity.Identity{User: u, Source: identity.SourceRememberMe, RememberMeCookie: identity.CookieJiraRememberMe}
		if v := e.k.Ensure(ctx, id, httptest.NewRequest(http.MethodGet, "/both", nil)); !v.Deny || v.Pool != "jsm" {
			t.Fatalf("%s: got %+v, want the JSM full page", u, v)
		}
		v := e.k.Ensure(ctx, id, httptest.NewRequest(http.MethodGet, "/board", nil))
		if !e.member(t, u, "jira-software-users") {
			t.Fatalf("%s: no Software seat after a Software request: %+v", u, v)
		}
		if !v.DropRememberMe {
			t.Errorf("%s: Software page before the sync: got %+v, want the remember-me cookie kept from the app", u, v)
		}
	}
}
