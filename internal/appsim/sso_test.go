package appsim

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

// Every way of SSO the simulator models: the IdP's SAML (plain NameID, an
// attribute, encrypted) and OIDC, for an unlicensed user (the app's page)
// and for one granted in the directory just before (groups are refreshed
// at SSO login, as at a password login).
func TestSSOWaysIn(t *testing.T) {
	tests := []struct {
		name string
		sso  SSOConfig
		// readable: the username can be read from the SAMLResponse by
		// anyone between the IdP and the app.
		readable bool
	}{
		{"saml nameid", SSOConfig{Method: SSOSAML}, true},
		{"saml attribute", SSOConfig{Method: SSOSAML, UsernameAttribute: "uid"}, true},
		{"saml encrypted", SSOConfig{Method: SSOSAML, EncryptAssertions: true}, false},
		{"oidc", SSOConfig{Method: SSOOIDC}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Jira, func(c *Config) { c.UpdateGroupsAtLogin = UpdateEvery; c.SSO = tc.sso })
			ctx := t.Context()
			b := e.browser("bob", pw)
			steps, err := b.SSOLogin(ctx, "/browse/X-1")
			if err != nil {
				t.Fatal(err)
			}
			last := steps.Last()
			if last.Status != 403 || !strings.Contains(last.Body, "We can't log you in right now") || len(last.LoginReasons) != 0 || last.User != "anonymous" {
				t.Fatalf("unlicensed: got %d %q %v %q, want 403, the message, no reason, anonymous", last.Status, last.Body, last.LoginReasons, last.User)
			}
			if n := e.sim.FailedLoginCount("bob"); n != 0 {
				t.Errorf("an SSO refusal counted %d failed logins, want 0", n)
			}
			if tc.sso.Method == SSOSAML {
				form := e.sim.SAMLResponse("bob")
				raw, _ := base64.StdEncoding.DecodeString(form)
				if got := strings.Contains(string(raw), ">bob<"); got != tc.readable {
					t.Errorf("username readable in the SAMLResponse: %v, want %v", got, tc.readable)
				}
			}

			// Granted in the directory just before the login: the SSO login
			// re-reads groups, passes the licence check, and lands as bob.
			e.dir.AddMember(ctx, "bob", e.licenceGroup())
			steps, err = b.SSOLogin(ctx, "/browse/X-1")
			if err != nil {
				t.Fatal(err)
			}
			consumer := SAMLConsumerPath
			if tc.sso.Method == SSOOIDC {
				consumer = OIDCCallbackPath
			}
			login, ok := steps.Find(consumer)
			if !ok || login.Status != 302 || login.User != "bob" || !strings.Contains(strings.Join(login.Header.Values("Set-Cookie"), ";"), SessionCookie+"=") {
				t.Fatalf("SSO login after the grant: %+v, want 302 as bob setting a session", login)
			}
			if last := steps.Last(); last.Status != 200 || last.User != "bob" || last.Path != "/browse/X-1" {
				t.Errorf("landed on %s %d as %q, want /browse/X-1 200 as bob", last.Path, last.Status, last.User)
			}
			if !slices.Contains(e.sim.CachedGroups("bob"), e.licenceGroup()) {
				t.Errorf("the SSO login did not refresh groups: %v", e.sim.CachedGroups("bob"))
			}
		})
	}
}

// Just-in-time provisioning makes the internal-directory groups match the
// IdP's at every SSO login: a licence group the IdP does not send is gone.
func TestSSOJITOverwritesGroups(t *testing.T) {
	e := newEnv(t, Jira, func(c *Config) { c.SSO = SSOConfig{Method: SSOOIDC, JIT: true} })
	ctx := t.Context()
	e.sim.SetIdPAccount("alice", IdPAccount{Groups: []string{"staff"}})
	steps, err := e.browser("alice", pw).SSOLogin(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if last := steps.Last(); last.Status != 403 {
		t.Errorf("JIT dropped the licence group but the login got %d, want 403", last.Status)
	}
	if ok, _ := e.dir.IsMember(ctx, "alice", e.licenceGroup(), false); ok {
		t.Error("JIT kept a licence group the IdP does not send")
	}
	if ok, _ := e.dir.IsMember(ctx, "alice", "staff", false); !ok {
		t.Error("JIT did not add the IdP's group")
	}
	// A new user the IdP sends with the licence group is created and let in.
	e.sim.SetIdPAccount("nina", IdPAccount{Groups: []string{e.licenceGroup()}, Password: "idp-pw"})
	steps, err = e.browser("nina", "idp-pw").SSOLogin(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if last := steps.Last(); last.User != "nina" {
		t.Errorf("JIT-created user: landed as %q (%d), want nina", last.User, last.Status)
	}
}

// A forged or garbled assertion, and a replayed OIDC code, end on the
// app's page.
func TestSSORefusesJunk(t *testing.T) {
	e := newEnv(t, Jira, func(c *Config) { c.SSO = SSOConfig{EncryptAssertions: true} })
	b := e.browser("", "")
	enc := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="x"><xenc:CipherData><xenc:CipherValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion></samlp:Response>`
	res := postForm(t, b, SAMLConsumerPath, "SAMLResponse="+strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(b64(enc)))
	if res.Status != 400 || res.User != "anonymous" { // unsigned: refused before it is read
		t.Errorf("forged encrypted assertion: %d %q, want 400 anonymous", res.Status, res.User)
	}
	code := e.sim.OIDCCode("alice")
	if res := must(t)(b.Get(t.Context(), OIDCCallbackPath+"?code="+code+"&state=%2F")); res.Status != 302 {
		t.Fatalf("first use of the code: %d", res.Status)
	}
	if res := must(t)(b.Get(t.Context(), OIDCCallbackPath+"?code="+code+"&state=%2F")); res.Status != 403 {
		t.Errorf("replayed code: %d, want 403", res.Status)
	}
}
