// Package crowdfake is an in-memory HTTP fake of Atlassian Crowd's user
// management REST API (/rest/usermanagement/1, also /latest), as described
// in REFERENCE §4. It is the test helper of package crowd, beside it: the
// Crowd client's unit and conformance tests run against it, and the
// end-to-end tests use it as the Crowd of a whole deployment, so it answers
// with Crowd's status codes, JSON bodies and error reasons rather than
// whatever is convenient, and it can misbehave on demand (503, hangs,
// read-only directory) so resilience code has something real to be tested
// against.
//
// A Fake is an http.Handler; mount it with httptest.NewServer or use
// NewServer. It accepts requests under any context path, so both
// srv.URL+"/rest/usermanagement/1/user?username=alice" and
// srv.URL+"/crowd/rest/usermanagement/latest/user?username=alice" work.
//
// Like Crowd it requires, for every request:
//   - HTTP Basic credentials of the application (401 otherwise);
//   - a client address in the application's allowlist (403 otherwise;
//     loopback by default);
//   - "Accept: application/json" (Crowd answers XML otherwise; the fake
//     answers 406 so a client that forgets the header fails loudly), and
//     "Content-Type: application/json" on requests with a body (415).
//
// Names of users and groups compare case-insensitively; the case they were
// created with is kept and returned. All methods are safe for concurrent use.
package crowdfake

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Default application credentials, used when Options leaves them empty.
const (
	DefaultAppName     = "floatseat"
	DefaultAppPassword = "floatseat-app-secret"
)

// Options configures a Fake. The zero value is usable.
type Options struct {
	// AppName and AppPassword are the Crowd application's credentials the
	// client must present with HTTP Basic. Empty means the defaults above.
	AppName, AppPassword string
	// AllowedNetworks is the application's client-address allowlist.
	// Nil means loopback only (127.0.0.0/8 and ::1), as a fresh Crowd
	// application is usually configured for a local test.
	AllowedNetworks []netip.Prefix
	// ReadOnly makes every membership write answer 403
	// APPLICATION_PERMISSION_DENIED, as Crowd does when the application may
	// not modify the directory. The Go seeding API is not affected.
	ReadOnly bool
}

// Failure is a way for the fake to misbehave, see FailNext.
type Failure int

const (
	// Fail503 answers 503 Service Unavailable without doing anything.
	Fail503 Failure = iota + 1
	// FailHang answers nothing until the request's context ends (the client
	// gives up or disconnects) or the Fake is closed.
	FailHang
)

// Op names an operation for the request counters.
type Op string

// Operations counted by the fake. Requests it does not recognise count as OpUnknown.
const (
	OpAuthenticate       Op = "authenticate"
	OpUser               Op = "user"
	OpGroup              Op = "group"
	OpUserGroupsDirect   Op = "user-groups-direct"
	OpUserGroupsNested   Op = "user-groups-nested"
	OpMembersDirect      Op = "group-members-direct"
	OpMembersNested      Op = "group-members-nested"
	OpIsMemberDirect     Op = "is-member-direct"
	OpIsMemberNested     Op = "is-member-nested"
	OpAddMember          Op = "add-member"
	OpRemoveMember       Op = "remove-member"
	OpChildGroupsDirect  Op = "child-groups-direct"
	OpChildGroupsNested  Op = "child-groups-nested"
	OpParentGroupsDirect Op = "parent-groups-direct"
	OpParentGroupsNested Op = "parent-groups-nested"
	OpAddChildGroup      Op = "add-child-group"
	OpRemoveChildGroup   Op = "remove-child-group"
	OpAddGroup           Op = "add-group"
	OpUnknown            Op = "unknown"
)

type user struct {
	name     string
	password string
	active   bool
	expired  bool
}

type group struct {
	name     string
	users    map[string]struct{} // lower-cased user names
	children map[string]struct{} // lower-cased child group names
}

// Fake is an in-memory Crowd server. Create it with New.
type Fake struct {
	appName, appPassword string
	allowed              []netip.Prefix

	mu       sync.Mutex
	readOnly bool
	users    map[string]*user  // by lower-cased name
	groups   map[string]*group // by lower-cased name
	counts   map[Op]int
	failMode Failure
	failN    int

	closeOnce sync.Once
	closed    chan struct{}
}

// New returns an empty Fake configured by opts.
func New(opts Options) *Fake {
	f := &Fake{
		appName:     opts.AppName,
		appPassword: opts.AppPassword,
		allowed:     opts.AllowedNetworks,
		readOnly:    opts.ReadOnly,
		users:       map[string]*user{},
		groups:      map[string]*group{},
		counts:      map[Op]int{},
		closed:      make(chan struct{}),
	}
	if f.appName == "" {
		f.appName = DefaultAppName
	}
	if f.appPassword == "" {
		f.appPassword = DefaultAppPassword
	}
	if f.allowed == nil {
		f.allowed = []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("::1/128"),
		}
	}
	return f
}

// NewServer starts a Fake on a loopback httptest.Server and stops both when
// the test ends, releasing hung requests first so the server's Close does
// not wait for them.
func NewServer(tb testing.TB, opts Options) (*Fake, *httptest.Server) {
	tb.Helper()
	f := New(opts)
	srv := httptest.NewServer(f)
	// Cleanups run last-registered first: release hangs, then close.
	tb.Cleanup(srv.Close)
	tb.Cleanup(f.Close)
	return f, srv
}

// Close releases every request held by FailHang. The Fake still answers
// later requests normally; Close only exists so servers can shut down.
func (f *Fake) Close() {
	f.closeOnce.Do(func() { close(f.closed) })
}

// AppCredentials returns the application name and password clients must use.
func (f *Fake) AppCredentials() (name, password string) {
	return f.appName, f.appPassword
}

// SetReadOnly switches read-only mode (see Options.ReadOnly).
func (f *Fake) SetReadOnly(ro bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readOnly = ro
}

// FailNext makes the next n requests, of any operation, fail with mode.
// n <= 0 stops failing. The failing requests are still counted.
func (f *Fake) FailNext(n int, mode Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failN, f.failMode = max(n, 0), mode
}

// Count returns how many requests for op the fake has received.
func (f *Fake) Count(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// Counts returns a copy of every request counter.
func (f *Fake) Counts() map[Op]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[Op]int, len(f.counts))
	for k, v := range f.counts {
		out[k] = v
	}
	return out
}

// ResetCounts zeroes the request counters, e.g. after seeding.
func (f *Fake) ResetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.counts)
}

// ---- seeding and inspection ----

// AddUser creates user name, or replaces its password and active flag when
// it exists (keeping its memberships and original case).
func (f *Fake) AddUser(name, password string, active bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.users[key(name)]; ok {
		u.password, u.active = password, active
		return
	}
	f.users[key(name)] = &user{name: name, password: password, active: active}
}

// SetActive activates or deactivates a user. It reports whether the user exists.
func (f *Fake) SetActive(name string, active bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[key(name)]
	if ok {
		u.active = active
	}
	return ok
}

// SetPasswordExpired marks a user's password expired, so authentication
// answers EXPIRED_CREDENTIAL. It reports whether the user exists.
func (f *Fake) SetPasswordExpired(name string, expired bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[key(name)]
	if ok {
		u.expired = expired
	}
	return ok
}

// AddGroup creates group name; an existing group is left as it is.
func (f *Fake) AddGroup(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[key(name)]; !ok {
		f.groups[key(name)] = newGroup(name)
	}
}

// AddMember makes user a direct member of group (argument order as in
// directory.Directory). Both must exist; already a member is not an error.
func (f *Fake) AddMember(userName, groupName string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[key(groupName)]
	if !ok {
		return &seedError{"group " + groupName + " not found"}
	}
	if _, ok := f.users[key(userName)]; !ok {
		return &seedError{"user " + userName + " not found"}
	}
	g.users[key(userName)] = struct{}{}
	return nil
}

// RemoveMember removes user's direct membership of group, if any.
func (f *Fake) RemoveMember(userName, groupName string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g, ok := f.groups[key(groupName)]; ok {
		delete(g.users, key(userName))
	}
}

// AddChildGroup makes child a direct subgroup of parent: members of child
// are nested members of parent. Both must exist.
func (f *Fake) AddChildGroup(parent, child string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.groups[key(parent)]
	if !ok {
		return &seedError{"group " + parent + " not found"}
	}
	if _, ok := f.groups[key(child)]; !ok {
		return &seedError{"group " + child + " not found"}
	}
	p.children[key(child)] = struct{}{}
	return nil
}

// Members returns the names of group's users, direct or nested, sorted
// case-insensitively, as created. An unknown group has none.
func (f *Fake) Members(groupName string, nested bool) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names, _ := f.members(groupName, nested)
	return names
}

// Groups returns the names of the groups user belongs to, direct or nested,
// sorted case-insensitively. An unknown user has none.
func (f *Fake) Groups(userName string, nested bool) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names, _ := f.userGroups(userName, nested)
	return names
}

type seedError struct{ msg string }

func (e *seedError) Error() string { return "crowdfake: " + e.msg }

// ---- model queries; callers hold f.mu ----

func key(name string) string { return strings.ToLower(name) }

func newGroup(name string) *group {
	return &group{name: name, users: map[string]struct{}{}, children: map[string]struct{}{}}
}

// descendants returns g and every group below it, each once, so cycles in
// the nesting (which Crowd forbids but seeding might create) terminate.
func (f *Fake) descendants(g *group) []*group {
	seen := map[string]bool{key(g.name): true}
	out := []*group{g}
	for i := 0; i < len(out); i++ {
		for c := range out[i].children {
			if cg, ok := f.groups[c]; ok && !seen[c] {
				seen[c] = true
				out = append(out, cg)
			}
		}
	}
	return out
}

// members lists group's users; ok is false when the group does not exist.
func (f *Fake) members(groupName string, nested bool) ([]string, bool) {
	g, ok := f.groups[key(groupName)]
	if !ok {
		return nil, false
	}
	gs := []*group{g}
	if nested {
		gs = f.descendants(g)
	}
	set := map[string]struct{}{}
	for _, g := range gs {
		for u := range g.users {
			set[u] = struct{}{}
		}
	}
	var out []string
	for u := range set {
		if uu, ok := f.users[u]; ok {
			out = append(out, uu.name)
		}
	}
	sortFold(out)
	return out, true
}

// userGroups lists user's groups; ok is false when the user does not exist.
func (f *Fake) userGroups(userName string, nested bool) ([]string, bool) {
	if _, ok := f.users[key(userName)]; !ok {
		return nil, false
	}
	var out []string
	for _, g := range f.groups {
		if f.isMember(g, key(userName), nested) {
			out = append(out, g.name)
		}
	}
	sortFold(out)
	return out, true
}

func (f *Fake) isMember(g *group, userKey string, nested bool) bool {
	gs := []*group{g}
	if nested {
		gs = f.descendants(g)
	}
	for _, g := range gs {
		if _, ok := g.users[userKey]; ok {
			return true
		}
	}
	return false
}

// parents lists the groups that have g as a child, directly or nested.
func (f *Fake) parents(g *group, nested bool) []string {
	var out []string
	for _, p := range f.groups {
		if p == g {
			continue
		}
		if nested {
			for _, d := range f.descendants(p)[1:] {
				if d == g {
					out = append(out, p.name)
					break
				}
			}
		} else if _, ok := p.children[key(g.name)]; ok {
			out = append(out, p.name)
		}
	}
	sortFold(out)
	return out
}

func (f *Fake) children(g *group, nested bool) []string {
	var out []string
	if nested {
		for _, d := range f.descendants(g)[1:] {
			out = append(out, d.name)
		}
	} else {
		for c := range g.children {
			if cg, ok := f.groups[c]; ok {
				out = append(out, cg.name)
			}
		}
	}
	sortFold(out)
	return out
}

// sortFold sorts names case-insensitively so pages are stable.
func sortFold(names []string) {
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(key(a), key(b)) })
}

var _ http.Handler = (*Fake)(nil)
