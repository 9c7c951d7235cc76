package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/appsim"
)

// The Confluence world: nginx → two floatseat replicas → the simulator in
// Confluence mode → real Redis, seats from /rest/license/1.0/license/*.
// Each test runs the Jira scenario it is named after.

// TestE2EConfluencePollingDoesNotCountAndRememberMeReturns (app-REST
// backend): Quick Reload, the editor heartbeat and the notification bell
// keep a session alive but are no activity, so the user is revoked; the
// seraph.confluence cookie then brings them back at once, with no failed
// login; the licence is read from Confluence's licence API and the site
// never goes read-only.
func TestE2EConfluencePollingDoesNotCountAndRememberMeReturns(t *testing.T) {
	w := newWorld(t, worldOpts{product: "confluence", seats: 3, users: []string{"cleo", "finn"}, rest: true})
	ctx := t.Context()
	st, err := w.apps[0].Status(ctx)
	if err != nil || len(st.Pools) != 1 || st.Pools[0].Seats != 3 || st.Pools[0].Used != 2 {
		t.Fatalf("licence from /rest/license/1.0/license/*: %+v %v, want 3 seats, 2 used", st, err)
	}
	b := w.browser("cleo")
	w.mustLogin(b, true)
	if b.Cookie("seraph.confluence") == "" {
		t.Fatal("no seraph.confluence cookie after a remember-me login")
	}
	for i := 0; i < 10; i++ {
		w.clock.Advance(30 * time.Minute)
		for _, poll := range []func() (appsim.Result, error){
			func() (appsim.Result, error) { return b.Poll(ctx) },
			func() (appsim.Result, error) { return b.PollNotifications(ctx) },
			func() (appsim.Result, error) {
				return b.Do(ctx, http.MethodPost, "/json/heartbeat.action", "application/x-www-form-urlencoded", strings.NewReader("pageId=65537"))
			},
		} {
			if res, err := poll(); err != nil || res.User != "cleo" {
				t.Fatalf("poll %d: %+v %v (the session must stay alive by polling)", i, res.User, err)
			}
		}
	}
	w.settle()
	w.reap()
	if w.licensed("cleo", w.lic) {
		t.Fatal("Quick Reload, heartbeat or the bell counted as activity: cleo kept the seat")
	}
	b.DropSession() // only the remember-me cookie is left
	if res, err := b.ViewPage(ctx, "65537"); err != nil || res.Status != 200 || res.User != "cleo" {
		t.Errorf("remember-me return with the confluence backend: %+v %v, want 200 as cleo at once", res.Status, err)
	}
	if n := w.sim.FailedLoginCount("cleo"); n != 0 || w.sim.CaptchaRequired("cleo") {
		t.Errorf("failed logins %d, CAPTCHA %v; want 0 and none", n, w.sim.CaptchaRequired("cleo"))
	}
	// Work goes on: creating a page, never read-only over the licence.
	if res, _ := b.Do(ctx, http.MethodPost, "/rest/api/content", "application/json", strings.NewReader(`{"type":"page","title":"t"}`)); res.Status != 200 {
		t.Errorf("create page: %d, want 200 (Confluence must never go read-only)", res.Status)
	}
	if w.sim.OverLicence() || w.sim.MaxUserCount("confluence") > 3 {
		t.Errorf("over licence: now %v, peak %d of 3", w.sim.OverLicence(), w.sim.MaxUserCount("confluence"))
	}
}

// TestE2EConfluenceReturnByLoginRoutesWithSlapd (LDAP on a real slapd,
// seen by the app at a password login): a revoked user comes back through
// /dologin.action and another through /rest/tsv/1.0/authenticate, each
// granted before the login reaches the app (first try, no failed login); a
// revoked user's remember-me cookie is held back until the app can see the
// grant.
func TestE2EConfluenceReturnByLoginRoutesWithSlapd(t *testing.T) {
	w := newWorld(t, worldOpts{product: "confluence", seats: 10, users: []string{"dora", "eli", "ravi"}, admins: []string{"root"}, ldap: true})
	ctx := t.Context()
	for _, u := range []string{"dora", "eli", "ravi"} {
		w.mustLogin(w.browser(u), u == "ravi")
	}
	w.advance(5 * time.Hour)
	for _, u := range []string{"dora", "eli", "ravi"} {
		if w.licensed(u, w.lic) {
			t.Fatalf("%s kept the seat past max_idle", u)
		}
	}
	if !w.licensed("root", w.lic) {
		t.Error("an excluded admin was revoked")
	}
	// /dologin.action
	dora := w.browser("dora")
	w.mustLogin(dora, false)
	if res, _ := dora.ViewPage(ctx, "65537"); res.Status != 200 || res.User != "dora" {
		t.Errorf("dora's work after /dologin.action: %d %q", res.Status, res.User)
	}
	// /rest/tsv/1.0/authenticate
	eli := w.browser("eli")
	res, err := eli.Do(ctx, http.MethodPost, "/rest/tsv/1.0/authenticate", "application/json",
		strings.NewReader(`{"username":"eli","password":"pw-eli"}`))
	if err != nil || res.Status != 200 {
		t.Fatalf("tsv authenticate: %+v %v, want 200", res, err)
	}
	if !w.licensed("eli", w.lic) {
		t.Error("the tsv login did not give the seat back")
	}
	if res, _ := eli.ViewPage(ctx, "65537"); res.Status != 200 || res.User != "eli" {
		t.Errorf("eli's work after the tsv login: %d %q", res.Status, res.User)
	}
	// seraph.confluence alone: not forwarded until a password login.
	ravi := w.browser("ravi")
	w.mustLogin(ravi, true)
	w.clock.Advance(5 * time.Hour)
	w.settle()
	w.reap()
	if w.licensed("ravi", w.lic) {
		t.Fatal("ravi kept the seat")
	}
	ravi.DropSession()
	if res, _ := ravi.ViewPage(ctx, "65537"); res.User != "anonymous" {
		t.Errorf("seraph.confluence forwarded before the app could see the grant: answered as %q", res.User)
	}
	w.mustLogin(ravi, true)
	for _, u := range []string{"dora", "eli", "ravi"} {
		if n := w.sim.FailedLoginCount(u); n != 0 || w.sim.CaptchaRequired(u) {
			t.Errorf("%s: failed logins %d, CAPTCHA %v; want 0 and none", u, n, w.sim.CaptchaRequired(u))
		}
	}
}

// TestE2EConfluenceFullPage: every seat held by someone active within the
// session timeout; a newcomer meets the full page (HTML for a browser,
// Retry-After set), and the site never goes over its licence.
func TestE2EConfluenceFullPage(t *testing.T) {
	w := newWorld(t, worldOpts{product: "confluence", seats: 2, users: []string{"ann", "bob"}, poolUsers: []string{"newbie"}, rest: true})
	ctx := t.Context()
	for _, u := range []string{"ann", "bob"} {
		w.mustLogin(w.browser(u), false)
	}
	res, err := w.browser("newbie").Login(ctx, false)
	if err != nil || res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
		!strings.Contains(res.Body, "All licence seats are in use") {
		t.Fatalf("newcomer on a full Confluence: %d %q, want the 503 page with Retry-After", res.Status, res.Header.Get("Retry-After"))
	}
	if w.sim.MaxUserCount("confluence") > 2 || w.sim.OverLicence() {
		t.Errorf("the app counted %d users at its peak, over its 2 seats", w.sim.MaxUserCount("confluence"))
	}
}
