package appsim

// The login routes' handlers (REFERENCE §2): form, gadget, REST session, TSV, portal, logout.

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
)

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
