package app

// End-to-end ways in beyond the password form: tokens, SSO and live
// sessions, through nginx → floatseat → the simulator (e2e_test.go's
// world).

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store/storetest"
)

// A script's PAT idle past the ceiling (7 days) is revoked; its next call,
// 8 days on, is granted before it is forwarded and succeeds at once. The
// app refuses unlicensed token calls here, so only a grant made before
// forwarding can make that one call work.
func TestE2EPATReturnsAfterEightDays(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"bot"}, rest: true, unlicensed: true, maxIdle: 7 * 24 * time.Hour})
	token := w.sim.CreatePAT("bot", "nightly")
	call := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, w.base+"/rest/api/2/issue/FS-1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := call(); resp.StatusCode != 200 || resp.Header.Get("X-Ausername") != "bot" {
		t.Fatalf("first call: %d as %q", resp.StatusCode, resp.Header.Get("X-Ausername"))
	}
	// The learned mapping outlives the ceiling in Redis.
	a := w.apps[0]
	key := a.store.Key("ident", a.who.hasher.Key(identity.KindBearer, token).String())
	rdb := storetest.Inspect(t, w.redis.Addr)
	eventually(t, "the token's mapping shared", func() bool {
		ttl, err := rdb.PTTL(t.Context(), key)
		return err == nil && ttl > 7*24*time.Hour
	})
	w.advance(8 * 24 * time.Hour)
	if w.licensed("bot", "jira-software-users") {
		t.Fatal("the idle token's user kept the seat past max_idle")
	}
	if resp := call(); resp.StatusCode != 200 || resp.Header.Get("X-Ausername") != "bot" {
		t.Errorf("the one call after 8 days: %d as %q, want 200 as bot", resp.StatusCode, resp.Header.Get("X-Ausername"))
	}
	if !w.licensed("bot", "jira-software-users") {
		t.Error("the call did not give the seat back")
	}
}

// ssoWorld is a world whose app logs users in through SSO for Data
// Center, with groups refreshed at every login (REFERENCE §5).
func ssoWorld(t *testing.T, sso appsim.SSOConfig, users ...string) *world {
	w := newWorld(t, worldOpts{seats: 10, users: users, sso: sso})
	w.inStaff(users...)
	return w
}

// inStaff puts users in a group floatseat does not manage, as real users
// are: a login's group refresh then removes a licence group the directory
// no longer has (with no remote group at all the app skips removals,
// CWD-3429, and a revoked user would still get in).
func (w *world) inStaff(users ...string) {
	w.t.Helper()
	in := w.sim.InternalDirectory()
	in.AddGroup("staff")
	for _, u := range users {
		if err := in.AddMember(w.t.Context(), u, "staff"); err != nil {
			w.t.Fatal(err)
		}
	}
	if err := w.sim.SyncNow(w.t.Context()); err != nil {
		w.t.Fatal(err)
	}
}

// revokeAfterSSO logs b's user in through SSO (the app's answers set the
// hint), lets the user go idle past the ceiling, and closes the browser:
// only persistent cookies (the hint) are left.
func (w *world) revokeAfterSSO(b *appsim.Browser) {
	w.t.Helper()
	steps, err := b.SSOLogin(w.t.Context(), "/browse/FS-1")
	if err != nil || steps.Last().User != b.User {
		w.t.Fatalf("first SSO login: %+v %v", steps.Last(), err)
	}
	if b.Cookie(identity.HintCookie) == "" {
		w.t.Fatal("no hint cookie after the app confirmed the user")
	}
	w.advance(e2eCeiling + time.Hour)
	if w.licensed(b.User, "jira-software-users") {
		w.t.Fatalf("%s kept the seat past max_idle", b.User)
	}
	b.DropSession(identity.HintCookie)
}

// Every SSO way in of a revoked user who comes back on a browser floatseat
// knows: logged in on the first try, with the licence group back in the
// directory and in the app's view of the user, no failed login, and the
// grant kept past the confirmation wait.
func TestE2ESSOWaysIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		sso  appsim.SSOConfig
	}{
		{"saml plain", appsim.SSOConfig{Method: appsim.SSOSAML}},
		{"saml encrypted with a hint", appsim.SSOConfig{Method: appsim.SSOSAML, EncryptAssertions: true}},
		{"oidc with a hint", appsim.SSOConfig{Method: appsim.SSOOIDC}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := ssoWorld(t, tc.sso, "kim")
			b := w.browser("kim")
			w.revokeAfterSSO(b)
			steps, err := b.SSOLogin(t.Context(), "/browse/FS-1")
			if err != nil {
				t.Fatal(err)
			}
			if last := steps.Last(); last.Status != 200 || last.User != "kim" || last.Path != "/browse/FS-1" {
				t.Fatalf("the return: ended on %s %d as %q, want /browse/FS-1 200 as kim on the first try", last.Path, last.Status, last.User)
			}
			if !slices.Contains(w.sim.CachedGroups("kim"), "jira-software-users") || !w.licensed("kim", "jira-software-users") {
				t.Errorf("groups after the return: app %v", w.sim.CachedGroups("kim"))
			}
			if n := w.sim.FailedLoginCount("kim"); n != 0 {
				t.Errorf("failed logins %d, want 0", n)
			}
			w.clock.Advance(3 * time.Minute) // past proxy.sso_confirm_wait
			w.settleTickets()
			if !w.licensed("kim", "jira-software-users") {
				t.Error("the confirmed SSO grant was rolled back")
			}
		})
	}
}

// settleTickets waits until every replica's keeper has finished a sweep of
// its provisional grants at the current (fake) time, leaving none.
func (w *world) settleTickets() {
	w.t.Helper()
	for _, a := range w.apps {
		k := a.seats.keeper
		from := k.Sweeps()
		eventually(w.t, "provisional grants swept", func() bool { return k.Sweeps() >= from+2 && k.Pending() == 0 })
	}
}

// A new browser (no hint): the OIDC login ends on floatseat's seat page;
// the right username typed there gives the seat back on the second hop; a
// wrong one keeps nothing; a forged hint is ignored; a user floatseat never
// held a seat for sees the app's own page.
func TestE2ESSONewBrowser(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"erin", "frank", "gina", "hank"}, sso: appsim.SSOConfig{Method: appsim.SSOOIDC}})
	w.sim.InternalDirectory().AddUser("ivy", "pw-ivy") // unlicensed, never floatseat's
	w.inStaff("erin", "frank", "gina", "hank", "ivy")
	ctx := t.Context()
	for _, u := range []string{"erin", "frank", "gina", "hank"} {
		w.mustLogin(w.browser(u), false)
	}
	w.advance(e2eCeiling + time.Hour)
	for _, u := range []string{"erin", "frank", "gina", "hank"} {
		if w.licensed(u, "jira-software-users") {
			t.Fatalf("%s kept the seat past max_idle", u)
		}
	}
	seatPage := func(b *appsim.Browser) appsim.Result {
		t.Helper()
		steps, err := b.SSOLogin(ctx, "/browse/FS-1")
		if err != nil {
			t.Fatal(err)
		}
		last := steps.Last()
		if !strings.Contains(last.Body, "Your seat may have been given to someone else") {
			t.Fatalf("%s on a new browser: ended on %s %d %q, want floatseat's seat page", b.User, last.Path, last.Status, last.Body)
		}
		return last
	}

	// The right username: logged in on the second hop.
	erin := w.browser("erin")
	page := seatPage(erin)
	res, err := erin.SubmitForm(ctx, page, map[string]string{"username": "erin"})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := erin.Follow(ctx, res)
	if err != nil {
		t.Fatal(err)
	}
	if last := steps.Last(); last.User != "erin" || last.Status >= 400 && last.Status != 404 {
		t.Fatalf("second hop: ended on %s %d as %q, want logged in as erin", last.Path, last.Status, last.User)
	}
	if r, _ := erin.ViewIssue(ctx, "FS-1"); r.Status != 200 || r.User != "erin" {
		t.Errorf("work after the seat page: %d %q", r.Status, r.User)
	}

	// A wrong username: frank types gina; gina's grant is not confirmed
	// and goes, and frank is still refused.
	frank := w.browser("frank")
	page = seatPage(frank)
	res, _ = frank.SubmitForm(ctx, page, map[string]string{"username": "gina"})
	steps, _ = frank.Follow(ctx, res)
	if last := steps.Last(); last.User == "frank" || last.User == "gina" {
		t.Errorf("a wrong username logged someone in: %q", last.User)
	}

	// A forged hint naming hank: ignored, so the seat page, and no grant.
	hank := w.browser("hank")
	hank.SetCookie(identity.HintCookie, "1|hank|9999999999|"+strings.Repeat("0", 32))
	seatPage(hank)
	if w.licensed("hank", "jira-software-users") {
		t.Error("a forged hint gave hank a seat")
	}

	// Never floatseat's: the name typed gets nothing, and the app's page.
	ivy := w.browser("ivy")
	page = seatPage(ivy)
	res, _ = ivy.SubmitForm(ctx, page, map[string]string{"username": "ivy"})
	steps, _ = ivy.Follow(ctx, res)
	if last := steps.Last(); last.Status != 403 || !strings.Contains(last.Body, "We can't log you in right now") {
		t.Errorf("ivy: ended on %d %q, want the app's own page", last.Status, last.Body)
	}

	w.clock.Advance(3 * time.Minute) // past proxy.sso_confirm_wait
	w.settleTickets()
	for _, u := range []string{"gina", "frank"} {
		if w.licensed(u, "jira-software-users") {
			evs, _ := w.apps[0].audit.Since(ctx, time.Time{}, 0)
			for _, e := range evs {
				if e.User == u {
					t.Logf("audit %s: %s %s %s", u, e.Action, e.Reason, e.Trigger)
				}
			}
			t.Errorf("a wrong username kept %s a seat", u)
		}
	}
	if !w.licensed("erin", "jira-software-users") {
		t.Error("erin's confirmed grant was rolled back")
	}
}

// Crowd/LDAP: a revoked user whose app session stayed alive (background
// polling) clicks: floatseat gives the seat back and, because a live
// session does not re-read groups, keeps that session from the app, so the
// app asks for a login instead of answering 403; the login works, and so
// does the work after it. On a real slapd and on the LDAP-like directory.
//
// With app.end_sessions (Jira 9.11+) the sessions end at revocation
// instead; the return is the same login page.
func TestE2ELiveSessionWithSlowBackend(t *testing.T) {
	for _, tc := range []struct {
		name              string
		ldap, endSessions bool
	}{{"ldap-like", false, false}, {"slapd", true, false}, {"sessions ended at revocation", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			// max: a groupOfNames must keep a member when lena leaves it.
			w := newWorld(t, worldOpts{seats: 10, users: []string{"lena", "max"}, unlicensed: true, ldap: tc.ldap, endSessions: tc.endSessions})
			ctx := t.Context()
			b := w.browser("lena")
			w.mustLogin(b, false)
			for i := 0; i < 10; i++ { // only the notification bell, every 30 minutes
				w.clock.Advance(30 * time.Minute)
				if r, _ := b.PollNotifications(ctx); r.User != "lena" {
					t.Fatalf("poll %d answered as %q: the session must stay alive", i, r.User)
				}
			}
			w.settle()
			w.reap()
			if w.licensed("lena", "jira-software-users") {
				t.Fatal("lena kept the seat while only polling")
			}
			if n := w.sim.SessionsOf("lena"); tc.endSessions != (n == 0) {
				t.Errorf("lena's live sessions after the revocation: %d (end_sessions %v)", n, tc.endSessions)
			}
			res, err := b.ViewIssue(ctx, "FS-1")
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != http.StatusFound || !strings.Contains(res.Header.Get("Location"), "/login.jsp") {
				t.Fatalf("the click: %d to %q, want the login page (not a 403)", res.Status, res.Header.Get("Location"))
			}
			if !w.licensed("lena", "jira-software-users") {
				t.Error("the click did not give the seat back")
			}
			if !tc.endSessions {
				w.staleEverywhere("lena")
			}
			if res, _ := b.ViewIssue(ctx, "FS-2"); res.Status != http.StatusFound {
				t.Errorf("the next click, on any replica: %d, want the login page again", res.Status)
			}
			w.mustLogin(b, false)
			if res, _ := b.ViewIssue(ctx, "FS-1"); res.Status != 200 || res.User != "lena" {
				t.Errorf("work after the login: %d as %q, want 200 as lena", res.Status, res.User)
			}
			if n := w.sim.FailedLoginCount("lena"); n != 0 {
				t.Errorf("failed logins %d, want 0", n)
			}
		})
	}
}

// staleEverywhere waits until every replica keeps user's old session from
// the app (it hears of it from the replica that granted).
func (w *world) staleEverywhere(user string) {
	w.t.Helper()
	for _, a := range w.apps {
		eventually(w.t, "the stale session known to every replica", func() bool { return a.seats.keeper.StaleSessions(user) > 0 })
	}
}
