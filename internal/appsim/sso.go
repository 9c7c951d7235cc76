package appsim

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// SSO for Data Center (REFERENCE §2): SAML and OIDC logins. The simulated
// identity provider is trusted blindly; what matters to floatseat is where
// the username is (or is not) in the request, and that an SSO login
// refreshes groups and runs the licence check like a password login.

// handleSAML serves POST /plugins/servlet/samlconsumer (REFERENCE §2: SSO).
// The simulated IdP is trusted blindly: the username is the assertion's
// NameID. An SSO login refreshes groups like a password login, then runs the
// licence check; an unlicensed user sees "We can't log you in right now" and
// no X-Seraph-LoginReason is set. Assumption: that failure does not bump the
// failed-login counter and answers 403.
func (s *Sim) handleSAML(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, http.StatusBadRequest, "bad form")
		return
	}
	raw, err := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLResponse"))
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "bad SAMLResponse")
		return
	}
	var doc struct {
		NameID string `xml:"Assertion>Subject>NameID"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil || strings.TrimSpace(doc.NameID) == "" {
		s.writeError(w, http.StatusBadRequest, "no NameID in SAMLResponse")
		return
	}
	s.ssoLogin(w, r, strings.TrimSpace(doc.NameID), r.PostForm.Get("RelayState"))
}

// ssoLogin is what SAML and OIDC logins share: group refresh like a
// password login, then the licence check (REFERENCE §2, SSO).
func (s *Sim) ssoLogin(w http.ResponseWriter, r *http.Request, typed, dest string) {
	ctx := r.Context()
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
		s.ssoRefused(w)
		return
	}
	s.finishLogin(w, r, state(r), name, loginOpts{}, "sso")
	http.Redirect(w, r, safeDestination(dest, "/"), http.StatusFound)
}

// OIDCCode plays the identity provider: it returns a one-time code that
// GET /plugins/servlet/oidc/callback?code=…&state=… redeems as user. The
// callback names nobody (REFERENCE §2), which is what floatseat must cope with.
func (s *Sim) OIDCCode(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := newToken()
	s.oidcCodes[code] = user
	return code
}

// handleOIDCCallback serves GET /plugins/servlet/oidc/callback.
func (s *Sim) handleOIDCCallback(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	s.mu.Lock()
	user, ok := s.oidcCodes[code]
	delete(s.oidcCodes, code)
	s.mu.Unlock()
	if !ok {
		s.ssoRefused(w)
		return
	}
	s.ssoLogin(w, r, user, "/")
}

func (s *Sim) ssoRefused(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprint(w, "<html><body><h1>We can't log you in right now</h1></body></html>")
}
