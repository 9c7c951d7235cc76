package appsim

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
)

// routes wires the product's endpoints. Go's ServeMux patterns keep the
// table readable; everything else answers 404 as the apps do.
func (s *Sim) routes() {
	m := s.mux
	// Common to both products.
	m.HandleFunc("POST /rest/tsv/1.0/authenticate", s.handleTSVAuthenticate)
	m.HandleFunc("POST /plugins/servlet/samlconsumer", s.handleSAML)
	m.HandleFunc("GET /plugins/servlet/oidc/callback", s.handleOIDCCallback)
	m.HandleFunc("POST /rest/pat/latest/tokens", s.handleCreatePAT)
	m.HandleFunc("/logout", s.handleLogout)
	s.idpRoutes()
	s.backgroundRoutes()

	if s.cfg.Product == Confluence {
		m.HandleFunc("GET /login.action", s.handleLoginPageGet)
		m.HandleFunc("POST /dologin.action", s.handleFormLogin)
		m.HandleFunc("/logout.action", s.handleLogout)
		m.HandleFunc("GET /rest/license/1.0/license/{what}", s.handleConfluenceLicense)
		m.HandleFunc("PUT /rest/api/user/{user}/group/{group}", s.handleConfluenceGroupPut)
		m.HandleFunc("DELETE /rest/api/user/{user}/group/{group}", s.handleConfluenceGroupDelete)
		m.HandleFunc("GET /rest/api/group/{group}/member", s.handleConfluenceGroupMembers)
		m.HandleFunc("GET /rest/api/user/memberof", s.handleConfluenceMemberOf)
		m.HandleFunc("POST /rest/api/admin/group", s.handleCreateGroup)
		m.HandleFunc("GET /rest/api/group/{group}", s.handleConfluenceGroup)
		m.HandleFunc("GET /rest/api/user", s.handleConfluenceUser)
		m.HandleFunc("GET /rest/api/user/current", s.handleCurrentUser)
		m.HandleFunc("GET /index.action", s.work("dashboard", false))
		m.HandleFunc("GET /pages/viewpage.action", s.work("page", false))
		m.HandleFunc("GET /display/", s.work("page", false))
		m.HandleFunc("GET /rest/api/content/{id}", s.work("content", true))
		m.HandleFunc("POST /rest/api/content", s.handleCreatePage)
		return
	}
	m.HandleFunc("GET /login.jsp", s.handleLoginPageGet)
	m.HandleFunc("POST /login.jsp", s.handleFormLogin)
	m.HandleFunc("/secure/Logout!default.jspa", s.handleLogout)
	m.HandleFunc("POST /rest/gadget/1.0/login", s.handleGadgetLogin)
	m.HandleFunc("POST /rest/auth/1/session", s.handleSessionLogin)
	m.HandleFunc("GET /rest/auth/1/session", s.handleSessionGet)
	m.HandleFunc("DELETE /rest/auth/1/session", s.handleLogout)
	m.HandleFunc("POST /servicedesk/customer/user/login", s.handlePortalLogin)
	m.HandleFunc("GET /servicedesk/customer/portals", s.handlePortal)
	m.HandleFunc("GET /rest/api/2/applicationrole", s.handleApplicationRoles)
	m.HandleFunc("GET /rest/api/2/applicationrole/{key}", s.handleApplicationRole)
	m.HandleFunc("POST /rest/api/2/group/user", s.handleJiraGroupAdd)
	m.HandleFunc("DELETE /rest/api/2/group/user", s.handleJiraGroupRemove)
	m.HandleFunc("GET /rest/api/2/group/member", s.handleJiraGroupMembers)
	m.HandleFunc("POST /rest/api/2/group", s.handleCreateGroup)
	m.HandleFunc("GET /rest/api/2/user", s.handleJiraUser)
	m.HandleFunc("DELETE /rest/api/2/user/session/{username}", s.handleUserSessionsDelete)
	m.HandleFunc("GET /rest/api/2/myself", s.handleCurrentUser)
	m.HandleFunc("GET /rest/api/2/serverInfo", s.handleServerInfo)
	m.HandleFunc("GET /secure/Dashboard.jspa", s.handleDashboard)
	m.HandleFunc("GET /browse/{key}", s.work("issue", false))
	m.HandleFunc("GET /rest/api/2/issue/{key}", s.work("issue", true))
	m.HandleFunc("POST /rest/api/2/issue", s.handleCreateIssue)
	s.productRoutes()
}

// backgroundRoutes answer the polling and page-load requests of REFERENCE §6
// plausibly. They need no licence and keep a session alive like any request.
func (s *Sim) backgroundRoutes() {
	m := s.mux
	ok := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			fmt.Fprint(w, body)
		}
	}
	noContent := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
	m.HandleFunc("GET /rest/mywork/{ver}/status/notification/count", ok(`{"count":0,"timeout":30,"maxTimeout":300}`))
	m.HandleFunc("POST /rest/analytics/1.0/publish/bulk", ok(`{}`))
	m.HandleFunc("POST /rest/webResources/1.0/resources", ok(`{"resources":[],"unparsedData":{},"unparsedErrors":{}}`))
	m.HandleFunc("POST /rest/wrm/2.0/resources", ok(`{"resources":[],"unparsedData":{},"unparsedErrors":{}}`))
	m.HandleFunc("GET /rest/troubleshooting/1.0/check/", ok(`[]`))
	m.HandleFunc("GET /rest/helptips/1.0/tips", ok(`[]`))
	m.HandleFunc("GET /rest/nativemobile/1.0/", ok(`{}`))
	if s.cfg.Product == Confluence {
		m.HandleFunc("GET /rest/quickreload/", ok(`[]`))
		m.HandleFunc("POST /json/startheartbeatactivity.action", ok(`{"activeUsers":[]}`))
		m.HandleFunc("POST /json/heartbeat.action", ok(`{"activeUsers":[]}`))
		m.HandleFunc("/rest/synchrony-interop/", ok(`{}`))
		m.HandleFunc("/synchrony/", ok(`{}`))
		m.HandleFunc("/synchrony-proxy/", ok(`{}`))
		return
	}
	m.HandleFunc("GET /rest/servicedesk/1/servicedesk/{id}/queues/poll", ok(`{"changed":false}`))
	m.HandleFunc("GET /rest/servicedesk/1/servicedesk/{id}/issuelist/updated", ok(`{"updated":false}`))
	// REFERENCE §6: the SLA polling path is unconfirmed; anything under .../sla answers.
	m.HandleFunc("GET /rest/servicedesk/1/servicedesk/{id}/sla", ok(`{}`))
	m.HandleFunc("GET /rest/servicedesk/1/servicedesk/{id}/sla/", ok(`{}`))
	m.HandleFunc("GET /rest/menu/latest/appswitcher", ok(`[]`))
	m.HandleFunc("/rest/gadget/1.0/issueTable/", ok(`{"table":[]}`))
	m.HandleFunc("GET /plugins/servlet/streams", noContent)
}

// mayWork is the per-request licence check on real work (REFERENCE §1: a
// live session is not re-authorised, only per-request checks change). It
// writes the refusal and returns false when the request may not proceed.
func (s *Sim) mayWork(w http.ResponseWriter, r *http.Request, rest bool) bool {
	rs := state(r)
	if rs.user == "" {
		if rest {
			s.writeError(w, http.StatusUnauthorized, "You are not authenticated. Authentication required to perform this operation.")
			return false
		}
		login := "/login.jsp"
		if s.cfg.Product == Confluence {
			login = "/login.action"
		}
		http.Redirect(w, r, login+"?os_destination="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return false
	}
	if s.cfg.UnlicensedSessionForbidden && !s.Licensed(rs.user) {
		s.writeError(w, http.StatusForbidden, "no application access: "+rs.user+" does not have access to "+s.cfg.Product)
		return false
	}
	return true
}

// work serves a read-only real-work page (view issue, view page).
func (s *Sim) work(kind string, rest bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.mayWork(w, r, rest) {
			return
		}
		if rest {
			writeJSON(w, http.StatusOK, map[string]any{"kind": kind, "key": r.PathValue("key"), "id": r.PathValue("id")})
			return
		}
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		fmt.Fprintf(w, "<html><body><h1>%s %s</h1></body></html>", kind, html.EscapeString(r.URL.RequestURI()))
	}
}

// handleDashboard: Jira shows the dashboard to anonymous users too (with a
// login gadget), so only a logged-in unlicensed user can be refused.
func (s *Sim) handleDashboard(w http.ResponseWriter, r *http.Request) {
	if state(r).user != "" && !s.mayWork(w, r, false) {
		return
	}
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	fmt.Fprint(w, "<html><body><h1>System Dashboard</h1></body></html>")
}

// handlePortal: JSM customers need no licence, only a login.
func (s *Sim) handlePortal(w http.ResponseWriter, r *http.Request) {
	if state(r).user == "" {
		s.writeError(w, http.StatusUnauthorized, "login required")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"values": []any{}})
}

// handleCreateIssue serves POST /rest/api/2/issue. Over the licence, Jira
// stops issue creation for everyone (REFERENCE §3.5). Assumption: a 400
// with errorMessages, like Jira's other create validation failures.
func (s *Sim) handleCreateIssue(w http.ResponseWriter, r *http.Request) {
	if !s.mayWork(w, r, true) {
		return
	}
	s.mu.Lock()
	if s.overLicenceLocked() {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"errorMessages": []string{"You have exceeded the number of users allowed to use Jira under your license. You cannot create issues until the number of users is reduced."},
			"errors":        map[string]string{},
		})
		return
	}
	s.nextIssue++
	n := s.nextIssue
	s.mu.Unlock()
	key := fmt.Sprintf("SIM-%d", n)
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": itoa(10000 + n), "key": key, "self": "http://" + r.Host + "/rest/api/2/issue/" + itoa(10000+n),
	})
}

// handleCreatePage serves Confluence POST /rest/api/content. Over the
// licence Confluence is read-only (REFERENCE §3.5). Assumption: 403 with a
// read-only message.
func (s *Sim) handleCreatePage(w http.ResponseWriter, r *http.Request) {
	if !s.mayWork(w, r, true) {
		return
	}
	var body struct {
		Title string `json:"title"`
		Type  string `json:"type"`
	}
	_ = json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&body)
	s.mu.Lock()
	if s.overLicenceLocked() {
		s.mu.Unlock()
		s.writeError(w, http.StatusForbidden, "Confluence is read-only: the number of users exceeds the licence limit.")
		return
	}
	s.nextPage++
	n := s.nextPage
	s.mu.Unlock()
	if body.Type == "" {
		body.Type = "page"
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": itoa(100000 + n), "type": body.Type, "title": body.Title})
}

func (s *Sim) handleCurrentUser(w http.ResponseWriter, r *http.Request) {
	rs := state(r)
	if rs.user == "" {
		s.writeError(w, http.StatusUnauthorized, "You are not authenticated.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": rs.user, "username": rs.user, "key": rs.user, "active": true})
}

func (s *Sim) handleServerInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"baseUrl": "http://" + r.Host, "version": "10.3.0-sim", "deploymentType": "Server",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the product's REST error shape.
func (s *Sim) writeError(w http.ResponseWriter, status int, msg string) {
	if s.cfg.Product == Confluence {
		writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "data": map[string]any{}})
		return
	}
	writeJSON(w, status, map[string]any{"errorMessages": []string{msg}, "errors": map[string]string{}})
}
