package appsim

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
)

// Seraph's login behaviour (REFERENCE §1–2): every route ends in
// passwordLogin, so the failed-login counter, CAPTCHA, group refresh and
// licence check behave the same on the form, gadget, REST, Basic and new
// login page routes.

type loginStats struct {
	failed        int
	loginCount    int
	lastLogin     time.Time
	previousLogin time.Time
	lastFailed    time.Time
}

type session struct {
	user     string
	lastSeen time.Time
}

type rememberToken struct {
	user    string
	expires time.Time
}

type outcome int

const (
	outcomeOK outcome = iota
	outcomeBadCredentials
	outcomeUnlicensed
	outcomeCaptcha
)

type loginOpts struct {
	rememberMe bool
	captcha    string
	// noLicence: JSM portal customers need no licence (REFERENCE §2).
	noLicence bool
}

type loginResult struct {
	outcome outcome
	user    string
	stats   loginStats
}

func newToken() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Sim) statsLocked(user string) *loginStats {
	k := strings.ToLower(user)
	st, ok := s.logins[k]
	if !ok {
		st = &loginStats{}
		s.logins[k] = st
	}
	return st
}

func (s *Sim) captchaRequiredLocked(user string) bool {
	if s.cfg.CaptchaThreshold < 0 {
		return false
	}
	st, ok := s.logins[strings.ToLower(user)]
	return ok && st.failed >= s.cfg.CaptchaThreshold
}

// failLocked is Seraph's onFailedLoginAttempt.
func (s *Sim) failLocked(user string) {
	st := s.statsLocked(user)
	st.failed++
	st.lastFailed = s.now()
}

// passwordLogin is one Seraph password login: CAPTCHA guard, password check,
// group refresh (before the licence check, REFERENCE §5), licence check, then
// a new session. An unlicensed user with a valid password counts as a failed
// login and loses the remember-me cookie (REFERENCE §1).
func (s *Sim) passwordLogin(ctx context.Context, w http.ResponseWriter, r *http.Request, rs *reqState, typed, password string, opts loginOpts) loginResult {
	s.mu.Lock()
	captcha := s.captchaRequiredLocked(typed)
	s.mu.Unlock()
	if captcha && opts.captcha != CaptchaAnswer {
		// The elevated security check fails before the password is read.
		rs.reason(ReasonDenied)
		return loginResult{outcome: outcomeCaptcha, user: typed}
	}
	if err := s.verifier.VerifyPassword(ctx, typed, password); err != nil {
		rs.reason(ReasonAuthFailed)
		if errors.Is(err, directory.ErrBadCredentials) {
			// Unknown users have no counter to bump; known ones do.
			s.mu.Lock()
			s.failLocked(typed)
			s.mu.Unlock()
		} else if !errors.Is(err, directory.ErrUserNotFound) {
			s.log.Warn("appsim verify password", "user", typed, "err", err)
		}
		return loginResult{outcome: outcomeBadCredentials, user: typed}
	}
	name := s.storedName(ctx, typed)
	s.refreshAtLogin(ctx, name)
	res := s.finishLogin(w, r, rs, name, opts, "login")
	s.log.Debug("appsim login", "user", name, "outcome", res.outcome.String())
	return res
}

func (o outcome) String() string {
	switch o {
	case outcomeOK:
		return ReasonOK
	case outcomeBadCredentials:
		return ReasonAuthFailed
	case outcomeUnlicensed:
		return ReasonAuthorisation
	case outcomeCaptcha:
		return ReasonDenied
	}
	return "unknown"
}

// finishLogin runs the licence check and establishes the session; shared by
// password, remember-me and SSO logins.
func (s *Sim) finishLogin(w http.ResponseWriter, r *http.Request, rs *reqState, name string, opts loginOpts, via string) loginResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !opts.noLicence && !s.licensedLocked(name) && !s.isAdmin(name) {
		rs.reason(ReasonAuthorisation)
		s.failLocked(name)
		s.dropRememberMeLocked(w, r)
		return loginResult{outcome: outcomeUnlicensed, user: name, stats: *s.statsLocked(name)}
	}
	st := s.statsLocked(name)
	st.failed = 0
	st.loginCount++
	st.previousLogin, st.lastLogin = st.lastLogin, s.now()
	// A login replaces the request's session (session fixation protection).
	if c, err := r.Cookie(SessionCookie); err == nil {
		delete(s.sessions, c.Value)
	}
	if len(s.sessions) >= sweepSessionsAt {
		s.sweepLocked()
	}
	id := newToken()
	s.sessions[id] = &session{user: name, lastSeen: s.now()}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true})
	if opts.rememberMe {
		tok := newToken()
		s.remember[tok] = &rememberToken{user: name, expires: s.now().Add(s.cfg.RememberMeAge)}
		http.SetCookie(w, &http.Cookie{Name: s.rememberCookie(), Value: tok, Path: "/", HttpOnly: true,
			MaxAge: int(s.cfg.RememberMeAge / time.Second)})
	}
	rs.user, rs.via = name, via
	rs.reason(ReasonOK)
	rs.sessionID = id
	return loginResult{outcome: outcomeOK, user: name, stats: *st}
}

// dropRememberMeLocked deletes the request's remember-me token and tells the
// browser to delete the cookie.
func (s *Sim) dropRememberMeLocked(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.rememberCookie()); err == nil {
		delete(s.remember, c.Value)
		http.SetCookie(w, &http.Cookie{Name: s.rememberCookie(), Value: "", Path: "/", MaxAge: -1})
	}
}

// rememberMeLogin is Seraph's cookie path: it looks the user up and checks
// login rights, and does NOT refresh groups (REFERENCE §5).
// Assumption: the CAPTCHA guard does not apply on this path.
func (s *Sim) rememberMeLogin(w http.ResponseWriter, r *http.Request, rs *reqState, value string) {
	s.mu.Lock()
	tok, ok := s.remember[value]
	valid := ok && s.now().Before(tok.expires)
	if !valid {
		delete(s.remember, value)
		http.SetCookie(w, &http.Cookie{Name: s.rememberCookie(), Value: "", Path: "/", MaxAge: -1})
		s.mu.Unlock()
		return
	}
	user := tok.user
	s.mu.Unlock()
	s.finishLogin(w, r, rs, user, loginOpts{}, "cookie")
}

// sessionUser returns the live session's user and keeps the session alive:
// any request, polling included, counts (REFERENCE §2).
func (s *Sim) sessionUser(r *http.Request, rs *reqState) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[c.Value]
	if !ok {
		return "", false
	}
	if s.now().Sub(ss.lastSeen) > s.cfg.SessionTimeout {
		delete(s.sessions, c.Value)
		return "", false
	}
	ss.lastSeen = s.now()
	rs.sessionID = c.Value
	return ss.user, true
}

// sweepSessionsAt bounds memory in long demo runs: Basic clients that drop
// cookies leave one dead session per request, as they do in Jira.
const sweepSessionsAt = 1024

func (s *Sim) sweepLocked() {
	now := s.now()
	for id, ss := range s.sessions {
		if now.Sub(ss.lastSeen) > s.cfg.SessionTimeout {
			delete(s.sessions, id)
		}
	}
	for tok, rt := range s.remember {
		if !now.Before(rt.expires) {
			delete(s.remember, tok)
		}
	}
}

// ActiveSessions counts sessions that have not timed out.
func (s *Sim) ActiveSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	return len(s.sessions)
}

// SessionsOf counts the user's live sessions.
func (s *Sim) SessionsOf(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ss := range s.sessions {
		if strings.EqualFold(ss.user, user) && s.now().Sub(ss.lastSeen) <= s.cfg.SessionTimeout {
			n++
		}
	}
	return n
}

// FailedLoginCount is the user's current failed-login counter.
func (s *Sim) FailedLoginCount(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.logins[strings.ToLower(user)]; ok {
		return st.failed
	}
	return 0
}

// LoginCount is the user's number of successful logins.
func (s *Sim) LoginCount(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.logins[strings.ToLower(user)]; ok {
		return st.loginCount
	}
	return 0
}

// CaptchaRequired reports whether the user's next login meets a CAPTCHA.
func (s *Sim) CaptchaRequired(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.captchaRequiredLocked(user)
}

// ResetFailedLogins clears the counter, as an admin's "reset failed login
// count" does.
func (s *Sim) ResetFailedLogins(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statsLocked(user).failed = 0
}

func (s *Sim) deniedHeader(w http.ResponseWriter, r *http.Request) {
	loginURL := "http://" + r.Host + "/login.jsp"
	if s.cfg.Product == Confluence {
		loginURL = "http://" + r.Host + "/login.action"
	}
	w.Header().Set(HeaderDeniedReason, "CAPTCHA_CHALLENGE; login-url="+loginURL)
}

// writeLoginFailureREST answers a failed REST or Basic login: 403 with the
// CAPTCHA header when denied, 401 otherwise (REFERENCE §1–2).
func (s *Sim) writeLoginFailureREST(w http.ResponseWriter, r *http.Request, res loginResult) {
	if res.outcome == outcomeCaptcha {
		s.deniedHeader(w, r)
		s.writeError(w, http.StatusForbidden, "CAPTCHA_CHALLENGE")
		return
	}
	s.writeError(w, http.StatusUnauthorized, "Login failed")
}

// safeDestination keeps os_destination on this site: Seraph refuses
// redirects elsewhere.
func safeDestination(d, def string) string {
	if d == "" || !strings.HasPrefix(d, "/") || strings.HasPrefix(d, "//") {
		return def
	}
	return d
}

// handleFormLogin serves Jira POST /login.jsp and Confluence POST
// /dologin.action (REFERENCE §2). Success redirects; failure re-renders the
// login page with the product's message and 200, as the apps do.
func (s *Sim) handleFormLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, http.StatusBadRequest, "bad form")
		return
	}
	rs := state(r)
	res := s.passwordLogin(r.Context(), w, r, rs, r.PostForm.Get("os_username"), r.PostForm.Get("os_password"),
		loginOpts{rememberMe: r.PostForm.Get("os_cookie") == "true", captcha: r.PostForm.Get("os_captcha")})
	def := "/secure/Dashboard.jspa"
	if s.cfg.Product == Confluence {
		def = "/index.action"
	}
	switch res.outcome {
	case outcomeOK:
		http.Redirect(w, r, safeDestination(r.PostForm.Get("os_destination"), def), http.StatusFound)
	case outcomeUnlicensed:
		msg := "You do not have a permission to log in."
		if s.cfg.Product == Confluence {
			msg = "Not Permitted"
		}
		s.loginPage(w, http.StatusOK, msg)
	case outcomeCaptcha:
		s.loginPage(w, http.StatusOK, "Sorry, your userid is required to answer a CAPTCHA question correctly.")
	default:
		msg := "Sorry, your username and password are incorrect - please try again."
		s.loginPage(w, http.StatusOK, msg)
	}
}

func (s *Sim) loginPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(status)
	action := "/login.jsp"
	if s.cfg.Product == Confluence {
		action = "/dologin.action"
	}
	fmt.Fprintf(w, `<html><head><title>Log in</title></head><body><div class="aui-message error">%s</div>
<form method="post" action="%s"><input name="os_username"><input type="password" name="os_password">
<input type="checkbox" name="os_cookie" value="true"></form></body></html>`, html.EscapeString(msg), action)
}

// handleLoginPageGet serves GET of the login pages.
func (s *Sim) handleLoginPageGet(w http.ResponseWriter, r *http.Request) {
	s.loginPage(w, http.StatusOK, "")
}

// handleGadgetLogin serves Jira POST /rest/gadget/1.0/login: always 200 with
// a JSON verdict (REFERENCE §2).
func (s *Sim) handleGadgetLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, http.StatusBadRequest, "bad form")
		return
	}
	res := s.passwordLogin(r.Context(), w, r, state(r), r.PostForm.Get("os_username"), r.PostForm.Get("os_password"),
		loginOpts{rememberMe: r.PostForm.Get("os_cookie") == "true", captcha: r.PostForm.Get("os_captcha")})
	// Field names as Jira's LoginProperties serialises them.
	writeJSON(w, http.StatusOK, map[string]any{
		"loginSucceeded":               res.outcome == outcomeOK,
		"loginError":                   res.outcome == outcomeBadCredentials,
		"communicationError":           false,
		"allowCookies":                 true,
		"externalPasswordManagement":   false,
		"externalUserManagement":       false,
		"isPublicMode":                 false,
		"isElevatedSecurityCheckShown": res.outcome == outcomeCaptcha,
		"captchaFailure":               res.outcome == outcomeCaptcha,
		"loginFailedByPermissions":     res.outcome == outcomeUnlicensed,
		"contactAdminLink":             "",
	})
}

type credentialsJSON struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	RememberMe bool   `json:"rememberMe"`
	TargetURL  string `json:"targetUrl"`
	CaptchaID  string `json:"captchaId"`
}

func readCredentials(r *http.Request) (credentialsJSON, error) {
	var c credentialsJSON
	err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&c)
	return c, err
}

// handleSessionLogin serves Jira POST /rest/auth/1/session (REFERENCE §2).
func (s *Sim) handleSessionLogin(w http.ResponseWriter, r *http.Request) {
	c, err := readCredentials(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "bad JSON")
		return
	}
	res := s.passwordLogin(r.Context(), w, r, state(r), c.Username, c.Password, loginOpts{captcha: c.CaptchaID})
	if res.outcome != outcomeOK {
		s.writeLoginFailureREST(w, r, res)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"session":   map[string]string{"name": SessionCookie, "value": state(r).sessionID},
		"loginInfo": loginInfoJSON(res.stats),
	})
}

func loginInfoJSON(st loginStats) map[string]any {
	m := map[string]any{"failedLoginCount": st.failed, "loginCount": st.loginCount}
	if !st.lastFailed.IsZero() {
		m["lastFailedLoginTime"] = st.lastFailed.Format("2006-01-02T15:04:05.000-0700")
	}
	if !st.previousLogin.IsZero() {
		m["previousLoginTime"] = st.previousLogin.Format("2006-01-02T15:04:05.000-0700")
	}
	return m
}

// handleSessionGet serves GET /rest/auth/1/session: who is logged in.
func (s *Sim) handleSessionGet(w http.ResponseWriter, r *http.Request) {
	rs := state(r)
	if rs.user == "" {
		s.writeError(w, http.StatusUnauthorized, "You are not authenticated. Authentication required to perform this operation.")
		return
	}
	s.mu.Lock()
	st := *s.statsLocked(rs.user)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"self": "http://" + r.Host + "/rest/api/latest/user?username=" + rs.user, "name": rs.user,
		"loginInfo": loginInfoJSON(st),
	})
}

// handleTSVAuthenticate serves POST /rest/tsv/1.0/authenticate (Jira 10+,
// Confluence 9+). Assumption: REFERENCE calls the failure shape unconfirmed;
// the simulator answers 401 with an error JSON, and 403 plus the CAPTCHA
// header when denied, like /rest/auth/1/session.
func (s *Sim) handleTSVAuthenticate(w http.ResponseWriter, r *http.Request) {
	c, err := readCredentials(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "bad JSON")
		return
	}
	res := s.passwordLogin(r.Context(), w, r, state(r), c.Username, c.Password,
		loginOpts{rememberMe: c.RememberMe, captcha: c.CaptchaID})
	if res.outcome != outcomeOK {
		s.writeLoginFailureREST(w, r, res)
		return
	}
	def := "/secure/Dashboard.jspa"
	if s.cfg.Product == Confluence {
		def = "/index.action"
	}
	writeJSON(w, http.StatusOK, map[string]any{"redirectUrl": safeDestination(c.TargetURL, def)})
}

// handlePortalLogin serves JSM POST /servicedesk/customer/user/login:
// portal customers need no licence (REFERENCE §2). Assumption: a form post
// answered with JSON, 401 on failure.
func (s *Sim) handlePortalLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, http.StatusBadRequest, "bad form")
		return
	}
	res := s.passwordLogin(r.Context(), w, r, state(r), r.PostForm.Get("os_username"), r.PostForm.Get("os_password"),
		loginOpts{noLicence: true, captcha: r.PostForm.Get("os_captcha"), rememberMe: r.PostForm.Get("os_cookie") == "true"})
	if res.outcome != outcomeOK {
		s.writeLoginFailureREST(w, r, res)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"loginSucceeded": true})
}

// handleLogout serves /logout (and the products' own logout pages) and
// DELETE /rest/auth/1/session: the session and remember-me token go, and
// the reason is OUT.
func (s *Sim) handleLogout(w http.ResponseWriter, r *http.Request) {
	rs := state(r)
	hadSession := s.endSession(w, r, rs)
	if r.Method == http.MethodDelete {
		if !hadSession {
			s.writeError(w, http.StatusUnauthorized, "You are not authenticated.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	dest := "/login.jsp"
	if s.cfg.Product == Confluence {
		dest = "/login.action?logout=true"
	}
	http.Redirect(w, r, dest, http.StatusFound)
}

func (s *Sim) endSession(w http.ResponseWriter, r *http.Request, rs *reqState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	had := false
	if rs.sessionID != "" {
		_, had = s.sessions[rs.sessionID]
		delete(s.sessions, rs.sessionID)
	}
	s.dropRememberMeLocked(w, r)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1})
	rs.user, rs.via = "", ""
	rs.reasons = append(rs.reasons[:0], ReasonOut)
	return had
}

// handleUserSessionsDelete serves Jira 9.11+ DELETE
// /rest/api/2/user/session/{username}: ends every session of the user
// (REFERENCE §1). Remember-me tokens survive, as they are not sessions.
func (s *Sim) handleUserSessionsDelete(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	user := r.PathValue("username")
	s.mu.Lock()
	for id, ss := range s.sessions {
		if strings.EqualFold(ss.user, user) {
			delete(s.sessions, id)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
