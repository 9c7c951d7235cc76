package appsim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/floatseat/floatseat/internal/directory"
)

// The apps' group REST APIs (REFERENCE §3). Changes go to the directory
// (write-through) and into the app's cache at once, so they take effect for
// every kind of request on this node (REFERENCE §1, DESIGN §2.6).

// groupExists asks the directory: the cache only knows groups it tracks.
func (s *Sim) groupExists(r *http.Request, g string) bool {
	if e, ok := s.dir.(interface{ HasGroup(string) bool }); ok {
		return e.HasGroup(g) // without listing its members
	}
	_, err := s.dir.Members(r.Context(), g, false)
	return !errors.Is(err, directory.ErrGroupNotFound)
}

// cachedMembers is the cache's nested members of g, sorted, computed once
// per cache generation. Call with s.mu held; the slice is shared, read it
// only.
func (s *Sim) cachedMembers(g string) []string {
	if s.memo == nil || s.memoGen != s.cacheGen {
		s.memo, s.memoGen = map[string][]string{}, s.cacheGen
	}
	k := strings.ToLower(g)
	if ms, ok := s.memo[k]; ok {
		return ms
	}
	ms := s.cache.members(g, true)
	s.memo[k] = ms
	return ms
}

func (s *Sim) userExists(r *http.Request, u string) bool {
	_, err := s.dir.UserGroups(r.Context(), u, false)
	return !errors.Is(err, directory.ErrUserNotFound)
}

// dirError maps a directory failure to the app's answer.
func (s *Sim) dirError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, directory.ErrUserNotFound):
		s.writeError(w, http.StatusBadRequest, "The user does not exist")
	case errors.Is(err, directory.ErrGroupNotFound):
		s.writeError(w, http.StatusNotFound, "The group does not exist")
	case errors.Is(err, directory.ErrPermissionDenied):
		// The group's directory is read-only to the app (REFERENCE §3).
		s.writeError(w, http.StatusBadRequest, "The directory is read-only")
	default:
		s.writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// handleJiraGroupAdd serves POST /rest/api/2/group/user?groupname=G {"name":"U"}
// → 201; 400 when already a member or the user is unknown (REFERENCE §3).
func (s *Sim) handleJiraGroupAdd(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	g := r.URL.Query().Get("groupname")
	var body struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&body); err != nil || body.Name == "" {
		s.writeError(w, http.StatusBadRequest, "bad request body")
		return
	}
	ctx := r.Context()
	is, err := s.dir.IsMember(ctx, body.Name, g, false)
	if err != nil {
		s.dirError(w, err)
		return
	}
	if is {
		s.writeError(w, http.StatusBadRequest, "Cannot add user. '"+body.Name+"' is already a member of '"+g+"'")
		return
	}
	if err := s.dir.AddMember(ctx, body.Name, g); err != nil {
		s.dirError(w, err)
		return
	}
	s.cacheAdd(ctx, s.storedName(ctx, body.Name), g)
	writeJSON(w, http.StatusCreated, map[string]any{
		"name": g, "self": "http://" + r.Host + "/rest/api/2/group?groupname=" + url.QueryEscape(g),
	})
}

// handleJiraGroupRemove serves DELETE /rest/api/2/group/user?groupname=&username=.
// Assumption: a user who is not a direct member gets 400 (REFERENCE §3 does
// not say); floatseat's backends treat removal as idempotent anyway.
func (s *Sim) handleJiraGroupRemove(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	q := r.URL.Query()
	g, u := q.Get("groupname"), q.Get("username")
	ctx := r.Context()
	is, err := s.dir.IsMember(ctx, u, g, false)
	if err != nil {
		if errors.Is(err, directory.ErrUserNotFound) {
			s.writeError(w, http.StatusNotFound, "The user does not exist")
			return
		}
		s.dirError(w, err)
		return
	}
	if !is {
		s.writeError(w, http.StatusBadRequest, "Cannot remove user. '"+u+"' is not a member of '"+g+"'")
		return
	}
	if err := s.dir.RemoveMember(ctx, u, g); err != nil {
		s.dirError(w, err)
		return
	}
	s.cacheRemove(ctx, s.storedName(ctx, u), g)
	w.WriteHeader(http.StatusOK)
}

func atoiDefault(v string, def int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return def
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }

// handleJiraGroupMembers serves GET /rest/api/2/group/member: cached nested
// members (subgroups included), at most 50 a page (REFERENCE §3).
func (s *Sim) handleJiraGroupMembers(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	q := r.URL.Query()
	g := q.Get("groupname")
	if !s.groupExists(r, g) {
		s.writeError(w, http.StatusNotFound, "The group '"+g+"' does not exist")
		return
	}
	start := atoiDefault(q.Get("startAt"), 0)
	max := atoiDefault(q.Get("maxResults"), 50)
	if max == 0 || max > 50 {
		max = 50
	}
	s.mu.Lock()
	all := s.cachedMembers(g)
	s.mu.Unlock()
	end := min(start+max, len(all))
	values := []map[string]any{}
	for i := start; i < end; i++ {
		values = append(values, s.jiraUserJSON(r, all[i]))
	}
	isLast := end >= len(all)
	out := map[string]any{
		"self":       "http://" + r.Host + r.URL.RequestURI(),
		"startAt":    start,
		"maxResults": max,
		"total":      len(all),
		"isLast":     isLast,
		"values":     values,
	}
	if !isLast {
		nq := url.Values{"groupname": {g}, "includeInactiveUsers": {q.Get("includeInactiveUsers")},
			"startAt": {itoa(end)}, "maxResults": {itoa(max)}}
		out["nextPage"] = "http://" + r.Host + "/rest/api/2/group/member?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) jiraUserJSON(r *http.Request, name string) map[string]any {
	return map[string]any{
		"self":         "http://" + r.Host + "/rest/api/2/user?username=" + url.QueryEscape(name),
		"name":         name,
		"key":          strings.ToLower(name),
		"emailAddress": strings.ToLower(name) + "@example.com",
		"displayName":  name,
		"active":       true,
		"timeZone":     "UTC",
	}
}

// handleJiraUser serves GET /rest/api/2/user?username=U&expand=groups,applicationRoles
// from the app's cache: what Jira itself believes (REFERENCE §3, DESIGN §2.6).
func (s *Sim) handleJiraUser(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	q := r.URL.Query()
	u := q.Get("username")
	if !s.userExists(r, u) {
		s.writeError(w, http.StatusNotFound, "The user named '"+u+"' does not exist")
		return
	}
	name := s.storedName(r.Context(), u)
	expand := q.Get("expand")
	out := s.jiraUserJSON(r, name)
	s.mu.Lock()
	var groups []string
	if cu := s.cache.user(name); cu != nil {
		groups = s.cache.groupsOf(cu)
	}
	roles := s.rolesOfLocked(name)
	s.mu.Unlock()
	gItems := []map[string]string{}
	if strings.Contains(expand, "groups") {
		for _, g := range groups {
			gItems = append(gItems, map[string]string{"name": g,
				"self": "http://" + r.Host + "/rest/api/2/group?groupname=" + url.QueryEscape(g)})
		}
	}
	out["groups"] = map[string]any{"size": len(groups), "items": gItems}
	rItems := []map[string]string{}
	if strings.Contains(expand, "applicationRoles") {
		for _, ro := range roles {
			rItems = append(rItems, map[string]string{"key": ro.Key, "name": ro.Name})
		}
	}
	out["applicationRoles"] = map[string]any{"size": len(roles), "items": rItems}
	out["expand"] = "groups,applicationRoles"
	writeJSON(w, http.StatusOK, out)
}

// handleConfluenceGroupPut serves PUT /rest/api/user/{user}/group/{group} →
// 204, idempotent (REFERENCE §3).
func (s *Sim) handleConfluenceGroupPut(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	u, g := r.PathValue("user"), r.PathValue("group")
	ctx := r.Context()
	if err := s.dir.AddMember(ctx, u, g); err != nil {
		s.confluenceDirError(w, err)
		return
	}
	s.cacheAdd(ctx, s.storedName(ctx, u), g)
	w.WriteHeader(http.StatusNoContent)
}

// handleConfluenceGroupDelete serves DELETE /rest/api/user/{user}/group/{group} → 204.
func (s *Sim) handleConfluenceGroupDelete(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	u, g := r.PathValue("user"), r.PathValue("group")
	ctx := r.Context()
	if err := s.dir.RemoveMember(ctx, u, g); err != nil {
		s.confluenceDirError(w, err)
		return
	}
	s.cacheRemove(ctx, s.storedName(ctx, u), g)
	w.WriteHeader(http.StatusNoContent)
}

// confluenceDirError: Confluence answers 404 for an unknown user or group.
func (s *Sim) confluenceDirError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, directory.ErrUserNotFound), errors.Is(err, directory.ErrGroupNotFound):
		s.writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, directory.ErrPermissionDenied):
		s.writeError(w, http.StatusForbidden, err.Error())
	default:
		s.writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// confluenceMaxLimit caps limit= on Confluence's paged APIs.
// Assumption: 200, Confluence's usual default page size.
const confluenceMaxLimit = 200

// handleConfluenceGroupMembers serves GET /rest/api/group/{group}/member?start=&limit=.
func (s *Sim) handleConfluenceGroupMembers(w http.ResponseWriter, r *http.Request) {
	g, ok := s.confluenceGroup(w, r, "group not found: ")
	if !ok {
		return
	}
	q := r.URL.Query()
	start := atoiDefault(q.Get("start"), 0)
	limit := atoiDefault(q.Get("limit"), confluenceMaxLimit)
	if limit == 0 || limit > confluenceMaxLimit {
		limit = confluenceMaxLimit
	}
	s.mu.Lock()
	all := s.cachedMembers(g)
	s.mu.Unlock()
	end := min(start+limit, len(all))
	results := []map[string]any{}
	for i := start; i < end; i++ {
		results = append(results, map[string]any{
			"type": "known", "username": all[i], "userKey": "key-" + strings.ToLower(all[i]),
			"displayName": all[i],
		})
	}
	links := map[string]string{"base": "http://" + r.Host, "context": ""}
	if end < len(all) {
		links["next"] = "/rest/api/group/" + url.PathEscape(g) + "/member?start=" + itoa(end) + "&limit=" + itoa(limit)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"results": results, "start": start, "limit": limit, "size": len(results), "_links": links,
	})
}

// handleConfluenceMemberOf serves GET /rest/api/user/memberof?username=U.
func (s *Sim) handleConfluenceMemberOf(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	u := r.URL.Query().Get("username")
	if !s.userExists(r, u) {
		s.writeError(w, http.StatusNotFound, "user not found: "+u)
		return
	}
	s.mu.Lock()
	var groups []string
	if cu := s.cache.user(u); cu != nil {
		groups = s.cache.groupsOf(cu)
	}
	s.mu.Unlock()
	q := r.URL.Query()
	start := atoiDefault(q.Get("start"), 0)
	limit := atoiDefault(q.Get("limit"), confluenceMaxLimit)
	if limit == 0 || limit > confluenceMaxLimit {
		limit = confluenceMaxLimit
	}
	end := min(start+limit, len(groups))
	results := []map[string]any{}
	for i := start; i < end; i++ {
		results = append(results, map[string]any{"type": "group", "name": groups[i]})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"results": results, "start": start, "limit": limit, "size": len(results),
	})
}
