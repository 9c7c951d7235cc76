package reaper

import (
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/proxy"
)

// A revoked user whose login is granted back and then rolled back (a
// mistyped password) is revoked again exactly as before: the app's last
// report still counts the seat, so it is still a pending revocation, and
// the next run revokes nobody more. Before, the rollback dropped the
// pending revocation the grant had cancelled, the reaper saw one seat
// fewer on its way to being free, and revoked one more idle user.
func TestRolledBackReturnRevokesNobodyMore(t *testing.T) {
	e := newEnv(t, 11, false) // 11 seats, 11 used: headroom 0, reserve 2
	for i, u := range []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"} {
		e.activeAgo(t, u, time.Duration(i+1)*time.Hour) // u9 the idlest, 10 h
	}
	e.activeAgo(t, "admin", 100*time.Hour)
	ctx := t.Context()
	if err := e.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.licensed(t); len(got) != 9 || contains(got, "u9") || contains(got, "u8") {
		t.Fatalf("licensed after the first run: %v, want u8 and u9 revoked", got)
	}
	pending := func() int {
		t.Helper()
		n, err := e.st.PendingRevocations(ctx, "jira-software")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := pending(); n != 2 {
		t.Fatalf("pending revocations after the run: %d, want 2", n)
	}
	// u9 comes back with a wrong password before the app saw the revocation.
	id := identity.Identity{User: "u9", Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin}
	v := e.k.Ensure(ctx, id, nil)
	if !v.Granted || v.Ticket == 0 {
		t.Fatalf("u9's login: got %+v, want a provisional grant", v)
	}
	if n := pending(); n != 1 {
		t.Fatalf("pending revocations while u9's grant awaits the app: %d, want 1 (u8)", n)
	}
	e.k.Settle(id, v, proxy.Judgement{Why: proxy.WhyBadCredentials})
	if got := e.licensed(t); contains(got, "u9") {
		t.Fatalf("u9's unconfirmed grant was kept: %v", got)
	}
	if n := pending(); n != 2 {
		t.Errorf("pending revocations after the rollback: got %d, want 2 (u8, and u9 again)", n)
	}
	if err := e.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.licensed(t); len(got) != 9 {
		t.Errorf("licensed after the next run: got %v, want the same 9 (nobody more revoked)", got)
	}
}
