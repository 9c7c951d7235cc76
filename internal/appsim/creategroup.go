package appsim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/floatseat/floatseat/internal/directory"
)

// Group creation (floatseat's parking groups, DESIGN §2.10): Jira's
// POST /rest/api/2/group and Confluence's POST /rest/api/admin/group, both
// {"name":"G"}, written through to the directory when it can create groups.

// handleCreateGroup answers 201 (Jira) or 200 (Confluence) with the group,
// 400 when it exists, and 403 for a directory that cannot create groups.
func (s *Sim) handleCreateGroup(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&body); err != nil || body.Name == "" {
		s.writeError(w, http.StatusBadRequest, "bad request body")
		return
	}
	if s.groupExists(r, body.Name) {
		s.writeError(w, http.StatusBadRequest, "A group or user with this name already exists.")
		return
	}
	err := directory.CreateGroup(r.Context(), s.dir, body.Name)
	switch {
	case errors.Is(err, directory.ErrNotSupported), errors.Is(err, directory.ErrPermissionDenied):
		s.writeError(w, http.StatusForbidden, "No writable directory can hold the group")
		return
	case err != nil:
		s.dirError(w, err)
		return
	}
	s.mu.Lock()
	s.cache.track(body.Name)
	s.mu.Unlock()
	status := http.StatusCreated
	if s.cfg.Product == Confluence {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"name": body.Name, "type": "group"})
}

// CreateGroup implements directory.GroupCreator: an empty group.
func (d *InternalDirectory) CreateGroup(_ context.Context, name string) error {
	d.AddGroup(name)
	return nil
}

var _ directory.GroupCreator = (*InternalDirectory)(nil)

// confluenceGroup is the prologue of the /rest/api/group/{group} routes:
// an admin caller and an existing group, else the error is written (404
// with notFound+group) and ok is false.
func (s *Sim) confluenceGroup(w http.ResponseWriter, r *http.Request, notFound string) (group string, ok bool) {
	if !s.requireAdmin(w, r) {
		return "", false
	}
	g := r.PathValue("group")
	if !s.groupExists(r, g) {
		s.writeError(w, http.StatusNotFound, notFound+g)
		return "", false
	}
	return g, true
}

// handleConfluenceGroup serves GET /rest/api/group/{group}: the group, or
// 404. floatseat's backend asks it to tell "no such group" from "not a
// member".
func (s *Sim) handleConfluenceGroup(w http.ResponseWriter, r *http.Request) {
	g, ok := s.confluenceGroup(w, r, "No group found with name: ")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"type": "group", "name": g})
}

// handleConfluenceUser serves GET /rest/api/user?username=U: the user, or 404.
func (s *Sim) handleConfluenceUser(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	u := r.URL.Query().Get("username")
	if !s.userExists(r, u) {
		s.writeError(w, http.StatusNotFound, "No user found with username: "+u)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"type": "known", "username": s.storedName(r.Context(), u)})
}
