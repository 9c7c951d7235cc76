package crowdfake

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Crowd's error reasons (com.atlassian.crowd.plugin.rest.entity.ErrorEntity).
const (
	ReasonApplicationAccessDenied     = "APPLICATION_ACCESS_DENIED"
	ReasonApplicationPermissionDenied = "APPLICATION_PERMISSION_DENIED"
	ReasonExpiredCredential           = "EXPIRED_CREDENTIAL"
	ReasonGroupNotFound               = "GROUP_NOT_FOUND"
	ReasonIllegalArgument             = "ILLEGAL_ARGUMENT"
	ReasonInvalidGroup                = "INVALID_GROUP"
	ReasonInactiveAccount             = "INACTIVE_ACCOUNT"
	ReasonInvalidUserAuthentication   = "INVALID_USER_AUTHENTICATION"
	ReasonMembershipNotFound          = "MEMBERSHIP_NOT_FOUND"
	ReasonMembershipAlreadyExists     = "MEMBERSHIP_ALREADY_EXISTS"
	ReasonUserNotFound                = "USER_NOT_FOUND"
)

// Crowd's default and largest page size for list resources.
const defaultMaxResults = 1000

// errorEntity is Crowd's error body.
type errorEntity struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

type link struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

type userEntity struct {
	Expand      string `json:"expand,omitempty"`
	Link        *link  `json:"link,omitempty"`
	Name        string `json:"name"`
	FirstName   string `json:"first-name,omitempty"`
	LastName    string `json:"last-name,omitempty"`
	DisplayName string `json:"display-name,omitempty"`
	Email       string `json:"email,omitempty"`
	Active      *bool  `json:"active,omitempty"`
}

type groupEntity struct {
	Link        *link  `json:"link,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type,omitempty"`
	Active      *bool  `json:"active,omitempty"`
}

type route struct {
	op      Op
	handler func(f *Fake, w http.ResponseWriter, r *http.Request, q url.Values)
}

// routes maps "METHOD resource" (after /rest/usermanagement/{1,latest}) to
// its operation. Membership reads with both names in the query are the
// is-member checks and get their own operation, see classify.
var routes = map[string]route{
	"POST /authentication":           {OpAuthenticate, (*Fake).authenticate},
	"GET /user":                      {OpUser, (*Fake).getUser},
	"GET /group":                     {OpGroup, (*Fake).getGroup},
	"POST /group":                    {OpAddGroup, (*Fake).addGroup},
	"GET /user/group/direct":         {OpUserGroupsDirect, userGroupsHandler(false)},
	"GET /user/group/nested":         {OpUserGroupsNested, userGroupsHandler(true)},
	"GET /group/user/direct":         {OpMembersDirect, membersHandler(false)},
	"GET /group/user/nested":         {OpMembersNested, membersHandler(true)},
	"POST /group/user/direct":        {OpAddMember, (*Fake).addMember},
	"DELETE /group/user/direct":      {OpRemoveMember, (*Fake).removeMember},
	"GET /group/child-group/direct":  {OpChildGroupsDirect, relativesHandler(false, false)},
	"GET /group/child-group/nested":  {OpChildGroupsNested, relativesHandler(false, true)},
	"GET /group/parent-group/direct": {OpParentGroupsDirect, relativesHandler(true, false)},
	"GET /group/parent-group/nested": {OpParentGroupsNested, relativesHandler(true, true)},
	"POST /group/child-group/direct": {OpAddChildGroup, (*Fake).addChildGroup},
	"DELETE /group/child-group/direct": {
		OpRemoveChildGroup, (*Fake).removeChildGroup},
}

// classify finds the route of a request; ok is false for unknown resources.
func classify(r *http.Request) (route, bool) {
	p := r.URL.Path
	i := strings.Index(p, "/rest/usermanagement/")
	if i < 0 {
		return route{}, false
	}
	rest := p[i+len("/rest/usermanagement/"):]
	var res string
	switch {
	case strings.HasPrefix(rest, "1/"):
		res = rest[1:]
	case strings.HasPrefix(rest, "latest/"):
		res = rest[len("latest"):]
	default:
		return route{}, false
	}
	res = strings.TrimSuffix(res, "/")
	rt, ok := routes[r.Method+" "+res]
	if !ok {
		return route{}, false
	}
	q := r.URL.Query()
	if r.Method == http.MethodGet && q.Get("username") != "" && q.Get("groupname") != "" {
		switch res {
		case "/group/user/direct", "/user/group/direct":
			rt = route{OpIsMemberDirect, membershipHandler(false)}
		case "/group/user/nested", "/user/group/nested":
			rt = route{OpIsMemberNested, membershipHandler(true)}
		}
	}
	return rt, true
}

// ServeHTTP answers one Crowd REST request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, known := classify(r)
	op := rt.op
	if !known {
		op = OpUnknown
	}

	f.mu.Lock()
	f.counts[op]++
	fail := Failure(0)
	if f.failN > 0 {
		f.failN--
		fail = f.failMode
	}
	f.mu.Unlock()

	switch fail {
	case Fail503:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "<html><body>Service Unavailable (crowdfake injected failure)</body></html>")
		return
	case FailHang:
		select {
		case <-r.Context().Done():
		case <-f.closed:
		}
		return
	}

	// Crowd checks the client address before the credentials.
	if !f.addressAllowed(r.RemoteAddr) {
		writeError(w, http.StatusForbidden, ReasonApplicationAccessDenied,
			fmt.Sprintf("Client with address %q is forbidden from making requests to the application, %s.", hostOf(r.RemoteAddr), f.appName))
		return
	}
	name, pw, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(name), []byte(f.appName)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pw), []byte(f.appPassword)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="Crowd REST Service"`)
		writeError(w, http.StatusUnauthorized, ReasonApplicationAccessDenied, "Application failed to authenticate")
		return
	}
	if !known {
		writeError(w, http.StatusNotFound, ReasonIllegalArgument, "no such resource: "+r.Method+" "+r.URL.Path)
		return
	}
	if !acceptsJSON(r) {
		http.Error(w, "crowdfake: send Accept: application/json (Crowd would answer XML)", http.StatusNotAcceptable)
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/json" {
			http.Error(w, "crowdfake: send Content-Type: application/json", http.StatusUnsupportedMediaType)
			return
		}
	}
	rt.handler(f, w, r, r.URL.Query())
}

func (f *Fake) addressAllowed(remote string) bool {
	addr, err := netip.ParseAddr(hostOf(remote))
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range f.allowed {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func hostOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

func acceptsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		if mt == "application/json" {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, reason, msg string) {
	writeJSON(w, status, errorEntity{Reason: reason, Message: msg})
}

// page cuts names to the window asked for with start-index and max-results.
func page(names []string, q url.Values) ([]string, error) {
	start, max := 0, defaultMaxResults
	if s := q.Get("start-index"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad start-index %q", s)
		}
		start = n
	}
	if s := q.Get("max-results"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("bad max-results %q", s)
		}
		// Crowd treats a negative max-results as "all results".
		if n >= 0 {
			max = n
		} else {
			max = len(names)
		}
	}
	if start >= len(names) {
		return []string{}, nil
	}
	end := min(start+max, len(names))
	return names[start:end], nil
}

// requestBase is the URL prefix of links in answers (…/rest/usermanagement/1).
func requestBase(r *http.Request) string {
	p := r.URL.Path
	i := strings.Index(p, "/rest/usermanagement/")
	v := strings.SplitN(p[i+len("/rest/usermanagement/"):], "/", 2)[0]
	return "http://" + r.Host + p[:i] + "/rest/usermanagement/" + v
}

func (f *Fake) userJSON(r *http.Request, u *user) userEntity {
	active := u.active
	return userEntity{
		Expand:      "attributes",
		Link:        &link{Href: requestBase(r) + "/user?username=" + url.QueryEscape(u.name), Rel: "self"},
		Name:        u.name,
		FirstName:   u.name,
		LastName:    "Fake",
		DisplayName: u.name + " Fake",
		Email:       strings.ToLower(u.name) + "@example.com",
		Active:      &active,
	}
}

func userLinks(r *http.Request, names []string) []userEntity {
	out := make([]userEntity, 0, len(names))
	for _, n := range names {
		out = append(out, userEntity{
			Link: &link{Href: requestBase(r) + "/user?username=" + url.QueryEscape(n), Rel: "self"},
			Name: n,
		})
	}
	return out
}

func groupLinks(r *http.Request, names []string) []groupEntity {
	out := make([]groupEntity, 0, len(names))
	for _, n := range names {
		out = append(out, groupEntity{
			Link: &link{Href: requestBase(r) + "/group?groupname=" + url.QueryEscape(n), Rel: "self"},
			Name: n,
		})
	}
	return out
}

// readName decodes Crowd's {"name":"…"} request body.
func readName(w http.ResponseWriter, r *http.Request) (string, bool) {
	var body struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil || body.Name == "" {
		writeError(w, http.StatusBadRequest, ReasonIllegalArgument, "request body must be {\"name\":\"…\"}")
		return "", false
	}
	return body.Name, true
}

func requireParam(w http.ResponseWriter, q url.Values, name string) (string, bool) {
	v := q.Get(name)
	if v == "" {
		writeError(w, http.StatusBadRequest, ReasonIllegalArgument, name+" query parameter is required")
		return "", false
	}
	return v, true
}
