package crowdfake

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The resource handlers: one per Crowd REST resource and method, routed by
// classify in handler.go.

func (f *Fake) authenticate(w http.ResponseWriter, r *http.Request, q url.Values) {
	name, ok := requireParam(w, q, "username")
	if !ok {
		return
	}
	var body struct {
		Value *string `json:"value"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil || body.Value == nil {
		writeError(w, http.StatusBadRequest, ReasonIllegalArgument, "request body must be {\"value\":\"password\"}")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[key(name)]
	switch {
	case !ok:
		writeError(w, http.StatusBadRequest, ReasonUserNotFound, fmt.Sprintf("User <%s> does not exist", name))
	case subtle.ConstantTimeCompare([]byte(*body.Value), []byte(u.password)) != 1:
		writeError(w, http.StatusBadRequest, ReasonInvalidUserAuthentication, fmt.Sprintf("Failed to authenticate principal, password was invalid"))
	case !u.active:
		writeError(w, http.StatusBadRequest, ReasonInactiveAccount, fmt.Sprintf("Account with name <%s> is inactive", u.name))
	case u.expired:
		writeError(w, http.StatusBadRequest, ReasonExpiredCredential, fmt.Sprintf("The credentials for user <%s> have expired", u.name))
	default:
		writeJSON(w, http.StatusOK, f.userJSON(r, u))
	}
}

func (f *Fake) getUser(w http.ResponseWriter, r *http.Request, q url.Values) {
	name, ok := requireParam(w, q, "username")
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[key(name)]
	if !ok {
		writeError(w, http.StatusNotFound, ReasonUserNotFound, fmt.Sprintf("User <%s> does not exist", name))
		return
	}
	writeJSON(w, http.StatusOK, f.userJSON(r, u))
}

func (f *Fake) getGroup(w http.ResponseWriter, r *http.Request, q url.Values) {
	name, ok := requireParam(w, q, "groupname")
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[key(name)]
	if !ok {
		writeError(w, http.StatusNotFound, ReasonGroupNotFound, fmt.Sprintf("Group <%s> does not exist", name))
		return
	}
	active := true
	writeJSON(w, http.StatusOK, groupEntity{
		Link:   &link{Href: requestBase(r) + "/group?groupname=" + url.QueryEscape(g.name), Rel: "self"},
		Name:   g.name,
		Type:   "GROUP",
		Active: &active,
	})
}

func userGroupsHandler(nested bool) func(*Fake, http.ResponseWriter, *http.Request, url.Values) {
	return func(f *Fake, w http.ResponseWriter, r *http.Request, q url.Values) {
		name, ok := requireParam(w, q, "username")
		if !ok {
			return
		}
		f.mu.Lock()
		names, ok := f.userGroups(name, nested)
		f.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, ReasonUserNotFound, fmt.Sprintf("User <%s> does not exist", name))
			return
		}
		names, err := page(names, q)
		if err != nil {
			writeError(w, http.StatusBadRequest, ReasonIllegalArgument, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"expand": "group", "groups": groupLinks(r, names)})
	}
}

func membersHandler(nested bool) func(*Fake, http.ResponseWriter, *http.Request, url.Values) {
	return func(f *Fake, w http.ResponseWriter, r *http.Request, q url.Values) {
		name, ok := requireParam(w, q, "groupname")
		if !ok {
			return
		}
		f.mu.Lock()
		names, ok := f.members(name, nested)
		f.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, ReasonGroupNotFound, fmt.Sprintf("Group <%s> does not exist", name))
			return
		}
		names, err := page(names, q)
		if err != nil {
			writeError(w, http.StatusBadRequest, ReasonIllegalArgument, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"expand": "user", "users": userLinks(r, names)})
	}
}

// membershipHandler answers the is-member checks: 200 with the user when
// user is a member, 404 MEMBERSHIP_NOT_FOUND otherwise. Crowd asks its
// application service a yes/no question here, so an unknown user or group
// is also just "no" (MEMBERSHIP_NOT_FOUND), not USER_NOT_FOUND or
// GROUP_NOT_FOUND; clients that need to tell them apart must look up.
func membershipHandler(nested bool) func(*Fake, http.ResponseWriter, *http.Request, url.Values) {
	return func(f *Fake, w http.ResponseWriter, r *http.Request, q url.Values) {
		userName, groupName := q.Get("username"), q.Get("groupname")
		f.mu.Lock()
		defer f.mu.Unlock()
		u, uok := f.users[key(userName)]
		g, gok := f.groups[key(groupName)]
		if !uok || !gok || !f.isMember(g, key(userName), nested) {
			writeError(w, http.StatusNotFound, ReasonMembershipNotFound,
				fmt.Sprintf("The child entity <%s> is not a member of the parent <%s>", userName, groupName))
			return
		}
		writeJSON(w, http.StatusOK, userLinks(r, []string{u.name})[0])
	}
}

// edge is one kind of direct membership a group holds: its users or its
// child groups. addEdge and removeEdge serve both, so the two resources
// answer the same status codes in the same order.
type edge struct {
	param    string // query parameter naming the member on DELETE
	members  func(*group) map[string]struct{}
	exists   func(f *Fake, name string) bool
	reason   string // reason code when the named member does not exist
	noun     string // "User" or "Group", in "<noun> <%s> does not exist"
	already  string // conflict message: member, group
	notIn    string // MEMBERSHIP_NOT_FOUND message: member, group
	location bool   // whether a created membership answers with Location
	noSelf   bool   // whether a group may not be its own member
}

var (
	userEdge = edge{
		param:    "username",
		members:  func(g *group) map[string]struct{} { return g.users },
		exists:   func(f *Fake, n string) bool { _, ok := f.users[key(n)]; return ok },
		reason:   ReasonUserNotFound,
		noun:     "User",
		already:  "User <%s> is already a member of group <%s>",
		notIn:    "The child entity <%s> is not a member of the parent <%s>",
		location: true,
	}
	childEdge = edge{
		param:   "child-groupname",
		members: func(g *group) map[string]struct{} { return g.children },
		exists:  func(f *Fake, n string) bool { _, ok := f.groups[key(n)]; return ok },
		reason:  ReasonGroupNotFound,
		noun:    "Group",
		already: "Group <%s> is already a child of group <%s>",
		notIn:   "Group <%s> is not a child of group <%s>",
		noSelf:  true,
	}
)

func (f *Fake) addMember(w http.ResponseWriter, r *http.Request, q url.Values) {
	f.addEdge(userEdge, w, r, q)
}

func (f *Fake) removeMember(w http.ResponseWriter, r *http.Request, q url.Values) {
	f.removeEdge(userEdge, w, q)
}

func (f *Fake) addChildGroup(w http.ResponseWriter, r *http.Request, q url.Values) {
	f.addEdge(childEdge, w, r, q)
}

func (f *Fake) removeChildGroup(w http.ResponseWriter, _ *http.Request, q url.Values) {
	f.removeEdge(childEdge, w, q)
}

// modifyDenied answers 403 when the fake is read-only.
func (f *Fake) modifyDenied(w http.ResponseWriter) bool {
	if !f.readOnly {
		return false
	}
	writeError(w, http.StatusForbidden, ReasonApplicationPermissionDenied,
		fmt.Sprintf("Application <%s> does not have permission to modify the directory", f.appName))
	return true
}

func (f *Fake) addEdge(e edge, w http.ResponseWriter, r *http.Request, q url.Values) {
	groupName, ok := requireParam(w, q, "groupname")
	if !ok {
		return
	}
	name, ok := readName(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g, gok := f.groups[key(groupName)]
	switch {
	case !gok:
		writeError(w, http.StatusNotFound, ReasonGroupNotFound, fmt.Sprintf("Group <%s> does not exist", groupName))
	case !e.exists(f, name):
		// Crowd answers 400, not 404, for the member named in the body.
		writeError(w, http.StatusBadRequest, e.reason, fmt.Sprintf("%s <%s> does not exist", e.noun, name))
	case f.modifyDenied(w):
	case e.noSelf && key(groupName) == key(name):
		writeError(w, http.StatusBadRequest, ReasonIllegalArgument, "a group cannot be its own child")
	default:
		m := e.members(g)
		if _, ok := m[key(name)]; ok {
			writeError(w, http.StatusConflict, ReasonMembershipAlreadyExists, fmt.Sprintf(e.already, name, g.name))
			return
		}
		m[key(name)] = struct{}{}
		if e.location {
			w.Header().Set("Location", requestBase(r)+"/group/user/direct?groupname="+url.QueryEscape(g.name)+"&username="+url.QueryEscape(name))
		}
		w.WriteHeader(http.StatusCreated)
	}
}

func (f *Fake) removeEdge(e edge, w http.ResponseWriter, q url.Values) {
	groupName, ok := requireParam(w, q, "groupname")
	if !ok {
		return
	}
	name, ok := requireParam(w, q, e.param)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g, gok := f.groups[key(groupName)]
	switch {
	case !gok:
		writeError(w, http.StatusNotFound, ReasonGroupNotFound, fmt.Sprintf("Group <%s> does not exist", groupName))
	case !e.exists(f, name):
		writeError(w, http.StatusNotFound, e.reason, fmt.Sprintf("%s <%s> does not exist", e.noun, name))
	case f.modifyDenied(w):
	default:
		m := e.members(g)
		if _, ok := m[key(name)]; !ok {
			writeError(w, http.StatusNotFound, ReasonMembershipNotFound, fmt.Sprintf(e.notIn, name, g.name))
			return
		}
		delete(m, key(name))
		w.WriteHeader(http.StatusNoContent)
	}
}

// relativesHandler lists a group's child groups or, with parents, the
// groups it is a child of. With child-groupname (or parent-groupname) it is
// the membership check: 200 or 404 MEMBERSHIP_NOT_FOUND.
func relativesHandler(parents, nested bool) func(*Fake, http.ResponseWriter, *http.Request, url.Values) {
	return func(f *Fake, w http.ResponseWriter, r *http.Request, q url.Values) {
		name, ok := requireParam(w, q, "groupname")
		if !ok {
			return
		}
		f.mu.Lock()
		g, ok := f.groups[key(name)]
		var names []string
		if ok {
			if parents {
				names = f.parents(g, nested)
			} else {
				names = f.children(g, nested)
			}
		}
		f.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, ReasonGroupNotFound, fmt.Sprintf("Group <%s> does not exist", name))
			return
		}
		other := q.Get("child-groupname")
		if parents {
			other = q.Get("parent-groupname")
		}
		if other != "" {
			for _, n := range names {
				if strings.EqualFold(n, other) {
					writeJSON(w, http.StatusOK, groupLinks(r, []string{n})[0])
					return
				}
			}
			writeError(w, http.StatusNotFound, ReasonMembershipNotFound,
				fmt.Sprintf("Group <%s> is not related to group <%s>", other, name))
			return
		}
		names, err := page(names, q)
		if err != nil {
			writeError(w, http.StatusBadRequest, ReasonIllegalArgument, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"expand": "group", "groups": groupLinks(r, names)})
	}
}

// addGroup serves POST /group {"name","type":"GROUP","active"}: 201, or
// 400 INVALID_GROUP when the group exists, as Crowd answers.
func (f *Fake) addGroup(w http.ResponseWriter, r *http.Request, _ url.Values) {
	name, ok := readName(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch _, exists := f.groups[key(name)]; {
	case f.modifyDenied(w):
	case exists:
		writeError(w, http.StatusBadRequest, ReasonInvalidGroup, fmt.Sprintf("Group <%s> already exists", name))
	default:
		f.groups[key(name)] = newGroup(name)
		w.Header().Set("Location", requestBase(r)+"/group?groupname="+url.QueryEscape(name))
		w.WriteHeader(http.StatusCreated)
	}
}
