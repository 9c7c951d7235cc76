package appsim

import (
	"fmt"
	"html"
	"net/http"
	"sort"
	"strings"
)

// Jira's per-product licence checks (REFERENCE §11): agents (a
// jira-servicedesk seat) see queues, reports and SLA views and edit or
// transition service-project issues; collaborators (any Jira seat) may view
// those issues and comment; portal customers need no seat at all. Software
// boards need a jira-software seat.

const (
	roleSoftware    = "jira-software"
	roleServiceDesk = "jira-servicedesk"
)

// projectTypes returns the configured projects or the defaults.
func (s *Sim) projectTypes() map[string]string {
	if s.cfg.Projects != nil {
		return s.cfg.Projects
	}
	return map[string]string{"FS": "software", "SD": "service_desk"}
}

func (s *Sim) productRoutes() {
	m := s.mux
	m.HandleFunc("GET /rest/api/2/project", s.handleProjects)
	// JSM agent views.
	agent := s.needRole(roleServiceDesk, "queue")
	m.HandleFunc("GET /projects/{key}/queues", agent)
	m.HandleFunc("GET /projects/{key}/queues/{rest...}", agent)
	m.HandleFunc("GET /projects/{key}/reports/{rest...}", agent)
	m.HandleFunc("GET /servicedesk/agent/{rest...}", agent)
	m.HandleFunc("GET /rest/servicedesk/1/servicedesk/{id}/queues", agent)
	// Software boards.
	board := s.needRole(roleSoftware, "board")
	m.HandleFunc("GET /secure/RapidBoard.jspa", board)
	m.HandleFunc("GET /rest/agile/1.0/board", board)
	// Issue changes: the licence of the issue's project type.
	m.HandleFunc("PUT /rest/api/2/issue/{key}", s.handleIssueChange)
	m.HandleFunc("POST /rest/api/2/issue/{key}/transitions", s.handleIssueChange)
	m.HandleFunc("POST /rest/api/2/issue/{key}/comment", s.handleComment)
	// The customer portal: a login, no licence.
	m.HandleFunc("GET /servicedesk/customer/portal/{rest...}", s.handlePortal)
}

// handleProjects serves GET /rest/api/2/project: every project with key
// and projectTypeKey. Assumption: any logged-in user sees them all.
func (s *Sim) handleProjects(w http.ResponseWriter, r *http.Request) {
	if state(r).user == "" {
		s.writeError(w, http.StatusUnauthorized, "You are not authenticated.")
		return
	}
	types := s.projectTypes()
	keys := make([]string, 0, len(types))
	for k := range types {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]any, 0, len(keys))
	for i, k := range keys {
		out = append(out, map[string]any{"id": itoa(10000 + i), "key": k, "name": k, "projectTypeKey": types[k]})
	}
	writeJSON(w, http.StatusOK, out)
}

// hasRoleKey: does the app (its cached view of groups) give user the role?
func (s *Sim) hasRoleKey(user, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rolesOfLocked(user) {
		if r.Key == key {
			return true
		}
	}
	return false
}

// needRole serves a page only to users holding the role: the app checks
// the product licence on every such request, live session or not.
func (s *Sim) needRole(role, kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rest := strings.HasPrefix(r.URL.Path, "/rest/")
		if !s.mayWork(w, r, rest) {
			return
		}
		if u := state(r).user; !s.hasRoleKey(u, role) {
			s.writeError(w, http.StatusForbidden, fmt.Sprintf("%s has no %s licence", u, roleName(role)))
			return
		}
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		fmt.Fprintf(w, "<html><body><h1>%s %s</h1></body></html>", kind, html.EscapeString(r.URL.RequestURI()))
	}
}

// issueRole is the licence a change to the issue needs: its project's
// product; "" when any seat will do.
func (s *Sim) issueRole(key string) string {
	proj, _, _ := strings.Cut(key, "-")
	switch s.projectTypes()[proj] {
	case "service_desk":
		return roleServiceDesk
	case "software":
		return roleSoftware
	}
	return ""
}

func (s *Sim) handleIssueChange(w http.ResponseWriter, r *http.Request) {
	if !s.mayWork(w, r, true) {
		return
	}
	key := r.PathValue("key")
	if role := s.issueRole(key); role != "" && !s.hasRoleKey(state(r).user, role) {
		s.writeError(w, http.StatusForbidden, fmt.Sprintf("you need a %s licence to change %s", roleName(role), key))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleComment: collaborators may comment on service-project issues
// without an agent seat; any Jira seat will do.
func (s *Sim) handleComment(w http.ResponseWriter, r *http.Request) {
	if !s.mayWork(w, r, true) {
		return
	}
	if u := state(r).user; !s.Licensed(u) {
		s.writeError(w, http.StatusForbidden, u+" has no Jira licence")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": "10001", "body": "ok"})
}
