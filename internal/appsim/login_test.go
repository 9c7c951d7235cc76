package appsim

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFormLogin(t *testing.T) {
	tests := []struct {
		name       string
		product    string
		user, pass string
		wantStatus int
		wantReason string
		wantUser   string
		wantFailed int
		wantLogins int
		wantBody   string
	}{
		{"jira ok", Jira, "alice", pw, http.StatusFound, ReasonOK, "alice", 0, 1, ""},
		{"jira case-insensitive name, stored case", Jira, "ALICE", pw, http.StatusFound, ReasonOK, "alice", 0, 1, ""},
		{"jira wrong password", Jira, "alice", "nope", http.StatusOK, ReasonAuthFailed, "anonymous", 1, 0, "incorrect"},
		{"jira unknown user", Jira, "zed", pw, http.StatusOK, ReasonAuthFailed, "anonymous", 0, 0, "incorrect"},
		{"jira unlicensed", Jira, "bob", pw, http.StatusOK, ReasonAuthorisation, "anonymous", 1, 0, "You do not have a permission to log in"},
		{"jira admin without licence", Jira, "svc", adminPW, http.StatusFound, ReasonOK, "svc", 0, 1, ""},
		{"confluence ok", Confluence, "alice", pw, http.StatusFound, ReasonOK, "alice", 0, 1, ""},
		{"confluence wrong password", Confluence, "alice", "nope", http.StatusOK, ReasonAuthFailed, "anonymous", 1, 0, "incorrect"},
		{"confluence unlicensed", Confluence, "bob", pw, http.StatusOK, ReasonAuthorisation, "anonymous", 1, 0, "Not Permitted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.product, nil)
			b := e.browser(tc.user, tc.pass)
			res := must(t)(b.Login(t.Context(), false))
			if res.Status != tc.wantStatus {
				t.Errorf("got status %d, want %d", res.Status, tc.wantStatus)
			}
			if got := res.LoginReason(); got != tc.wantReason {
				t.Errorf("got reason %q, want %q", got, tc.wantReason)
			}
			if res.User != tc.wantUser {
				t.Errorf("got X-AUSERNAME %q, want %q", res.User, tc.wantUser)
			}
			if got := e.sim.FailedLoginCount(tc.user); got != tc.wantFailed {
				t.Errorf("got failed count %d, want %d", got, tc.wantFailed)
			}
			if got := e.sim.LoginCount(tc.user); got != tc.wantLogins {
				t.Errorf("got login count %d, want %d", got, tc.wantLogins)
			}
			if !strings.Contains(res.Body, tc.wantBody) {
				t.Errorf("got body %q, want it to contain %q", res.Body, tc.wantBody)
			}
			wantSessions := 0
			if tc.wantReason == ReasonOK {
				wantSessions = 1
			}
			if got := e.sim.ActiveSessions(); got != wantSessions {
				t.Errorf("got %d sessions, want %d", got, wantSessions)
			}
		})
	}
}

func TestLoginRoutesREST(t *testing.T) {
	tests := []struct {
		name       string
		product    string
		method     string
		path       string
		body       string
		form       bool
		wantStatus int
		wantReason string
		wantBody   string
	}{
		{"session ok", Jira, "POST", "/rest/auth/1/session", `{"username":"alice","password":"secret"}`, false, 200, ReasonOK, `"name":"JSESSIONID"`},
		{"session wrong password", Jira, "POST", "/rest/auth/1/session", `{"username":"alice","password":"x"}`, false, 401, ReasonAuthFailed, ""},
		{"session unlicensed", Jira, "POST", "/rest/auth/1/session", `{"username":"bob","password":"secret"}`, false, 401, ReasonAuthorisation, ""},
		{"gadget ok", Jira, "POST", "/rest/gadget/1.0/login", "os_username=alice&os_password=secret", true, 200, ReasonOK, `"loginSucceeded":true`},
		{"gadget wrong password", Jira, "POST", "/rest/gadget/1.0/login", "os_username=alice&os_password=x", true, 200, ReasonAuthFailed, `"loginError":true`},
		{"gadget unlicensed", Jira, "POST", "/rest/gadget/1.0/login", "os_username=bob&os_password=secret", true, 200, ReasonAuthorisation, `"loginFailedByPermissions":true`},
		{"tsv jira ok", Jira, "POST", "/rest/tsv/1.0/authenticate", `{"username":"alice","password":"secret","targetUrl":"/browse/X-1"}`, false, 200, ReasonOK, `/browse/X-1`},
		{"tsv confluence unlicensed", Confluence, "POST", "/rest/tsv/1.0/authenticate", `{"username":"bob","password":"secret"}`, false, 401, ReasonAuthorisation, ""},
		{"tsv confluence wrong", Confluence, "POST", "/rest/tsv/1.0/authenticate", `{"username":"alice","password":"x"}`, false, 401, ReasonAuthFailed, ""},
		{"portal customer needs no licence", Jira, "POST", "/servicedesk/customer/user/login", "os_username=bob&os_password=secret", true, 200, ReasonOK, `"loginSucceeded":true`},
		{"portal wrong password", Jira, "POST", "/servicedesk/customer/user/login", "os_username=bob&os_password=x", true, 401, ReasonAuthFailed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.product, nil)
			b := e.browser("", "")
			var res Result
			if tc.form {
				res = postForm(t, b, tc.path, tc.body)
			} else {
				res = mustDo(t, b, tc.method, tc.path, tc.body)
			}
			if res.Status != tc.wantStatus {
				t.Errorf("got status %d, want %d (%s)", res.Status, tc.wantStatus, res.Body)
			}
			if got := res.LoginReason(); got != tc.wantReason {
				t.Errorf("got reason %q, want %q", got, tc.wantReason)
			}
			if !strings.Contains(res.Body, tc.wantBody) {
				t.Errorf("got body %q, want it to contain %q", res.Body, tc.wantBody)
			}
		})
	}
}

func TestSessionLoginAnswersSessionAndLoginInfo(t *testing.T) {
	e := newEnv(t, Jira, nil)
	b := e.browser("", "")
	mustDo(t, b, "POST", "/rest/auth/1/session", `{"username":"alice","password":"x"}`)
	res := mustDo(t, b, "POST", "/rest/auth/1/session", `{"username":"alice","password":"secret"}`)
	var got struct {
		Session   struct{ Name, Value string }
		LoginInfo struct {
			FailedLoginCount int `json:"failedLoginCount"`
			LoginCount       int `json:"loginCount"`
		}
	}
	decode(t, res, &got)
	if got.Session.Value == "" || got.Session.Value != b.Cookie(SessionCookie) {
		t.Errorf("got session value %q, want the JSESSIONID cookie %q", got.Session.Value, b.Cookie(SessionCookie))
	}
	if got.LoginInfo.LoginCount != 1 || got.LoginInfo.FailedLoginCount != 0 {
		t.Errorf("got loginInfo %+v, want loginCount 1, failedLoginCount 0 (reset on success)", got.LoginInfo)
	}
	who := mustDo(t, b, "GET", "/rest/auth/1/session", "")
	expectStatus(t, "GET session", who, 200)
	if who.User != "alice" {
		t.Errorf("got X-AUSERNAME %q, want alice", who.User)
	}
	out := mustDo(t, b, "DELETE", "/rest/auth/1/session", "")
	expectStatus(t, "DELETE session", out, http.StatusNoContent)
	if out.LoginReason() != ReasonOut {
		t.Errorf("got reason %q, want OUT", out.LoginReason())
	}
	if n := e.sim.ActiveSessions(); n != 0 {
		t.Errorf("got %d sessions after logout, want 0", n)
	}
}

func TestCaptcha(t *testing.T) {
	for _, product := range []string{Jira, Confluence} {
		t.Run(product, func(t *testing.T) {
			e := newEnv(t, product, nil)
			bad := e.browser("alice", "wrong")
			for i := range 3 {
				res := must(t)(bad.Login(t.Context(), false))
				if res.LoginReason() != ReasonAuthFailed {
					t.Fatalf("attempt %d: got %q, want AUTHENTICATED_FAILED", i+1, res.LoginReason())
				}
			}
			if !e.sim.CaptchaRequired("alice") {
				t.Fatal("got no CAPTCHA after 3 failures, want one")
			}
			good := e.browser("alice", pw)
			res := must(t)(good.Login(t.Context(), false))
			if res.LoginReason() != ReasonDenied {
				t.Errorf("form: got %q, want AUTHENTICATION_DENIED even with the right password", res.LoginReason())
			}
			if product == Jira {
				rest := mustDo(t, good, "POST", "/rest/auth/1/session", `{"username":"alice","password":"secret"}`)
				expectStatus(t, "REST under CAPTCHA", rest, http.StatusForbidden)
				if h := rest.Header.Get(HeaderDeniedReason); !strings.HasPrefix(h, "CAPTCHA_CHALLENGE; login-url=") {
					t.Errorf("got %s %q, want CAPTCHA_CHALLENGE; login-url=…", HeaderDeniedReason, h)
				}
			}
			basic := e.browser("alice", pw)
			basic.Basic = true
			br := must(t)(basic.Get(t.Context(), "/rest/api/2/serverInfo"))
			expectStatus(t, "Basic under CAPTCHA", br, http.StatusForbidden)
			if br.LoginReason() != ReasonDenied {
				t.Errorf("Basic: got %q, want AUTHENTICATION_DENIED", br.LoginReason())
			}
			if got := e.sim.FailedLoginCount("alice"); got != 3 {
				t.Errorf("got failed count %d, want 3 (denied attempts do not count)", got)
			}
			res = must(t)(good.LoginWith(t.Context(), false, CaptchaAnswer))
			if res.LoginReason() != ReasonOK {
				t.Fatalf("with CAPTCHA answered: got %q, want OK", res.LoginReason())
			}
			if e.sim.CaptchaRequired("alice") || e.sim.FailedLoginCount("alice") != 0 {
				t.Errorf("got CAPTCHA %v, failed %d after success, want false, 0",
					e.sim.CaptchaRequired("alice"), e.sim.FailedLoginCount("alice"))
			}
		})
	}
}

func TestUnlicensedLoginsLeadToCaptcha(t *testing.T) {
	// REFERENCE §1: why floatseat must grant before forwarding.
	e := newEnv(t, Jira, nil)
	b := e.browser("bob", pw)
	for range 3 {
		must(t)(b.Login(t.Context(), false))
	}
	e.dir.AddMember(t.Context(), "bob", e.licenceGroup())
	e.sim.SyncNow(t.Context())
	res := must(t)(b.Login(t.Context(), false))
	if res.LoginReason() != ReasonDenied {
		t.Errorf("got %q, want AUTHENTICATION_DENIED after 3 unlicensed logins", res.LoginReason())
	}
}

func TestUpdateGroupsAtLogin(t *testing.T) {
	tests := []struct {
		mode       string
		wantReason string
	}{
		{UpdateEvery, ReasonOK},
		{UpdateNew, ReasonAuthorisation}, // bob is already in the app's cache
		{UpdateNever, ReasonAuthorisation},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			e := newEnv(t, Jira, func(c *Config) { c.UpdateGroupsAtLogin = tc.mode })
			// Granted in the directory only, as floatseat's Crowd/LDAP backends do.
			if err := e.dir.AddMember(t.Context(), "bob", e.licenceGroup()); err != nil {
				t.Fatal(err)
			}
			res := must(t)(e.browser("bob", pw).Login(t.Context(), false))
			if res.LoginReason() != tc.wantReason {
				t.Errorf("got %q, want %q", res.LoginReason(), tc.wantReason)
			}
			if err := e.sim.SyncNow(t.Context()); err != nil {
				t.Fatal(err)
			}
			res = must(t)(e.browser("bob", pw).Login(t.Context(), false))
			if res.LoginReason() != ReasonOK {
				t.Errorf("after sync: got %q, want OK", res.LoginReason())
			}
		})
	}
}

func TestUpdateNewRefreshesUnknownUser(t *testing.T) {
	e := newEnv(t, Jira, func(c *Config) { c.UpdateGroupsAtLogin = UpdateNew })
	e.dir.AddUser("carol", pw)
	e.dir.AddMember(t.Context(), "carol", e.licenceGroup())
	res := must(t)(e.browser("carol", pw).Login(t.Context(), false))
	if res.LoginReason() != ReasonOK {
		t.Errorf("got %q, want OK: a user new to the app gets its groups read", res.LoginReason())
	}
}

func TestEveryKeepsGroupsWhenDirectoryReportsNone(t *testing.T) {
	// REFERENCE §5 (CWD-3429): removals are skipped when the user has no remote groups.
	e := newEnv(t, Jira, func(c *Config) { c.UpdateGroupsAtLogin = UpdateEvery })
	e.dir.RemoveMember(t.Context(), "alice", e.licenceGroup())
	res := must(t)(e.browser("alice", pw).Login(t.Context(), false))
	if res.LoginReason() != ReasonOK {
		t.Errorf("got %q, want OK", res.LoginReason())
	}
}

func TestSessionExpiryAndPolling(t *testing.T) {
	e := newEnv(t, Jira, nil) // Jira default: 300 min
	b := e.browser("alice", pw)
	must(t)(b.Login(t.Context(), false))
	for i := range 3 {
		e.clock.Advance(299 * time.Minute)
		res := must(t)(b.Poll(t.Context()))
		if res.User != "alice" || res.LoginReason() != ReasonOK {
			t.Fatalf("poll %d: got user %q reason %q, want alice OK (polling keeps the session)", i, res.User, res.LoginReason())
		}
	}
	e.clock.Advance(301 * time.Minute)
	if n := e.sim.ActiveSessions(); n != 0 {
		t.Errorf("got %d active sessions after 301 idle minutes, want 0", n)
	}
	res := must(t)(b.Work(t.Context()))
	expectStatus(t, "expired session", res, http.StatusFound)
	if res.User != "anonymous" {
		t.Errorf("got X-AUSERNAME %q, want anonymous", res.User)
	}
}

func TestConfluenceSessionTimeoutDefault(t *testing.T) {
	e := newEnv(t, Confluence, nil)
	b := e.browser("alice", pw)
	must(t)(b.Login(t.Context(), false))
	e.clock.Advance(59 * time.Minute)
	if got := must(t)(b.Poll(t.Context())).User; got != "alice" {
		t.Fatalf("got %q at 59 min, want alice", got)
	}
	e.clock.Advance(61 * time.Minute)
	if got := must(t)(b.Poll(t.Context())).User; got != "anonymous" {
		t.Errorf("got %q after 61 idle min, want anonymous", got)
	}
}

func TestLiveSessionNotReauthorised(t *testing.T) {
	e := newEnv(t, Jira, nil)
	b := e.browser("alice", pw)
	must(t)(b.Login(t.Context(), false))
	mustDo(t, e.admin(), "DELETE", "/rest/api/2/group/user?groupname=jira-software-users&username=alice", "")
	res := must(t)(b.Work(t.Context()))
	if res.User != "alice" || res.LoginReason() != ReasonOK || res.Status != 200 {
		t.Errorf("got %d %q %q, want 200 alice OK (REFERENCE §1)", res.Status, res.User, res.LoginReason())
	}
}

func TestRememberMe(t *testing.T) {
	for _, product := range []string{Jira, Confluence} {
		t.Run(product, func(t *testing.T) {
			e := newEnv(t, product, func(c *Config) { c.UpdateGroupsAtLogin = UpdateEvery })
			b := e.browser("alice", pw)
			must(t)(b.Login(t.Context(), true))
			if b.Cookie(RememberMeCookieName(product)) == "" {
				t.Fatal("got no remember-me cookie, want one")
			}
			b.DropSession()
			res := must(t)(b.Work(t.Context()))
			if res.User != "alice" || res.LoginReason() != ReasonOK {
				t.Fatalf("cookie login: got %q %q, want alice OK", res.User, res.LoginReason())
			}
			if e.sim.LoginCount("alice") != 2 {
				t.Errorf("got login count %d, want 2", e.sim.LoginCount("alice"))
			}

			// Revoked through the app, granted again in the directory only:
			// the cookie path does not refresh groups (REFERENCE §5).
			adm := e.admin()
			if product == Jira {
				expectStatus(t, "remove", mustDo(t, adm, "DELETE", "/rest/api/2/group/user?groupname="+e.licenceGroup()+"&username=alice", ""), 200)
			} else {
				expectStatus(t, "remove", mustDo(t, adm, "DELETE", "/rest/api/user/alice/group/"+e.licenceGroup(), ""), 204)
			}
			e.dir.AddMember(t.Context(), "alice", e.licenceGroup())
			b.DropSession()
			res = must(t)(b.Work(t.Context()))
			if res.LoginReason() != ReasonAuthorisation || res.User != "anonymous" {
				t.Errorf("got %q %q, want AUTHORISATION_FAILED anonymous", res.LoginReason(), res.User)
			}
			if got := e.sim.FailedLoginCount("alice"); got != 1 {
				t.Errorf("got failed count %d, want 1", got)
			}
			if c := b.Cookie(RememberMeCookieName(product)); c != "" {
				t.Errorf("got remember-me cookie %q kept, want it deleted", c)
			}
			// A password login with "every" re-reads the groups and succeeds.
			res = must(t)(b.Login(t.Context(), false))
			if res.LoginReason() != ReasonOK {
				t.Errorf("password login: got %q, want OK", res.LoginReason())
			}
		})
	}
}

func TestUnlicensedLoginDeletesRememberMe(t *testing.T) {
	e := newEnv(t, Jira, nil)
	b := e.browser("alice", pw)
	must(t)(b.Login(t.Context(), true))
	mustDo(t, e.admin(), "DELETE", "/rest/api/2/group/user?groupname=jira-software-users&username=alice", "")
	b.DropSession()
	res := must(t)(b.Login(t.Context(), false))
	if res.LoginReason() != ReasonAuthorisation {
		t.Fatalf("got %q, want AUTHORISATION_FAILED first", res.LoginReasons)
	}
	if got := e.sim.FailedLoginCount("alice"); got != 2 {
		t.Errorf("got failed count %d, want 2 (cookie path and form both count)", got)
	}
	if c := b.Cookie(JiraRememberMeCookie); c != "" {
		t.Errorf("got remember-me cookie kept, want deleted")
	}
}

func TestRememberMeExpires(t *testing.T) {
	e := newEnv(t, Jira, func(c *Config) { c.RememberMeAge = 24 * time.Hour; c.SessionTimeout = time.Hour })
	b := e.browser("alice", pw)
	must(t)(b.Login(t.Context(), true))
	e.clock.Advance(25 * time.Hour)
	res := must(t)(b.Work(t.Context()))
	if res.User != "anonymous" {
		t.Errorf("got %q, want anonymous after the cookie's age", res.User)
	}
}

func TestBasicAuth(t *testing.T) {
	tests := []struct {
		user, pass string
		wantStatus int
		wantReason string
		wantUser   string
	}{
		{"alice", pw, 200, ReasonOK, "alice"},
		{"alice", "x", 401, ReasonAuthFailed, "anonymous"},
		{"bob", pw, 401, ReasonAuthorisation, "anonymous"},
		{"nobody", pw, 401, ReasonAuthFailed, "anonymous"},
	}
	for _, tc := range tests {
		t.Run(tc.user+"/"+tc.pass, func(t *testing.T) {
			e := newEnv(t, Jira, nil)
			b := e.browser(tc.user, tc.pass)
			b.Basic = true
			res := must(t)(b.Get(t.Context(), "/rest/api/2/myself"))
			if res.Status != tc.wantStatus || res.LoginReason() != tc.wantReason || res.User != tc.wantUser {
				t.Errorf("got %d %q %q, want %d %q %q", res.Status, res.LoginReason(), res.User, tc.wantStatus, tc.wantReason, tc.wantUser)
			}
		})
	}
	t.Run("a full login every request", func(t *testing.T) {
		e := newEnv(t, Jira, nil)
		b := e.browser("alice", pw)
		b.Basic = true
		for range 3 {
			must(t)(b.Get(t.Context(), "/rest/api/2/myself"))
		}
		if got := e.sim.LoginCount("alice"); got != 3 {
			t.Errorf("got login count %d, want 3", got)
		}
	})
	t.Run("switched off", func(t *testing.T) {
		e := newEnv(t, Jira, func(c *Config) { c.BasicAuthDisabled = true })
		b := e.browser("alice", pw)
		b.Basic = true
		expectStatus(t, "basic off", must(t)(b.Get(t.Context(), "/rest/api/2/myself")), 401)
	})
}

func TestPasswordInQueryRefused(t *testing.T) {
	e := newEnv(t, Jira, nil)
	res := must(t)(e.browser("", "").Get(t.Context(), "/rest/api/2/myself?os_username=alice&os_password=secret"))
	expectStatus(t, "query password", res, 400)
}

func TestPAT(t *testing.T) {
	e := newEnv(t, Jira, nil)
	b := e.browser("alice", pw)
	b.Basic = true
	res := mustDo(t, b, "POST", "/rest/pat/latest/tokens", `{"name":"ci","expirationDuration":90}`)
	expectStatus(t, "create PAT", res, 201)
	var tok struct{ RawToken string }
	decode(t, res, &tok)

	tests := []struct {
		name, token string
		wantUser    string
	}{
		{"valid", tok.RawToken, "alice"},
		{"invalid answers as anonymous", "not-a-token", "anonymous"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := e.browser("", "")
			c.Token = tc.token
			res := must(t)(c.Get(t.Context(), "/rest/api/2/serverInfo"))
			if res.Status != 200 || res.User != tc.wantUser {
				t.Errorf("got %d %q, want 200 %q", res.Status, res.User, tc.wantUser)
			}
			if len(res.LoginReasons) != 0 {
				t.Errorf("got login reasons %v, want none for a token", res.LoginReasons)
			}
		})
	}
	e.clock.Advance(91 * 24 * time.Hour)
	c := e.browser("", "")
	c.Token = tok.RawToken
	if got := must(t)(c.Get(t.Context(), "/rest/api/2/serverInfo")).User; got != "anonymous" {
		t.Errorf("expired token: got %q, want anonymous", got)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, Confluence, nil)
	b := e.browser("alice", pw)
	must(t)(b.Login(t.Context(), true))
	res := must(t)(b.Get(t.Context(), "/logout.action"))
	if res.LoginReason() != ReasonOut || res.User != "anonymous" {
		t.Errorf("got %q %q, want OUT anonymous", res.LoginReason(), res.User)
	}
	if b.Cookie(ConfluenceRememberMeCookie) != "" || e.sim.ActiveSessions() != 0 {
		t.Errorf("got remember-me %q, %d sessions, want none", b.Cookie(ConfluenceRememberMeCookie), e.sim.ActiveSessions())
	}
}

func TestInvalidateUserSessions(t *testing.T) {
	e := newEnv(t, Jira, nil)
	b := e.browser("alice", pw)
	must(t)(b.Login(t.Context(), false))
	expectStatus(t, "non-admin", mustDo(t, b, "DELETE", "/rest/api/2/user/session/alice", ""), 403)
	expectStatus(t, "admin", mustDo(t, e.admin(), "DELETE", "/rest/api/2/user/session/alice", ""), 204)
	if n := e.sim.SessionsOf("alice"); n != 0 {
		t.Errorf("got %d sessions of alice, want 0", n)
	}
}

func TestSAMLLogin(t *testing.T) {
	e := newEnv(t, Jira, func(c *Config) { c.UpdateGroupsAtLogin = UpdateEvery })
	form := func(resp string) string {
		return "SAMLResponse=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(resp) + "&RelayState=%2Fbrowse%2FX-1"
	}
	assertion := func(user string) string { return form(e.sim.SAMLResponse(user)) }
	b := e.browser("", "")
	// A response the IdP did not sign is refused before anything else.
	forged := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Assertion><saml:Subject><saml:NameID>bob</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>`
	if res := postForm(t, b, "/plugins/servlet/samlconsumer", form(b64(forged))); res.Status != 400 || res.User != "anonymous" {
		t.Errorf("forged: got %d as %q, want 400 as nobody", res.Status, res.User)
	}
	altered, _ := base64.StdEncoding.DecodeString(e.sim.SAMLResponse("alice"))
	if res := postForm(t, b, "/plugins/servlet/samlconsumer", form(b64(strings.Replace(string(altered), ">alice<", ">bob<", 1)))); res.Status != 400 {
		t.Errorf("signed for alice, altered to bob: got %d, want 400", res.Status)
	}
	res := postForm(t, b, "/plugins/servlet/samlconsumer", assertion("bob"))
	if res.Status != 403 || !strings.Contains(res.Body, "We can't log you in right now") || len(res.LoginReasons) != 0 {
		t.Errorf("unlicensed: got %d %q %v, want 403, the message, no reason", res.Status, res.Body, res.LoginReasons)
	}
	e.dir.AddMember(t.Context(), "bob", e.licenceGroup())
	res = postForm(t, b, "/plugins/servlet/samlconsumer", assertion("bob"))
	if res.Status != 302 || res.User != "bob" || res.Header.Get("Location") != "/browse/X-1" {
		t.Errorf("after grant: got %d %q %q, want 302 bob /browse/X-1", res.Status, res.User, res.Header.Get("Location"))
	}
}

func TestOIDCLogin(t *testing.T) {
	e := newEnv(t, Confluence, func(c *Config) { c.UpdateGroupsAtLogin = UpdateEvery })
	tests := []struct {
		name     string
		code     string
		grant    bool
		want     int
		wantUser string
	}{
		{"unknown code", "nope", false, 403, "anonymous"},
		{"unlicensed", e.sim.OIDCCode("bob"), false, 403, "anonymous"},
		{"granted in the directory just before", e.sim.OIDCCode("bob"), true, 302, "bob"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.grant {
				e.dir.AddMember(t.Context(), "bob", e.licenceGroup())
			}
			res := must(t)(e.browser("", "").Get(t.Context(), "/plugins/servlet/oidc/callback?code="+tc.code+"&state=x"))
			if res.Status != tc.want || res.User != tc.wantUser {
				t.Errorf("got %d %q, want %d %q", res.Status, res.User, tc.want, tc.wantUser)
			}
		})
	}
}

func TestExternalDirectory(t *testing.T) {
	// Without the internal directory's extras, as with an LDAP or Crowd backend.
	d := NewInternalDirectory()
	d.AddUser("Dave", pw)
	d.AddGroup("jira-software-users")
	d.AddMember(t.Context(), "dave", "jira-software-users")
	sim := New(Config{Directory: plainDir{d}, Verifier: plainDir{d}, UpdateGroupsAtLogin: UpdateEvery, Clock: newFakeClock().Now})
	if sim.InternalDirectory() != nil {
		t.Errorf("got an internal directory, want none")
	}
	srv := newServer(t, sim)
	res := must(t)(NewBrowser(srv, "DAVE", pw, Jira).Login(t.Context(), false))
	if res.LoginReason() != ReasonOK {
		t.Errorf("got %q, want OK", res.LoginReason())
	}
	if got := sim.CachedGroups("dave"); !slices.Equal(got, []string{"jira-software-users"}) {
		t.Errorf("got cached groups %v, want [jira-software-users]", got)
	}
	if sim.UserCount("jira-software") != 1 {
		t.Errorf("got count %d, want 1", sim.UserCount("jira-software"))
	}
}
