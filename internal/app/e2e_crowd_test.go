package app

import (
	"testing"
	"time"
)

// TestE2ECrowd: the crowd backend against the Crowd fake, which is also the
// app's directory ("update group memberships when logging in: every
// time"). A revoked user's password login is granted before it is
// forwarded (first try, no failed login); a revoked user's remember-me
// cookie is dropped until the app can see the grant, then one password
// login puts them back to work.
func TestE2ECrowd(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"kim", "lou"}, admins: []string{"root"}, crowd: true})
	ctx := t.Context()
	kim, lou := w.browser("kim"), w.browser("lou")
	w.mustLogin(kim, true)
	w.mustLogin(lou, false)
	w.advance(5 * time.Hour)
	for _, u := range []string{"kim", "lou"} {
		if w.licensed(u, w.lic) {
			t.Fatalf("%s kept the seat past max_idle", u)
		}
	}
	if !w.licensed("root", w.lic) {
		t.Error("an excluded admin was revoked")
	}
	// A password login: the grant is in Crowd before the app reads it.
	lou = w.browser("lou")
	w.mustLogin(lou, false)
	if res, _ := lou.ViewIssue(ctx, "FS-1"); res.Status != 200 || res.User != "lou" {
		t.Errorf("lou's work after the login: %d %q", res.Status, res.User)
	}
	// Remember-me: dropped until visible, then one password login.
	kim.DropSession()
	if res, _ := kim.ViewIssue(ctx, "FS-1"); res.User != "anonymous" {
		t.Errorf("remember-me forwarded before the app could see the grant: answered as %q", res.User)
	}
	if !w.licensed("kim", w.lic) {
		t.Error("the return did not restore the group in Crowd")
	}
	w.mustLogin(kim, true)
	if res, _ := kim.ViewIssue(ctx, "FS-1"); res.Status != 200 || res.User != "kim" {
		t.Errorf("kim's work after the login: %d %q", res.Status, res.User)
	}
	for _, u := range []string{"kim", "lou"} {
		if n := w.sim.FailedLoginCount(u); n != 0 || w.sim.CaptchaRequired(u) {
			t.Errorf("%s: failed logins %d, CAPTCHA %v; want 0 and none", u, n, w.sim.CaptchaRequired(u))
		}
	}
}
