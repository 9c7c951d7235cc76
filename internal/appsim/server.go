// Package appsim is a faithful-enough simulator of Jira and Confluence Data
// Center for floatseat's tests and demo: the login routes and Seraph
// behaviour of REFERENCE §1–2, the app's own cached group membership and
// licence seats of §3 and §5, and the background and "real work" requests
// of §6. Jira and Confluence cannot run on our machines, so every behaviour
// floatseat depends on is reproduced here, and each one cites the REFERENCE
// section it comes from. Where REFERENCE does not pin a behaviour down, the
// simulator picks one and says so in a comment starting "Assumption:".
//
// The user store is pluggable: the simulator's own InternalDirectory, or any
// directory.Directory plus directory.PasswordVerifier (the LDAP and Crowd
// backends), so end-to-end tests can point it at slapd or a Crowd fake.
package appsim

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
)

// Products.
const (
	Jira       = "jira"
	Confluence = "confluence"
)

// UpdateGroupsAtLogin values (REFERENCE §5).
const (
	UpdateEvery = "every"
	UpdateNew   = "new"
	UpdateNever = "never"
)

// UnlimitedSeats as Role.Seats means an unlimited licence. Confluence reports
// it as 2147483647 (REFERENCE §3).
const UnlimitedSeats = -1

// Cookie and header names (REFERENCE §1–2).
const (
	SessionCookie               = "JSESSIONID"
	JiraRememberMeCookie        = "seraph.rememberme.cookie"
	ConfluenceRememberMeCookie  = "seraph.confluence"
	XSRFCookie                  = "atlassian.xsrf.token"
	HeaderUser                  = "X-AUSERNAME"
	HeaderLoginReason           = "X-Seraph-LoginReason"
	HeaderDeniedReason          = "X-Authentication-Denied-Reason"
	HeaderJiraRequestID         = "X-AREQUESTID"
	HeaderConfluenceRequestTime = "X-Confluence-Request-Time"
)

// Seraph login reasons (REFERENCE §1).
const (
	ReasonOK            = "OK"
	ReasonAuthFailed    = "AUTHENTICATED_FAILED"
	ReasonAuthorisation = "AUTHORISATION_FAILED"
	ReasonDenied        = "AUTHENTICATION_DENIED"
	ReasonOut           = "OUT"
)

// CaptchaAnswer solves the simulated CAPTCHA: send it as os_captcha (forms)
// or captchaId (JSON) to get past AUTHENTICATION_DENIED, as a human would.
const CaptchaAnswer = "sim-captcha-ok"

// Role is one licence: a Jira application role, or Confluence's single
// licence (REFERENCE §3).
type Role struct {
	Key           string   // jira-software, jira-servicedesk, jira-core, or confluence
	Name          string   // display name; defaults from Key
	Groups        []string // groups granting the role
	DefaultGroups []string // groups new users get; defaults to Groups
	Seats         int      // UnlimitedSeats for no limit
}

// Config configures a Sim. Zero values take the defaults documented per field.
type Config struct {
	// Product is Jira or Confluence (default Jira).
	Product string
	// Clock is the time source; default time.Now. Inject it to move time in tests.
	Clock func() time.Time
	// NewTicker makes Run's sync ticker; default wraps time.NewTicker. Tests
	// pass a channel they drive themselves.
	NewTicker func(d time.Duration) (<-chan time.Time, func())
	// Logger is optional; nil discards.
	Logger *slog.Logger

	// SessionTimeout ends a session after this long without any request
	// (default: Jira 300 min, Confluence 60 min, REFERENCE §2).
	SessionTimeout time.Duration
	// RememberMeAge is the remember-me cookie lifetime (default 14 days;
	// REFERENCE §2 calls the default unconfirmed).
	RememberMeAge time.Duration

	// Directory and Verifier hold the users and groups. Both nil: a fresh
	// InternalDirectory is used (reach it with Sim.InternalDirectory).
	Directory directory.Directory
	Verifier  directory.PasswordVerifier
	// UpdateGroupsAtLogin is UpdateEvery, UpdateNew (default: what new
	// directories get, REFERENCE §5) or UpdateNever.
	UpdateGroupsAtLogin string
	// SyncInterval is Run's period of full re-reads of membership into the
	// app's cache (default 60 min, REFERENCE §5).
	SyncInterval time.Duration
	// Groups are extra groups the cache tracks besides the roles' groups
	// (for the group REST APIs); groups learned from users are tracked too.
	Groups []string

	// Roles are the licences. Default: Jira one "jira-software" role on
	// group jira-software-users; Confluence "confluence" on confluence-users;
	// 10 seats each.
	Roles []Role
	// CountCacheTTL makes the seat REST APIs report a count up to this old
	// (the apps cache it separately, REFERENCE §1). Default 0: always live.
	// Licence enforcement and MaxUserCount always use the live count.
	CountCacheTTL time.Duration
	// ExcludeFromCount lists users the seat count skips (as the apps skip
	// deactivated users).
	ExcludeFromCount []string

	// CaptchaThreshold is the number of failed logins after which CAPTCHA
	// is required (default 3, jira.maximum.authentication.attempts.allowed);
	// negative disables CAPTCHA.
	CaptchaThreshold int
	// UnlicensedSessionForbidden: a live session (or token) whose user has
	// lost the licence gets 403 on real-work pages. REFERENCE §1 says this is
	// unconfirmed for Jira, hence the switch; off, the page is served.
	UnlicensedSessionForbidden bool
	// AdminUsers may call the admin REST APIs (seats, groups, sessions) and
	// may always log in, licensed or not (Jira lets administrators in to
	// administer). Assumption: admins need no seat to log in.
	AdminUsers []string
	// Projects are Jira's projects, key → projectTypeKey (software,
	// service_desk, business), served at GET /rest/api/2/project and used
	// to tell which licence an issue change needs (REFERENCE §11). Default:
	// FS software, SD service_desk.
	Projects map[string]string
	// BasicAuthDisabled refuses Authorization: Basic (Jira 8.16+,
	// Confluence 7.16+ can switch it off, REFERENCE §2).
	BasicAuthDisabled bool
	// SSO is the app's SSO for Data Center configuration (SAML or OIDC,
	// with the identity provider simulated inside appsim).
	SSO SSOConfig
}

// Sim simulates one Jira or Confluence node. It is an http.Handler.
type Sim struct {
	cfg      Config
	log      *slog.Logger
	dir      directory.Directory
	verifier directory.PasswordVerifier
	internal *InternalDirectory
	mux      *http.ServeMux

	mu          sync.Mutex
	sessions    map[string]*session
	remember    map[string]*rememberToken
	pats        map[string]*patToken
	nextPATID   int
	logins      map[string]*loginStats // lower user → counters
	cache       *membershipCache
	oidcCodes   map[string]oidcGrant
	ssoKey      [32]byte
	ssoLogins   int
	idpSessions map[string]string     // IdP session cookie → user
	idpAccounts map[string]IdPAccount // lower user → what the IdP sends
	countCache  map[string]cachedCount
	cacheGen    int // bumped by every cache change, so a sync can tell it raced one
	// memo holds sorted member lists of the cache at generation memoGen,
	// so a listing of n members in pages costs O(n log n) once, then
	// O(page) a page, not a re-sort per page.
	memo      map[string][]string
	memoGen   int
	maxCount  map[string]int
	requests  []RequestRecord
	nextReqID int
	nextIssue int
	nextPage  int
}

// New builds a simulator from cfg.
func New(cfg Config) *Sim {
	if cfg.Product == "" {
		cfg.Product = Jira
	}
	// Invalid settings are programming errors in a test or the demo: fail loudly.
	if cfg.Product != Jira && cfg.Product != Confluence {
		panic(fmt.Sprintf("appsim: unknown product %q", cfg.Product))
	}
	switch cfg.UpdateGroupsAtLogin {
	case "", UpdateEvery, UpdateNew, UpdateNever:
	default:
		panic(fmt.Sprintf("appsim: unknown UpdateGroupsAtLogin %q", cfg.UpdateGroupsAtLogin))
	}
	switch cfg.SSO.Method {
	case "", SSOSAML, SSOOIDC:
	default:
		panic(fmt.Sprintf("appsim: unknown SSO method %q", cfg.SSO.Method))
	}
	if cfg.Directory != nil && cfg.Verifier == nil {
		v, ok := cfg.Directory.(directory.PasswordVerifier)
		if !ok {
			panic("appsim: Directory given without a Verifier")
		}
		cfg.Verifier = v
	}
	if cfg.Directory == nil && cfg.Verifier != nil {
		panic("appsim: Verifier given without a Directory")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.NewTicker == nil {
		cfg.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 300 * time.Minute
		if cfg.Product == Confluence {
			cfg.SessionTimeout = 60 * time.Minute
		}
	}
	if cfg.RememberMeAge <= 0 {
		cfg.RememberMeAge = 14 * 24 * time.Hour
	}
	if cfg.UpdateGroupsAtLogin == "" {
		cfg.UpdateGroupsAtLogin = UpdateNew
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = 60 * time.Minute
	}
	if cfg.CaptchaThreshold == 0 {
		cfg.CaptchaThreshold = 3
	}
	if len(cfg.Roles) == 0 {
		if cfg.Product == Confluence {
			cfg.Roles = []Role{{Key: "confluence", Groups: []string{"confluence-users"}, Seats: 10}}
		} else {
			cfg.Roles = []Role{{Key: "jira-software", Groups: []string{"jira-software-users"}, Seats: 10}}
		}
	}
	for i := range cfg.Roles {
		r := &cfg.Roles[i]
		if r.Name == "" {
			r.Name = roleName(r.Key)
		}
		if len(r.DefaultGroups) == 0 {
			r.DefaultGroups = r.Groups
		}
	}
	s := &Sim{
		cfg:         cfg,
		log:         cfg.Logger,
		dir:         cfg.Directory,
		verifier:    cfg.Verifier,
		sessions:    map[string]*session{},
		remember:    map[string]*rememberToken{},
		pats:        map[string]*patToken{},
		oidcCodes:   map[string]oidcGrant{},
		idpSessions: map[string]string{},
		idpAccounts: map[string]IdPAccount{},
		countCache:  map[string]cachedCount{},
		logins:      map[string]*loginStats{},
		maxCount:    map[string]int{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	_, _ = rand.Read(s.ssoKey[:])
	if s.dir == nil && s.verifier == nil {
		s.internal = NewInternalDirectory()
		s.dir, s.verifier = s.internal, s.internal
		for _, r := range cfg.Roles {
			for _, g := range r.Groups {
				s.internal.AddGroup(g)
			}
		}
		for _, g := range cfg.Groups {
			s.internal.AddGroup(g)
		}
	} else if v, ok := s.dir.(*InternalDirectory); ok {
		s.internal = v
	}
	s.cache = newMembershipCache()
	for _, r := range cfg.Roles {
		for _, g := range r.Groups {
			s.cache.track(g)
		}
	}
	for _, g := range cfg.Groups {
		s.cache.track(g)
	}
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

func roleName(key string) string {
	switch key {
	case "jira-software":
		return "Jira Software"
	case "jira-servicedesk":
		return "Jira Service Management"
	case "jira-core":
		return "Jira Work Management"
	case "confluence":
		return "Confluence"
	}
	return key
}

// InternalDirectory returns the simulator's own directory, or nil when it
// was given an external one.
func (s *Sim) InternalDirectory() *InternalDirectory { return s.internal }

// Product returns Jira or Confluence.
func (s *Sim) Product() string { return s.cfg.Product }

// rememberCookie is the product's remember-me cookie name (REFERENCE §2).
func (s *Sim) rememberCookie() string { return RememberMeCookieName(s.cfg.Product) }

// RememberMeCookieName returns the product's remember-me cookie name.
func RememberMeCookieName(product string) string {
	if product == Confluence {
		return ConfluenceRememberMeCookie
	}
	return JiraRememberMeCookie
}

// ServeHTTP resolves who the request runs as the way Seraph does (Bearer
// token, Basic, session, then remember-me cookie), serves it, and logs it.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.nextReqID++
	rs := &reqState{id: fmt.Sprintf("%dx%d", s.nextReqID, s.cfg.Clock().Unix()%100000)}
	s.mu.Unlock()
	if c, err := r.Cookie(XSRFCookie); err == nil {
		rs.xsrfIn = c.Value
	}
	rw := &respWriter{ResponseWriter: w, s: s, rs: rs}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rs))

	// REFERENCE §2: passwords in the query string are refused by default.
	if q := r.URL.Query(); q.Has("os_password") {
		s.writeError(rw, http.StatusBadRequest, "Passwords in the query string are not accepted")
		s.record(r, rs, http.StatusBadRequest)
		return
	}
	if s.authenticate(rw, r, rs) {
		s.mux.ServeHTTP(rw, r)
	}
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	s.record(r, rs, rw.status)
}

// authenticate establishes rs.user from the request's credentials. It
// returns false when it already wrote the response (a refused Basic login).
func (s *Sim) authenticate(w http.ResponseWriter, r *http.Request, rs *reqState) bool {
	ctx := r.Context()
	authz := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(authz, "Bearer "):
		// REFERENCE §1: an invalid token answers as anonymous, not 401.
		if u, ok := s.patUser(strings.TrimPrefix(authz, "Bearer ")); ok {
			rs.user, rs.via = u, "pat"
		}
		return true
	case strings.HasPrefix(authz, "Basic "):
		if s.cfg.BasicAuthDisabled {
			s.writeError(w, http.StatusUnauthorized, "Basic authentication is disabled")
			return false
		}
		user, pw, ok := r.BasicAuth()
		if !ok {
			s.writeError(w, http.StatusUnauthorized, "malformed Basic credentials")
			return false
		}
		// REFERENCE §2: Basic is a full login on every request.
		res := s.passwordLogin(ctx, w, r, rs, user, pw, loginOpts{})
		if res.outcome != outcomeOK {
			s.writeLoginFailureREST(w, r, res)
			return false
		}
		rs.via = "basic"
		return true
	}
	if u, ok := s.sessionUser(r, rs); ok {
		// REFERENCE §1: a live session is not re-authorised. Seraph's login
		// filter runs before its security filter, so on a login route the
		// login's own reason is stamped first, not the session's OK.
		rs.user, rs.via = u, "session"
		if !s.isLoginRoute(r) {
			rs.reason(ReasonOK)
		}
		return true
	}
	if c, err := r.Cookie(s.rememberCookie()); err == nil && c.Value != "" {
		s.rememberMeLogin(w, r, rs, c.Value)
	}
	return true
}

// isLoginRoute reports whether r posts credentials to a login route of
// REFERENCE §2.
func (s *Sim) isLoginRoute(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	switch r.URL.Path {
	case "/rest/tsv/1.0/authenticate", "/plugins/servlet/samlconsumer":
		return true
	case "/login.jsp", "/rest/gadget/1.0/login", "/rest/auth/1/session", "/servicedesk/customer/user/login":
		return s.cfg.Product == Jira
	case "/dologin.action":
		return s.cfg.Product == Confluence
	}
	return false
}

func (s *Sim) isAdmin(user string) bool {
	for _, a := range s.cfg.AdminUsers {
		if strings.EqualFold(a, user) {
			return true
		}
	}
	return false
}

// requireAdmin answers 401 to anonymous and 403 to non-admin callers
// (REFERENCE §3: the seat and group APIs need an admin account).
func (s *Sim) requireAdmin(w http.ResponseWriter, r *http.Request) bool {
	rs := state(r)
	if rs.user == "" {
		s.writeError(w, http.StatusUnauthorized, "You are not authenticated. Authentication required to perform this operation.")
		return false
	}
	if !s.isAdmin(rs.user) {
		s.writeError(w, http.StatusForbidden, "You are not authorized to perform this operation. Please log in.")
		return false
	}
	return true
}
