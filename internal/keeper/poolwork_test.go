package keeper

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/poolwork"
)

// TestGrantOnlyWhatTheRequestNeeds: a user revoked from both pools gets
// Software back on a board and the agent seat only on a queue; a user who
// lost only the agent seat keeps browsing without a grant; an agent whose
// only seat was JSM gets it back on any request (the app would refuse a
// user with no seat at all).
func TestGrantOnlyWhatTheRequestNeeds(t *testing.T) {
	e := newEnv(t, 10, true)
	ctx := t.Context()
	rules, err := poolwork.New([]poolwork.Pool{{Name: "jira-software"}, {Name: "jsm", Paths: poolwork.JSMPaths()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.k.opt.Need = func(r *http.Request) uint64 { return rules.Need(r.Method, r.URL.Path) }
	revoke(t, e, "jira-software", "bob")
	revoke(t, e, "jsm", "bob")
	bob := identity.Identity{User: "bob", Source: identity.SourceSession}
	if v := e.k.Ensure(ctx, bob, httptest.NewRequest("GET", "/secure/RapidBoard.jspa", nil)); !v.Granted {
		t.Fatalf("board: %+v, want the Software seat back", v)
	}
	if !e.member(t, "bob", "jira-software-users") || e.member(t, "bob", "jira-servicedesk-users") {
		t.Fatal("a board gave back more (or less) than the Software seat")
	}
	if v := e.k.Ensure(ctx, bob, httptest.NewRequest("GET", "/browse/FS-1", nil)); v.Granted {
		t.Errorf("another Software page granted again: %+v", v)
	}
	if v := e.k.Ensure(ctx, bob, httptest.NewRequest("GET", "/projects/SD/queues/custom/1", nil)); !v.Granted || !e.member(t, "bob", "jira-servicedesk-users") {
		t.Errorf("queue: %+v, want the agent seat back before forwarding", v)
	}

	// Only the agent seat taken, Software held: nothing to give on a board.
	revoke(t, e, "jsm", "bob")
	if v := e.k.Ensure(ctx, bob, httptest.NewRequest("GET", "/login.jsp", nil)); v.Granted || e.member(t, "bob", "jira-servicedesk-users") {
		t.Errorf("a login of a Software user gave the agent seat back: %+v", v)
	}

	// An agent whose only licence was JSM: any request brings it back.
	_ = e.dir.AddMember(ctx, "dave", "jira-servicedesk-users")
	revoke(t, e, "jsm", "dave")
	dave := identity.Identity{User: "dave", Source: identity.SourceSession}
	if v := e.k.Ensure(ctx, dave, httptest.NewRequest("GET", "/secure/Dashboard.jspa", nil)); !v.Granted || !e.member(t, "dave", "jira-servicedesk-users") {
		t.Errorf("JSM-only agent on the dashboard: %+v, want the agent seat back (no other seat to work with)", v)
	}
}
