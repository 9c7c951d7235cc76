package appdir

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// appFake is a small in-memory Jira or Confluence serving the group
// endpoints of REFERENCE §3 (and the user look-ups the client uses to settle
// ambiguous answers). Names compare case-insensitively and keep their case.
// Group member lists include subgroup members, as Jira's do.
type appFake struct {
	product        string
	user, password string // the service account

	mu       sync.Mutex
	users    map[string]string              // lower → as created
	groups   map[string]string              // lower → as created
	members  map[string]map[string]struct{} // group → users (lower)
	children map[string]map[string]struct{} // group → subgroups (lower)
	forbid   bool                           // answer 403 as for a non-admin
	fail503  int                            // answer 503 to the next n requests
	maxLimit int                            // Confluence's cap on limit= (0: 200)
	requests map[string]int                 // "METHOD /path" without query
}

func newAppFake(t *testing.T, product string) (*appFake, *httptest.Server) {
	t.Helper()
	f := &appFake{
		product: product, user: "svc-floatseat", password: "svc-pw",
		users: map[string]string{}, groups: map[string]string{},
		members: map[string]map[string]struct{}{}, children: map[string]map[string]struct{}{},
		requests: map[string]int{},
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *appFake) addUser(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[strings.ToLower(name)] = name
}

func (f *appFake) addGroup(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.createGroupLocked(name)
}

func (f *appFake) createGroupLocked(name string) {
	k := strings.ToLower(name)
	f.groups[k] = name
	f.members[k] = map[string]struct{}{}
	f.children[k] = map[string]struct{}{}
}

func (f *appFake) addMember(user, group string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members[strings.ToLower(group)][strings.ToLower(user)] = struct{}{}
}

func (f *appFake) addChild(parent, child string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.children[strings.ToLower(parent)][strings.ToLower(child)] = struct{}{}
}

// set changes the fake's behaviour under its lock.
func (f *appFake) set(change func(f *appFake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *appFake) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[key]
}

// directMembers returns group's direct members as created, sorted.
func (f *appFake) directMembers(group string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for u := range f.members[strings.ToLower(group)] {
		out = append(out, f.users[u])
	}
	slices.Sort(out)
	return out
}

// effective returns group's members including those of subgroups (lower).
// Callers hold f.mu.
func (f *appFake) effective(group string) map[string]struct{} {
	out := map[string]struct{}{}
	seen := map[string]bool{}
	var walk func(g string)
	walk = func(g string) {
		if seen[g] {
			return
		}
		seen[g] = true
		for u := range f.members[g] {
			out[u] = struct{}{}
		}
		for c := range f.children[g] {
			walk(c)
		}
	}
	walk(group)
	return out
}

// userGroups returns the groups user is in, directly or through subgroups,
// as created, sorted. Callers hold f.mu.
func (f *appFake) userGroups(user string) []string {
	var out []string
	for g, name := range f.groups {
		if _, ok := f.effective(g)[user]; ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (f *appFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[r.Method+" "+r.URL.Path]++
	if f.fail503 > 0 {
		f.fail503--
		http.Error(w, "<html>down</html>", http.StatusServiceUnavailable)
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != f.password {
		w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if f.forbid {
		jiraError(w, http.StatusForbidden, "You are not authorized to perform this action. Administrator privileges are required.")
		return
	}
	if r.Method != http.MethodGet && r.Header.Get("X-Atlassian-Token") != "no-check" {
		jiraError(w, http.StatusForbidden, "XSRF check failed")
		return
	}
	if f.product == Jira {
		f.serveJira(w, r)
	} else {
		f.serveConfluence(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func jiraError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"errorMessages": []string{msg}, "errors": map[string]string{}})
}

func confluenceError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "data": map[string]any{}})
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func window[T any](all []T, start, limit int) []T {
	if start >= len(all) {
		return []T{}
	}
	return all[start:min(start+limit, len(all))]
}

// ---- Jira ----

func (f *appFake) serveJira(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	gk, uk := strings.ToLower(q.Get("groupname")), strings.ToLower(q.Get("username"))
	switch r.Method + " " + r.URL.Path {
	case "GET /rest/api/2/user":
		name, ok := f.users[uk]
		if !ok {
			jiraError(w, http.StatusNotFound, fmt.Sprintf("The user named '%s' does not exist", q.Get("username")))
			return
		}
		items := []map[string]string{}
		if q.Get("expand") == "groups" {
			for _, g := range f.userGroups(uk) {
				items = append(items, map[string]string{"name": g, "self": "http://" + r.Host + "/rest/api/2/group?groupname=" + url.QueryEscape(g)})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"name": name, "key": uk, "active": true,
			"groups": map[string]any{"size": len(items), "items": items},
		})
	case "GET /rest/api/2/group/member":
		if _, ok := f.groups[gk]; !ok {
			jiraError(w, http.StatusNotFound, fmt.Sprintf("Group '%s' does not exist.", q.Get("groupname")))
			return
		}
		var all []map[string]any
		for u := range f.effective(gk) {
			all = append(all, map[string]any{"name": f.users[u], "key": u, "active": true})
		}
		slices.SortFunc(all, func(a, b map[string]any) int { return strings.Compare(a["key"].(string), b["key"].(string)) })
		start, max := atoiOr(q.Get("startAt"), 0), min(atoiOr(q.Get("maxResults"), 50), 50)
		vals := window(all, start, max)
		isLast := start+len(vals) >= len(all)
		out := map[string]any{"startAt": start, "maxResults": max, "total": len(all), "isLast": isLast, "values": vals}
		if !isLast {
			out["nextPage"] = fmt.Sprintf("http://%s/rest/api/2/group/member?groupname=%s&startAt=%d&maxResults=%d", r.Host, url.QueryEscape(q.Get("groupname")), start+len(vals), max)
		}
		writeJSON(w, http.StatusOK, out)
	case "POST /rest/api/2/group/user":
		var body struct{ Name string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			jiraError(w, http.StatusBadRequest, "bad body")
			return
		}
		bk := strings.ToLower(body.Name)
		if _, ok := f.groups[gk]; !ok {
			jiraError(w, http.StatusNotFound, fmt.Sprintf("Group '%s' does not exist.", q.Get("groupname")))
			return
		}
		if _, ok := f.users[bk]; !ok {
			// Jira's 400 for an unknown user looks like its 400 for a member.
			jiraError(w, http.StatusBadRequest, fmt.Sprintf("Cannot add user. '%s' does not exist", body.Name))
			return
		}
		if _, ok := f.members[gk][bk]; ok {
			jiraError(w, http.StatusBadRequest, fmt.Sprintf("Cannot add user. '%s' is already a member of '%s'", body.Name, f.groups[gk]))
			return
		}
		f.members[gk][bk] = struct{}{}
		writeJSON(w, http.StatusCreated, map[string]any{"name": f.groups[gk]})
	case "POST /rest/api/2/group":
		var body struct{ Name string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Name == "" {
			jiraError(w, http.StatusBadRequest, "bad body")
			return
		}
		if _, ok := f.groups[strings.ToLower(body.Name)]; ok {
			jiraError(w, http.StatusBadRequest, "A group or user with this name already exists.")
			return
		}
		f.createGroupLocked(body.Name)
		writeJSON(w, http.StatusCreated, map[string]any{"name": body.Name, "users": map[string]any{"size": 0}})
	case "DELETE /rest/api/2/group/user":
		if _, ok := f.groups[gk]; !ok {
			jiraError(w, http.StatusNotFound, fmt.Sprintf("Group '%s' does not exist.", q.Get("groupname")))
			return
		}
		if _, ok := f.users[uk]; !ok {
			jiraError(w, http.StatusNotFound, fmt.Sprintf("User '%s' does not exist.", q.Get("username")))
			return
		}
		if _, ok := f.members[gk][uk]; !ok {
			jiraError(w, http.StatusBadRequest, fmt.Sprintf("Cannot remove user '%s' from group '%s': not a member", q.Get("username"), f.groups[gk]))
			return
		}
		delete(f.members[gk], uk)
		w.WriteHeader(http.StatusOK)
	default:
		jiraError(w, http.StatusNotFound, "null for uri: "+r.URL.String())
	}
}

// ---- Confluence ----

func (f *appFake) serveConfluence(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i, s := range segs {
		segs[i], _ = url.PathUnescape(s)
	}
	maxLimit := 200
	if f.maxLimit > 0 {
		maxLimit = f.maxLimit
	}
	start, limit := atoiOr(q.Get("start"), 0), min(atoiOr(q.Get("limit"), maxLimit), maxLimit)
	page := func(all []map[string]any, path string) map[string]any {
		res := window(all, start, limit)
		out := map[string]any{"results": res, "start": start, "limit": limit, "size": len(res),
			"_links": map[string]any{"base": "http://" + r.Host, "context": ""}}
		if start+len(res) < len(all) {
			next := url.Values{}
			for k, v := range q {
				next[k] = v
			}
			next.Set("start", strconv.Itoa(start+len(res)))
			out["_links"].(map[string]any)["next"] = path + "?" + next.Encode()
		}
		return out
	}
	switch {
	// /rest/api/user?username=U
	case r.Method == http.MethodGet && len(segs) == 3 && segs[2] == "user":
		name, ok := f.users[strings.ToLower(q.Get("username"))]
		if !ok {
			confluenceError(w, http.StatusNotFound, "No user found with username: "+q.Get("username"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"type": "known", "username": name, "userKey": "key-" + strings.ToLower(name)})
	// /rest/api/user/memberof?username=U
	case r.Method == http.MethodGet && len(segs) == 4 && segs[2] == "user" && segs[3] == "memberof":
		uk := strings.ToLower(q.Get("username"))
		if _, ok := f.users[uk]; !ok {
			confluenceError(w, http.StatusNotFound, "No user found with username: "+q.Get("username"))
			return
		}
		var all []map[string]any
		for _, g := range f.userGroups(uk) {
			all = append(all, map[string]any{"type": "group", "name": g})
		}
		writeJSON(w, http.StatusOK, page(all, "/rest/api/user/memberof"))
	// /rest/api/group/{g}
	case r.Method == http.MethodGet && len(segs) == 4 && segs[2] == "group":
		name, ok := f.groups[strings.ToLower(segs[3])]
		if !ok {
			confluenceError(w, http.StatusNotFound, "No group found with name: "+segs[3])
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"type": "group", "name": name})
	// /rest/api/group/{g}/member
	case r.Method == http.MethodGet && len(segs) == 5 && segs[2] == "group" && segs[4] == "member":
		gk := strings.ToLower(segs[3])
		if _, ok := f.groups[gk]; !ok {
			confluenceError(w, http.StatusNotFound, "No group found with name: "+segs[3])
			return
		}
		var all []map[string]any
		for u := range f.effective(gk) {
			all = append(all, map[string]any{"type": "known", "username": f.users[u], "userKey": "key-" + u})
		}
		slices.SortFunc(all, func(a, b map[string]any) int {
			return strings.Compare(a["userKey"].(string), b["userKey"].(string))
		})
		writeJSON(w, http.StatusOK, page(all, r.URL.EscapedPath()))
	// POST /rest/api/admin/group {"name"}
	case r.Method == http.MethodPost && len(segs) == 4 && segs[2] == "admin" && segs[3] == "group":
		var body struct{ Name string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Name == "" {
			confluenceError(w, http.StatusBadRequest, "bad body")
			return
		}
		if _, ok := f.groups[strings.ToLower(body.Name)]; ok {
			confluenceError(w, http.StatusConflict, "Group already exists: "+body.Name)
			return
		}
		f.createGroupLocked(body.Name)
		writeJSON(w, http.StatusOK, map[string]any{"type": "group", "name": body.Name})
	// PUT/DELETE /rest/api/user/{u}/group/{g}
	case (r.Method == http.MethodPut || r.Method == http.MethodDelete) && len(segs) == 6 && segs[2] == "user" && segs[4] == "group":
		uk, gk := strings.ToLower(segs[3]), strings.ToLower(segs[5])
		if _, ok := f.users[uk]; !ok {
			confluenceError(w, http.StatusNotFound, "No user found with username: "+segs[3])
			return
		}
		if _, ok := f.groups[gk]; !ok {
			confluenceError(w, http.StatusNotFound, "No group found with name: "+segs[5])
			return
		}
		if r.Method == http.MethodPut {
			f.members[gk][uk] = struct{}{}
		} else {
			delete(f.members[gk], uk)
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		confluenceError(w, http.StatusNotFound, "not found: "+r.URL.String())
	}
}
