package appsim

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
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
