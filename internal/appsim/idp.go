package appsim

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
)

// The simulated identity provider, served by the simulator under /sim-idp/
// so that a browser reaches it through the same proxy as the app. It keeps
// its own session (cookie sim_idp), signs a user in with the directory's
// password (or an IdP account's), and answers the app's SSO requests:
// a SAML auto-post form to the assertion consumer, or an OIDC redirect with
// a one-time code to the callback.

const (
	idpPrefix        = "/sim-idp/"
	idpLoginPath     = "/sim-idp/login"
	idpSAMLPath      = "/sim-idp/saml/sso"
	idpAuthorizePath = "/sim-idp/oidc/authorize"
	idpCookie        = "sim_idp"
)

// IdPAccount is what the identity provider knows of a user beyond the
// directory: the e-mail it sends, the groups claim (JIT provisioning) and,
// for users the directory does not know yet, a password.
type IdPAccount struct {
	Email    string
	Groups   []string
	Password string
}

// SetIdPAccount sets what the IdP sends for user.
func (s *Sim) SetIdPAccount(user string, a IdPAccount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idpAccounts[strings.ToLower(user)] = a
}

func (s *Sim) idpAccount(user string) (IdPAccount, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.idpAccounts[strings.ToLower(user)]
	return a, ok
}

func (s *Sim) idpGroups(user string) []string {
	a, _ := s.idpAccount(user)
	return a.Groups
}

func (s *Sim) idpRoutes() {
	m := s.mux
	m.HandleFunc("GET "+SSOLoginPath, s.handleSSOStart)
	m.HandleFunc("GET "+idpLoginPath, s.handleIdPLoginPage)
	m.HandleFunc("POST "+idpLoginPath, s.handleIdPLogin)
	m.HandleFunc("GET "+idpSAMLPath, s.handleIdPSAML)
	m.HandleFunc("GET "+idpAuthorizePath, s.handleIdPAuthorize)
}

// handleSSOStart serves the app's SSO start: a redirect to the IdP,
// carrying the destination (os_destination) through RelayState or state.
func (s *Sim) handleSSOStart(w http.ResponseWriter, r *http.Request) {
	dest := safeDestination(r.URL.Query().Get("os_destination"), "/")
	if s.cfg.SSO.Method == SSOOIDC {
		http.Redirect(w, r, idpAuthorizePath+"?state="+url.QueryEscape(dest), http.StatusFound)
		return
	}
	http.Redirect(w, r, idpSAMLPath+"?RelayState="+url.QueryEscape(dest), http.StatusFound)
}

// idpUser is the user signed in at the IdP, from its session cookie.
func (s *Sim) idpUser(r *http.Request) string {
	c, err := r.Cookie(idpCookie)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idpSessions[c.Value]
}

func (s *Sim) handleIdPLoginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	next := r.URL.Query().Get("next")
	fmt.Fprintf(w, `<html><head><title>Sign in to the identity provider</title></head><body>
<form method="post" action="%s"><input name="username"><input type="password" name="password">
<input type="hidden" name="next" value="%s"></form></body></html>`, idpLoginPath, html.EscapeString(next))
}

// handleIdPLogin checks the password (the IdP account's, else the
// directory's) and starts an IdP session.
func (s *Sim) handleIdPLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, http.StatusBadRequest, "bad form")
		return
	}
	user, pw := r.PostForm.Get("username"), r.PostForm.Get("password")
	ok := false
	if a, has := s.idpAccount(user); has && a.Password != "" {
		ok = a.Password == pw
	} else {
		ok = s.verifier.VerifyPassword(r.Context(), user, pw) == nil
	}
	if !ok || user == "" {
		w.WriteHeader(http.StatusUnauthorized)
		s.handleIdPLoginPage(w, r)
		return
	}
	tok := newToken()
	s.mu.Lock()
	s.idpSessions[tok] = user
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: idpCookie, Value: tok, Path: idpPrefix, HttpOnly: true})
	next := r.PostForm.Get("next")
	if !strings.HasPrefix(next, idpPrefix) {
		next = idpPrefix
	}
	http.Redirect(w, r, next, http.StatusFound)
}

func (s *Sim) toIdPLogin(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, idpLoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
}

// handleIdPSAML answers the app's SAML request with the auto-post form a
// real IdP returns: the browser posts SAMLResponse to the consumer.
func (s *Sim) handleIdPSAML(w http.ResponseWriter, r *http.Request) {
	user := s.idpUser(r)
	if user == "" {
		s.toIdPLogin(w, r)
		return
	}
	resp := s.SAMLResponse(user)
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	fmt.Fprintf(w, `<html><body onload="document.forms[0].submit()">
<form method="post" action="%s"><input type="hidden" name="SAMLResponse" value="%s">
<input type="hidden" name="RelayState" value="%s"></form></body></html>`,
		SAMLConsumerPath, html.EscapeString(resp), html.EscapeString(r.URL.Query().Get("RelayState")))
}

// handleIdPAuthorize answers the app's OIDC authorisation request with a
// redirect to the callback carrying a one-time code.
func (s *Sim) handleIdPAuthorize(w http.ResponseWriter, r *http.Request) {
	user := s.idpUser(r)
	if user == "" {
		s.toIdPLogin(w, r)
		return
	}
	state := r.URL.Query().Get("state")
	code := s.oidcCode(user, safeDestination(state, "/"))
	http.Redirect(w, r, OIDCCallbackPath+"?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(state), http.StatusFound)
}

// SAMLResponse is the base64 SAMLResponse the IdP sends for user, shaped
// by the app's SSO configuration: NameID is the username, or the e-mail
// when the username travels in UsernameAttribute; groups and e-mail are
// attributes; with EncryptAssertions the assertion is encrypted for the app.
// It is signed (samlSignature): a response anyone else makes is answered 400.
func (s *Sim) SAMLResponse(user string) string {
	a, _ := s.idpAccount(user)
	email := a.Email
	if email == "" {
		email = user + "@example.org"
	}
	nameID := user
	var attrs strings.Builder
	writeAttr := func(name string, vals ...string) {
		fmt.Fprintf(&attrs, `<saml:Attribute Name="%s">`, xmlEscape(name))
		for _, v := range vals {
			fmt.Fprintf(&attrs, `<saml:AttributeValue>%s</saml:AttributeValue>`, xmlEscape(v))
		}
		attrs.WriteString(`</saml:Attribute>`)
	}
	if an := s.cfg.SSO.UsernameAttribute; an != "" {
		nameID = email
		writeAttr(an, user)
	}
	writeAttr("email", email)
	if len(a.Groups) > 0 {
		writeAttr("groups", a.Groups...)
	}
	assertion := `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_` + newToken() + `" Version="2.0">` +
		`<saml:Issuer>https://idp.example.org</saml:Issuer>` +
		`<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">` + xmlEscape(nameID) + `</saml:NameID></saml:Subject>` +
		`<saml:AttributeStatement>` + attrs.String() + `</saml:AttributeStatement></saml:Assertion>`
	body := assertion
	if s.cfg.SSO.EncryptAssertions {
		body = `<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">` +
			`<xenc:CipherData><xenc:CipherValue>` + s.encryptAssertion([]byte(assertion)) + `</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>`
	}
	head := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_` + newToken() + `" Version="2.0">` +
		`<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` + body
	var parsed samlResponse
	_ = xml.Unmarshal([]byte(head+`</samlp:Response>`), &parsed)
	doc := head + `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignatureValue>` +
		s.samlSignature(parsed) + `</ds:SignatureValue></ds:Signature></samlp:Response>`
	return base64.StdEncoding.EncodeToString([]byte(doc))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
