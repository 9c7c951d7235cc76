package appsim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// SSO for Data Center (REFERENCE §2): SAML and OIDC logins, with the
// identity provider simulated inside appsim (idp.go). The IdP is trusted
// blindly, as the real app trusts a correctly signed assertion: what matters
// to floatseat is where the username is (or is not) in the request, that an
// SSO login refreshes groups and runs the licence check like a password
// login, that just-in-time provisioning overwrites internal-directory groups,
// and what an unlicensed user sees ("We can't log you in right now").

// SSO methods for SSOConfig.Method.
const (
	SSOSAML = "saml"
	SSOOIDC = "oidc"
)

// SSO routes of the app (REFERENCE §2).
const (
	SAMLConsumerPath = "/plugins/servlet/samlconsumer"
	OIDCCallbackPath = "/plugins/servlet/oidc/callback"
	// SSOLoginPath starts an SSO login: it redirects to the identity
	// provider. Assumption: REFERENCE does not name the app's start URL;
	// the simulator uses the one of the login page's SSO button.
	SSOLoginPath = "/plugins/servlet/external-login"
)

// SSOConfig is the app's "SSO 2.0" configuration (Administration →
// Authentication methods).
type SSOConfig struct {
	// Method is what SSOLoginPath starts: SSOSAML (default) or SSOOIDC.
	Method string
	// UsernameAttribute: the SAML attribute holding the username; empty
	// uses NameID (the app's default "${NameID}" username mapping). When
	// set, the simulated IdP sends the user's e-mail as NameID.
	UsernameAttribute string
	// EncryptAssertions: the IdP encrypts the assertion for the app, so
	// nothing between them can read the username.
	EncryptAssertions bool
	// JIT is just-in-time provisioning: at every SSO login the user is
	// created in the internal directory if missing and the user's
	// internal-directory groups are made to match the IdP's groups claim
	// (REFERENCE §2): a licence group the IdP does not send is removed.
	JIT bool
}

// ssoPage markers: the page an unlicensed SSO user sees (REFERENCE §2).
const ssoRefusedTitle = "We can't log you in right now"

// handleSAML serves POST /plugins/servlet/samlconsumer (REFERENCE §2). The
// username is NameID, or the configured attribute; an encrypted assertion
// is decrypted with the app's key. No X-Seraph-LoginReason is set on SSO
// failures.
func (s *Sim) handleSAML(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, http.StatusBadRequest, "bad form")
		return
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.PostForm.Get("SAMLResponse")))
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "bad SAMLResponse")
		return
	}
	if !s.signedByIdP(raw) {
		// A response the IdP did not sign (forged, or altered on the way):
		// refused before anything is read from it (REFERENCE §12).
		s.writeError(w, http.StatusBadRequest, "SAML response signature is not valid")
		return
	}
	a, err := s.readAssertion(raw)
	if err != nil {
		s.log.Debug("appsim SAML response refused", "err", err)
		s.ssoRefused(w)
		return
	}
	user := a.NameID
	if attr := s.cfg.SSO.UsernameAttribute; attr != "" {
		user = a.attr(attr)
	}
	if strings.TrimSpace(user) == "" {
		s.ssoRefused(w)
		return
	}
	s.ssoLogin(w, r, strings.TrimSpace(user), a.attrs("groups"), r.PostForm.Get("RelayState"))
}

// samlResponse is the part of a SAML 2.0 Response the simulator reads.
type samlResponse struct {
	XMLName   xml.Name      `xml:"Response"`
	Assertion samlAssertion `xml:"Assertion"`
	Encrypted struct {
		CipherValue string `xml:"EncryptedData>CipherData>CipherValue"`
	} `xml:"EncryptedAssertion"`
	SignatureValue string `xml:"Signature>SignatureValue"`
}

// samlSignature stands in for the IdP's XML signature: an HMAC, under a
// key only the simulator holds, of what the app reads from the response
// (the assertion's NameID and attributes, or the encrypted assertion).
func (s *Sim) samlSignature(doc samlResponse) string {
	m := hmac.New(sha256.New, s.ssoKey[:])
	m.Write([]byte("saml-signature\x00"))
	m.Write([]byte(strings.TrimSpace(doc.Encrypted.CipherValue)))
	m.Write([]byte{0})
	m.Write([]byte(doc.Assertion.NameID))
	for _, at := range doc.Assertion.Attributes {
		m.Write([]byte{0})
		m.Write([]byte(at.Name))
		for _, v := range at.Values {
			m.Write([]byte{1})
			m.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// signedByIdP reports whether raw carries the simulated IdP's signature.
func (s *Sim) signedByIdP(raw []byte) bool {
	var doc samlResponse
	if err := xml.Unmarshal(raw, &doc); err != nil || doc.SignatureValue == "" {
		return false
	}
	return hmac.Equal([]byte(strings.TrimSpace(doc.SignatureValue)), []byte(s.samlSignature(doc)))
}

type samlAssertion struct {
	NameID     string `xml:"Subject>NameID"`
	Attributes []struct {
		Name   string   `xml:"Name,attr"`
		Values []string `xml:"AttributeValue"`
	} `xml:"AttributeStatement>Attribute"`
}

func (a samlAssertion) attrs(name string) []string {
	for _, at := range a.Attributes {
		if at.Name == name {
			return at.Values
		}
	}
	return nil
}

func (a samlAssertion) attr(name string) string {
	if v := a.attrs(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (s *Sim) readAssertion(raw []byte) (samlAssertion, error) {
	var doc samlResponse
	if err := xml.Unmarshal(raw, &doc); err != nil {
		return samlAssertion{}, fmt.Errorf("parse: %w", err)
	}
	if cv := strings.TrimSpace(doc.Encrypted.CipherValue); cv != "" {
		plain, err := s.decryptAssertion(cv)
		if err != nil {
			return samlAssertion{}, err
		}
		var a samlAssertion
		if err := xml.Unmarshal(plain, &a); err != nil {
			return samlAssertion{}, fmt.Errorf("parse decrypted assertion: %w", err)
		}
		return a, nil
	}
	return doc.Assertion, nil
}

// encryptAssertion and decryptAssertion stand in for XML Encryption with
// the app's key pair: AES-GCM under a key only the simulator holds.
func (s *Sim) encryptAssertion(plain []byte) string {
	gcm := s.gcm()
	nonce := []byte(newToken())[:gcm.NonceSize()]
	return base64.StdEncoding.EncodeToString(gcm.Seal(append([]byte(nil), nonce...), nonce, plain, nil))
}

func (s *Sim) decryptAssertion(cv string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(cv)
	gcm := s.gcm()
	if err != nil || len(b) < gcm.NonceSize() {
		return nil, fmt.Errorf("bad cipher value")
	}
	plain, err := gcm.Open(nil, b[:gcm.NonceSize()], b[gcm.NonceSize():], nil)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return plain, nil
}

func (s *Sim) gcm() cipher.AEAD {
	blk, _ := aes.NewCipher(s.ssoKey[:]) // 32 bytes: never fails
	g, _ := cipher.NewGCM(blk)
	return g
}

// ssoLogin is what SAML and OIDC logins share (REFERENCE §2, §5): JIT
// provisioning when on, the group refresh of a password login, the
// licence check, then a new session and a redirect to the destination.
func (s *Sim) ssoLogin(w http.ResponseWriter, r *http.Request, typed string, idpGroups []string, dest string) {
	ctx := r.Context()
	if s.cfg.SSO.JIT {
		s.provision(ctx, typed, idpGroups)
	}
	if _, err := s.dir.UserGroups(ctx, typed, false); err != nil {
		s.ssoRefused(w)
		return
	}
	name := s.storedName(ctx, typed)
	s.refreshAtLogin(ctx, name)
	s.mu.Lock()
	ok := s.licensedLocked(name) || s.isAdmin(name)
	s.mu.Unlock()
	if !ok {
		// Assumption: unlike a password login, this refusal does not bump
		// the failed-login counter.
		s.ssoRefused(w)
		return
	}
	s.finishLogin(w, r, state(r), name, loginOpts{}, "sso")
	s.mu.Lock()
	s.ssoLogins++
	s.mu.Unlock()
	http.Redirect(w, r, safeDestination(dest, "/"), http.StatusFound)
}

// provision is just-in-time provisioning (REFERENCE §2): create the user
// in the internal directory if missing, then make its internal-directory
// groups exactly the IdP's. It works on the internal directory only, as the
// real one does; with an external directory it does nothing.
func (s *Sim) provision(ctx context.Context, user string, idpGroups []string) {
	in := s.internal
	if in == nil {
		return
	}
	if _, err := in.UserGroups(ctx, user, false); err != nil {
		in.AddUser(user, newToken())
	}
	have, _ := in.UserGroups(ctx, user, false)
	for _, g := range have {
		if !slices.ContainsFunc(idpGroups, func(x string) bool { return strings.EqualFold(x, g) }) {
			_ = in.RemoveMember(ctx, user, g)
		}
	}
	for _, g := range idpGroups {
		in.AddGroup(g)
		_ = in.AddMember(ctx, user, g)
	}
	// The internal directory is the app's own: its changes show at once.
	name := s.storedName(ctx, user)
	nested, _ := in.UserGroups(ctx, name, true)
	direct, _ := in.UserGroups(ctx, name, false)
	s.mu.Lock()
	u := s.cache.ensureUser(name)
	for _, g := range nested {
		s.cache.track(g)
	}
	s.cache.setGroups(u, direct, nested)
	s.cacheGen++
	s.observeCountsLocked()
	s.mu.Unlock()
}

// SSOLogins counts successful SSO logins.
func (s *Sim) SSOLogins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ssoLogins
}

// handleOIDCCallback serves GET /plugins/servlet/oidc/callback?code=&state=:
// the app redeems the code at the IdP for the user (claim sub). The request
// names nobody (REFERENCE §2).
func (s *Sim) handleOIDCCallback(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	s.mu.Lock()
	grant, ok := s.oidcCodes[code]
	delete(s.oidcCodes, code)
	s.mu.Unlock()
	if !ok {
		s.ssoRefused(w)
		return
	}
	s.ssoLogin(w, r, grant.user, s.idpGroups(grant.user), grant.dest)
}

// OIDCCode plays the identity provider: a one-time code that the callback
// redeems as user.
func (s *Sim) OIDCCode(user string) string { return s.oidcCode(user, "/") }

func (s *Sim) oidcCode(user, dest string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := newToken()
	s.oidcCodes[code] = oidcGrant{user: user, dest: dest}
	return code
}

type oidcGrant struct {
	user string
	dest string
}

// ssoRefused is the page an SSO user without a licence (or with an
// assertion the app refuses) sees. Assumption: it answers 403; REFERENCE §2
// says only that no X-Seraph-LoginReason is set.
func (s *Sim) ssoRefused(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(http.StatusForbidden)
	var b bytes.Buffer
	b.WriteString(`<html><head><title>` + ssoRefusedTitle + `</title></head><body class="sso-error">`)
	b.WriteString(`<h1>` + ssoRefusedTitle + `</h1><p>Contact your administrator.</p></body></html>`)
	_, _ = w.Write(b.Bytes())
}
