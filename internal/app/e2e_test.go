package app

// End-to-end: real nginx (deploy/nginx/floatseat.conf) → two floatseat
// replicas → the Jira simulator, with a real redis-server, on an
// accelerated clock shared by the simulator and floatseat.

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/crowd"
	"github.com/floatseat/floatseat/internal/directory/crowd/crowdfake"
	"github.com/floatseat/floatseat/internal/directory/ldapdir"
	"github.com/floatseat/floatseat/internal/testenv"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const (
	e2eFloor   = time.Hour     // session_timeout
	e2eCeiling = 4 * time.Hour // max_idle
)

// products are the group names of each product's world: users are
// licensed, pool-group members, excluded admins or (Jira) JSM agents.
var products = map[string]struct{ lic, pool, admin, agent string }{
	"jira":       {"jira-software-users", "jira-users", "jira-administrators", "jira-servicedesk-users"},
	"confluence": {"confluence-users", "confluence-pool", "confluence-administrators", ""},
}

type world struct {
	t        *testing.T
	product  string // jira or confluence
	lic      string // the main licence group
	clock    *fakeClock
	sim      *appsim.Sim
	dir      directory.Directory    // what floatseat writes (and tests read)
	slapd    *testenv.Slapd         // set in the LDAP world
	redis    *testenv.Redis         // the single redis-server (unless redis is set in worldOpts)
	sentinel *testenv.RedisSentinel // with worldOpts.redis "sentinel"
	cluster  *testenv.RedisCluster  // with worldOpts.redis "cluster"
	apps     []*App
	nginx    *testenv.Nginx
	base     string // through nginx
}

type worldOpts struct {
	seats      int
	users      []string         // licensed in jira-software-users
	poolUsers  []string         // only in the pool group jira-users
	admins     []string         // licensed and in jira-administrators (excluded)
	agents     []string         // licensed in jira-servicedesk-users too
	customers  []string         // in no group: JSM portal customers
	product    string           // "" or "jira": Jira Software + JSM; "confluence"
	crowd      bool             // the Crowd fake is the directory of both the app and floatseat
	unlicensed bool             // UnlicensedSessionForbidden
	rest       bool             // floatseat writes through the app's REST group API
	ldap       bool             // a real slapd is the directory of both the app and floatseat
	redis      string           // "" one redis-server; "cluster" a 3-master Cluster; "sentinel" a Sentinel group
	maxIdle    time.Duration    // max_idle; default e2eCeiling
	floor      time.Duration    // session_timeout of the app and floatseat; default e2eFloor
	reaperIntv time.Duration    // reaper.interval; default 1h (tests run it by hand)
	sso        appsim.SSOConfig // the app's SSO for Data Center
	extraYAML  string           // appended to floatseat's configuration
	// wrap, when set, wraps the app's handler (fault injection).
	wrap func(http.Handler) http.Handler
	// wrapDir, when set, wraps the directory floatseat writes (default world).
	wrapDir func(directory.Directory) directory.Directory
	// endSessions sets app.end_sessions (Jira 9.11+).
	endSessions bool
}

// newWorld builds the chain with an LDAP-like directory: floatseat writes
// the directory, and the app sees it at a password login ("every time") or
// at its next sync.
func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: real redis-server and nginx")
	}
	if o.floor == 0 {
		o.floor = e2eFloor
	}
	if o.reaperIntv == 0 {
		o.reaperIntv = time.Hour
	}
	if o.product == "" {
		o.product = "jira"
	}
	names := products[o.product]
	w := &world{t: t, product: o.product, lic: names.lic, clock: &fakeClock{now: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}}
	redisYAML := w.startRedis(o.redis)
	// Who is in which group, then built in the chosen directory.
	users := map[string][]string{"svc": nil}
	for _, u := range o.customers {
		users[u] = nil
	}
	for _, set := range []struct {
		users  []string
		groups []string
	}{
		{o.users, []string{names.lic}},
		{o.poolUsers, []string{names.pool}},
		{o.admins, []string{names.lic, names.admin}},
		{o.agents, []string{names.lic, names.agent}},
	} {
		for _, u := range set.users {
			users[u] = append(users[u], set.groups...)
		}
	}
	simCfg := appsim.Config{
		Product: o.product, Clock: w.clock.Now, SessionTimeout: o.floor, UpdateGroupsAtLogin: appsim.UpdateEvery,
		SyncInterval: 24 * time.Hour, AdminUsers: []string{"svc"}, UnlicensedSessionForbidden: o.unlicensed,
		Roles: []appsim.Role{
			{Key: "jira-software", Groups: []string{"jira-software-users"}, Seats: o.seats},
			{Key: "jira-servicedesk", Groups: []string{"jira-servicedesk-users"}, Seats: o.seats},
		},
		Groups: []string{names.pool, names.admin},
		SSO:    o.sso,
	}
	groups := []string{names.lic, names.agent, names.pool, names.admin}
	if o.product == "confluence" {
		simCfg.Roles = []appsim.Role{{Key: "confluence", Groups: []string{names.lic}, Seats: o.seats}}
		groups = []string{names.lic, names.pool, names.admin}
	}
	ctx := t.Context()
	if o.ldap {
		w.slapd = testenv.StartSlapd(t)
		ld := seedLDAP(t, w.slapd, users, groups)
		simCfg.Directory, simCfg.Verifier = ld, ld
		w.dir = ld
	}
	var crowdYAML string
	if o.crowd {
		cd, yaml := seedCrowd(t, users, groups)
		simCfg.Directory, simCfg.Verifier = cd, cd
		w.dir, crowdYAML = cd, yaml
	}
	w.sim = appsim.New(simCfg)
	if !o.ldap && !o.crowd {
		in := w.sim.InternalDirectory()
		for _, g := range groups {
			in.AddGroup(g)
		}
		for u, gs := range users {
			pw := "pw-" + u
			if u == "svc" {
				pw = "svc-pw"
			}
			in.AddUser(u, pw)
			for _, g := range gs {
				_ = in.AddMember(ctx, u, g)
			}
		}
		w.dir = in
	}
	if err := w.sim.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	var upstream http.Handler = w.sim
	if o.wrap != nil {
		upstream = o.wrap(upstream)
	}
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)

	dirYAML := `{type: ldap, sync_interval: 24h, ldap: {url: "ldap://unused:389", bind_dn: x, user_base_dn: x, group_base_dn: x}}`
	opts := []Option{WithClock(w.clock.Now)}
	switch {
	case o.rest:
		dirYAML = fmt.Sprintf(`{type: %s}`, o.product)
	case o.crowd:
		dirYAML = crowdYAML
	case o.ldap:
		dirYAML = fmt.Sprintf(`{type: ldap, sync_interval: 24h, timeout: 1s, ldap: {url: %q, bind_dn: %q, user_base_dn: "ou=people,dc=example,dc=org", group_base_dn: "ou=groups,dc=example,dc=org", nested: true}}`,
			w.slapd.URL, w.slapd.AdminDN)
		testSecrets["FLOATSEAT_LDAP_BIND_PASSWORD"] = w.slapd.AdminPassword
		t.Cleanup(func() { testSecrets["FLOATSEAT_LDAP_BIND_PASSWORD"] = "x" })
	default:
		fsDir := w.dir
		if o.wrapDir != nil {
			fsDir = o.wrapDir(fsDir)
		}
		opts = append(opts, WithDirectory(fsDir, false))
	}
	if o.maxIdle == 0 {
		o.maxIdle = e2eCeiling
	}
	poolsYAML := `  - {name: jira-software, license_groups: [jira-software-users], pool_groups: [jira-users], application_role: jira-software, reserve: 1, refresh_interval: 1s}
  - {name: jsm, license_groups: [jira-servicedesk-users], application_role: jira-servicedesk, reserve: 0, refresh_interval: 1s}`
	if o.product == "confluence" {
		// Seats from Confluence's licence API (no application_role).
		poolsYAML = `  - {name: confluence, license_groups: [confluence-users], pool_groups: [confluence-pool], reserve: 1, refresh_interval: 1s}`
	}
	var addrs []string
	for i := 0; i < 2; i++ {
		yaml := fmt.Sprintf(`
product: %s
listen: 127.0.0.1:0
upstream: %s
mode: enforce
session_timeout: %s
max_idle: %s
admin: {listen: 127.0.0.1:0}
redis: %s
activity: {resolution: 1s, flush_interval: 20ms, heartbeat_interval: 1s}
app: {user: svc, end_sessions: %v}
pools:
%s
exclude: {groups: [%s]}
directory: %s
reaper: {interval: %s}
log: {level: error}
%s
`, o.product, up.URL, o.floor, o.maxIdle, redisYAML, o.endSessions, poolsYAML, names.admin, dirYAML, o.reaperIntv, o.extraYAML)
		a := runApp(t, yaml, opts...)
		w.apps = append(w.apps, a)
		addrs = append(addrs, a.ProxyAddr())
	}
	w.nginx = testenv.StartNginx(t, addrs...)
	w.base = "http://" + w.nginx.Addr
	w.settle()
	return w
}

// startRedis starts the topology the world runs on and returns its redis:
// section.
func (w *world) startRedis(topology string) string {
	const prefix = `key_prefix: "floatseat:e2e"`
	switch topology {
	case "cluster":
		w.cluster = testenv.StartRedisClusterWithReplicas(w.t)
		return fmt.Sprintf("{addr: %q, cluster: true, %s}", w.cluster.Addrs[0], prefix)
	case "sentinel":
		w.sentinel = testenv.StartRedisSentinel(w.t)
		return fmt.Sprintf("{addrs: [%s], sentinel_master: %s, %s}", strings.Join(w.sentinel.Addrs, ", "), w.sentinel.MasterName, prefix)
	default:
		w.redis = testenv.StartRedis(w.t)
		return fmt.Sprintf("{addr: %q, %s}", w.redis.Addr, prefix)
	}
}

// settle waits until every replica has a licence report and a heartbeat
// at the current (fake) time.
func (w *world) settle() {
	w.t.Helper()
	now := w.clock.Now()
	for _, a := range w.apps {
		eventually(w.t, "licence report and heartbeat at the current time", func() bool {
			st, err := a.Status(w.t.Context())
			if err != nil || st.LastHeartbeat == nil || st.LastHeartbeat.Before(now) {
				return false
			}
			for _, p := range st.Pools {
				if p.LicenceReportedAt == nil || p.LicenceReportedAt.Before(now) {
					return false
				}
			}
			return true
		})
	}
}

// advance moves time on, lets every replica catch up, and runs the reaper.
func (w *world) advance(d time.Duration) {
	w.t.Helper()
	w.clock.Advance(d)
	w.settle()
	w.reap()
}

func (w *world) reap() {
	w.t.Helper()
	for _, a := range w.apps { // whichever holds the lock runs
		if err := a.ReapNow(w.t.Context()); err != nil {
			w.t.Logf("reap: %v", err)
		}
	}
	w.replicasKnowRevocations()
}

// replicasKnowRevocations waits until every replica's revoked view holds
// what Redis records. Other replicas learn a revocation by pub/sub within
// moments; a test that logs in right after a reap would otherwise race that
// delivery (on a loaded machine the login can land first on the replica
// that has not heard, and go out ungranted), which no user returning
// minutes or hours later meets.
func (w *world) replicasKnowRevocations() {
	w.t.Helper()
	a0 := w.apps[0]
	if a0.seats == nil {
		return
	}
	for _, p := range a0.cfg().Pools {
		recs, err := a0.store.RevokedUsers(w.t.Context(), p.Name)
		if err != nil {
			return // Redis is down in this test: nothing to wait for
		}
		for _, a := range w.apps {
			eventually(w.t, "every replica knows the revocations of "+p.Name, func() bool {
				for u := range recs {
					if _, ok := a.seats.keeper.IsRevoked(u)[p.Name]; !ok {
						return false
					}
				}
				return true
			})
		}
	}
}

func (w *world) browser(user string) *appsim.Browser {
	return appsim.NewBrowser(w.base, user, "pw-"+user, w.product)
}

func (w *world) licensed(user, group string) bool {
	ok, err := w.dir.IsMember(w.t.Context(), user, group, false)
	if err != nil {
		w.t.Fatal(err)
	}
	return ok
}

func (w *world) mustLogin(b *appsim.Browser, remember bool) {
	w.t.Helper()
	res, err := b.Login(w.t.Context(), remember)
	if err != nil || res.LoginReason() != "OK" {
		w.t.Fatalf("login: %+v %v", res, err)
	}
}

func TestE2EDeployingRevokesNobodyAtOnce(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"alice", "bob", "carol"}})
	w.reap()
	w.advance(2 * time.Hour) // past the floor, within the ceiling since observation start
	for _, u := range []string{"alice", "bob", "carol"} {
		if !w.licensed(u, "jira-software-users") {
			t.Errorf("%s lost the seat although floatseat has watched for less than max_idle", u)
		}
	}
}

func TestE2EIdleUserComesBack(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"alice", "bob"}, admins: []string{"root"}})
	ctx := t.Context()
	b := w.browser("alice")
	w.mustLogin(b, false)
	w.advance(5 * time.Hour) // past the ceiling
	if w.licensed("alice", "jira-software-users") {
		t.Fatal("alice kept the seat past max_idle")
	}
	if !w.licensed("root", "jira-software-users") {
		t.Error("an excluded admin was revoked")
	}
	// Back: the login succeeds on the first try, with no failed login.
	b2 := w.browser("alice")
	w.mustLogin(b2, false)
	if res, err := b2.ViewIssue(ctx, "FS-1"); err != nil || res.Status != 200 {
		t.Errorf("work after return: %+v %v", res, err)
	}
	if n := w.sim.FailedLoginCount("alice"); n != 0 {
		t.Errorf("failed logins: %d, want 0", n)
	}
}

func TestE2ERememberMeReturnWithLDAP(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"dana"}})
	ctx := t.Context()
	b := w.browser("dana")
	w.mustLogin(b, true)
	w.advance(5 * time.Hour)
	if w.licensed("dana", "jira-software-users") {
		t.Fatal("dana kept the seat past max_idle")
	}
	b.DropSession() // the session expired; only the remember-me cookie is left
	res, err := b.ViewIssue(ctx, "FS-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.User != "anonymous" {
		t.Errorf("with the grant invisible to the app, the remember-me cookie must not be forwarded: answered as %q", res.User)
	}
	if !w.licensed("dana", "jira-software-users") {
		t.Error("the return did not restore the group in the directory")
	}
	w.mustLogin(b, true) // one password login: the app re-reads groups
	if res, err := b.ViewIssue(ctx, "FS-1"); err != nil || res.Status != 200 || res.User != "dana" {
		t.Errorf("work after the login: %+v %v", res, err)
	}
	if n := w.sim.FailedLoginCount("dana"); n != 0 || w.sim.CaptchaRequired("dana") {
		t.Errorf("failed logins %d, CAPTCHA %v; want 0 and none", n, w.sim.CaptchaRequired("dana"))
	}
}

func TestE2EPollingAgentIsRevokedAndComesBack(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, agents: []string{"agent"}, unlicensed: true})
	ctx := t.Context()
	b := w.browser("agent")
	w.mustLogin(b, false)
	if res, _ := b.Get(ctx, "/browse/SD-1"); res.Status != 200 {
		t.Fatalf("first work: %d", res.Status)
	}
	// The queue tab polls every 30 minutes; nobody touches anything.
	for i := 0; i < 10; i++ {
		w.clock.Advance(30 * time.Minute)
		if res, _ := b.Get(ctx, "/rest/servicedesk/1/servicedesk/SD/queues/poll"); res.Status != 200 || res.User != "agent" {
			t.Fatalf("poll %d: %d %q (the session must stay alive by polling)", i, res.Status, res.User)
		}
	}
	w.settle()
	w.reap()
	if w.licensed("agent", "jira-servicedesk-users") {
		t.Fatal("the polling agent kept the JSM seat: polling counted as activity")
	}
	// First real click, viewing a ticket: a collaborator's view needs no
	// agent seat, so only the Software seat comes back; with an LDAP-like
	// directory the app sees it at its next sync.
	res, _ := b.Get(ctx, "/browse/SD-1")
	if !w.licensed("agent", "jira-software-users") || w.licensed("agent", "jira-servicedesk-users") {
		t.Fatal("viewing a ticket must give back the Software seat and not the agent seat")
	}
	if res.Status == 200 {
		t.Log("the app let the live session work before its sync")
	}
	// Opening a queue is agent work: the agent seat comes back first.
	_, _ = b.Get(ctx, "/projects/SD/queues/custom/1")
	if !w.licensed("agent", "jira-servicedesk-users") {
		t.Fatal("opening a queue did not give the agent seat back")
	}
	w.staleEverywhere("agent")
	// Until the app can see the grants, the live session is not forwarded
	// (it would keep its old groups: 403s): the app asks for a login, which
	// re-reads groups, and the work goes through (docs/sso.md).
	if res, _ := b.Get(ctx, "/projects/SD/queues/custom/1"); res.Status != http.StatusFound || !strings.Contains(res.Header.Get("Location"), "/login.jsp") {
		t.Errorf("queue before the app can see the grant: %d to %q, want the login page, not a 403", res.Status, res.Header.Get("Location"))
	}
	w.mustLogin(b, false)
	if res, _ := b.Get(ctx, "/projects/SD/queues/custom/1"); res.Status != 200 || res.User != "agent" {
		t.Errorf("queue after the login: %d as %q, want 200 as agent", res.Status, res.User)
	}
}

func TestE2ESeatPressure(t *testing.T) {
	users := []string{"u1", "u2", "u3", "u4", "u5"}
	w := newWorld(t, worldOpts{seats: 5, users: users, poolUsers: []string{"late1", "late2"}})
	ctx := t.Context()
	bs := map[string]*appsim.Browser{}
	for _, u := range users {
		bs[u] = w.browser(u)
		w.mustLogin(bs[u], false)
	}
	// Everyone active within the floor: a newcomer finds every seat taken.
	late := w.browser("late1")
	res, err := late.Login(ctx, false)
	if err != nil || res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("login with every seat held by active users: %+v %v, want 503 with Retry-After", res, err)
	}
	// u1 and u2 go quiet; the others keep working.
	for step := 0; step < 4; step++ {
		w.clock.Advance(25 * time.Minute)
		for _, u := range users[2:] {
			if r, _ := bs[u].ViewIssue(ctx, "FS-1"); r.Status != 200 {
				t.Fatalf("%s working: %d", u, r.Status)
			}
		}
	}
	w.settle()
	w.reap() // headroom 0 < reserve 1: the longest idle past the floor goes
	revoked := 0
	for _, u := range users {
		if !w.licensed(u, "jira-software-users") {
			revoked++
			if u != "u1" && u != "u2" {
				t.Errorf("%s, active within the floor, lost the seat", u)
			}
		}
	}
	if revoked != 1 {
		t.Errorf("revoked %d users, want 1 (down to the reserve)", revoked)
	}
	// Until the app's directory sync it still counts the revoked user, so
	// the seat is not free yet.
	if res, _ := w.browser("late1").Login(ctx, false); res.Status != http.StatusServiceUnavailable {
		t.Errorf("before the app noticed the revocation: %d, want 503", res.Status)
	}
	// The app syncs and reports the freed seat: the newcomer gets in.
	if err := w.sim.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(2 * time.Minute) // past the visibility margin of the revocation
	w.settle()
	late2 := w.browser("late1")
	if res, err := late2.Login(ctx, false); err != nil || res.LoginReason() != "OK" {
		t.Errorf("newcomer after the reaper freed a seat: %+v %v", res, err)
	}
	if max := w.sim.MaxUserCount("jira-software"); max > 5 {
		t.Errorf("the app counted %d users at its peak, over its 5 seats", max)
	}
}

func TestE2EBearerTokenScript(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"bot"}})
	token := w.sim.CreatePAT("bot", "nightly script")
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodGet, w.base+"/rest/api/2/issue/FS-1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Ausername") != "bot" {
			t.Fatalf("PAT request: X-AUSERNAME %q", resp.Header.Get("X-Ausername"))
		}
	}
	eventually(t, "the token's activity recorded", func() bool {
		last, err := w.apps[0].Store().LastActivity(t.Context(), []string{"bot"})
		return err == nil && !last["bot"].IsZero()
	})
}

func TestE2ERedisDown(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"fay"}})
	b := w.browser("fay")
	w.mustLogin(b, false)
	w.redis.Kill()
	for i := 0; i < 20; i++ {
		if res, err := b.ViewIssue(t.Context(), "FS-1"); err != nil || res.Status != 200 {
			t.Fatalf("request %d with Redis down: %+v %v", i, res, err)
		}
	}
	w.redis.Restart(t)
	eventually(t, "activity recorded again", func() bool {
		_, _ = b.ViewIssue(t.Context(), "FS-2")
		last, err := w.apps[0].Store().LastActivity(t.Context(), []string{"fay"})
		return err == nil && !last["fay"].IsZero()
	})
}

func TestE2ERememberMeReturnWithAppREST(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"gus"}, rest: true})
	ctx := t.Context()
	b := w.browser("gus")
	w.mustLogin(b, true)
	w.advance(5 * time.Hour)
	if w.licensed("gus", "jira-software-users") {
		t.Fatal("gus kept the seat past max_idle")
	}
	b.DropSession() // only the remember-me cookie is left
	res, err := b.ViewIssue(ctx, "FS-1")
	if err != nil || res.Status != 200 || res.User != "gus" {
		t.Errorf("remember-me return through the app's REST API: %d %q %v, want 200 as gus at once", res.Status, res.User, err)
	}
	if n := w.sim.FailedLoginCount("gus"); n != 0 || w.sim.CaptchaRequired("gus") {
		t.Errorf("failed logins %d, CAPTCHA %v; want 0 and none", n, w.sim.CaptchaRequired("gus"))
	}
}

func TestE2EPollingAgentWithAppREST(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, agents: []string{"agent"}, unlicensed: true, rest: true})
	ctx := t.Context()
	b := w.browser("agent")
	w.mustLogin(b, false)
	for i := 0; i < 10; i++ {
		w.clock.Advance(30 * time.Minute)
		if res, _ := b.Get(ctx, "/rest/servicedesk/1/servicedesk/SD/queues/poll"); res.User != "agent" {
			t.Fatalf("poll %d answered as %q", i, res.User)
		}
	}
	w.settle()
	w.reap()
	if w.licensed("agent", "jira-servicedesk-users") {
		t.Fatal("the polling agent kept the JSM seat")
	}
	if res, _ := b.Get(ctx, "/browse/SD-1"); res.Status != 200 {
		t.Errorf("first real click with the app-REST backend: %d, want 200 at once", res.Status)
	}
	if res, _ := b.Get(ctx, "/projects/SD/queues/custom/1"); res.Status != 200 {
		t.Errorf("first queue with the app-REST backend: %d, want 200 at once", res.Status)
	}
	if !w.licensed("agent", "jira-servicedesk-users") {
		t.Error("JSM not given back")
	}
}

// seedLDAP builds people and groups in slapd and returns floatseat's LDAP
// backend on it, which the simulated app also uses to authenticate users
// and read their groups.
func seedLDAP(t *testing.T, s *testenv.Slapd, users map[string][]string, groups []string) *ldapdir.Dir {
	t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	add := func(dn string, attrs map[string][]string) {
		r := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			r.Attribute(k, v)
		}
		if err := c.Add(r); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	add("dc=example,dc=org", map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}})
	add("ou=people,dc=example,dc=org", map[string][]string{"objectClass": {"organizationalUnit"}})
	add("ou=groups,dc=example,dc=org", map[string][]string{"objectClass": {"organizationalUnit"}})
	members := map[string][]string{}
	for _, g := range groups {
		members[g] = nil
	}
	for u, gs := range users {
		pw := "pw-" + u
		if u == "svc" {
			pw = "svc-pw"
		}
		dn := "uid=" + u + ",ou=people,dc=example,dc=org"
		add(dn, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {u}, "cn": {u}, "sn": {u}, "userPassword": {pw}})
		for _, g := range gs {
			members[g] = append(members[g], dn)
		}
	}
	for g, ms := range members {
		if len(ms) == 0 {
			ms = []string{"cn=nobody,dc=example,dc=org"} // groupOfNames must have a member
		}
		add("cn="+g+",ou=groups,dc=example,dc=org", map[string][]string{"objectClass": {"groupOfNames"}, "cn": {g}, "member": ms})
	}
	d, err := ldapdir.New(ldapdir.Config{URL: s.URL, BindDN: s.AdminDN, BindPassword: s.AdminPassword,
		UserBaseDN: "ou=people,dc=example,dc=org", UserFilter: "(&(objectClass=inetOrgPerson)(uid=%s))",
		GroupBaseDN: "ou=groups,dc=example,dc=org", Nested: true, Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestE2EWithRealSlapd(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"hana", "ivan"}, admins: []string{"root"}, ldap: true})
	ctx := t.Context()
	b := w.browser("hana")
	w.mustLogin(b, true)
	w.advance(5 * time.Hour)
	if w.licensed("hana", "jira-software-users") {
		t.Fatal("hana kept the seat past max_idle")
	}
	if !w.licensed("root", "jira-software-users") {
		t.Error("an excluded admin was revoked")
	}
	// Remember-me only: the login page, one password login, work.
	b.DropSession()
	if res, _ := b.ViewIssue(ctx, "FS-1"); res.User != "anonymous" {
		t.Errorf("remember-me forwarded before the app could see the grant: answered as %q", res.User)
	}
	w.mustLogin(b, true)
	if res, _ := b.ViewIssue(ctx, "FS-1"); res.Status != 200 || res.User != "hana" {
		t.Errorf("work after the login: %d %q", res.Status, res.User)
	}
	if n := w.sim.FailedLoginCount("hana"); n != 0 || w.sim.CaptchaRequired("hana") {
		t.Errorf("failed logins %d, CAPTCHA %v", n, w.sim.CaptchaRequired("hana"))
	}

	// slapd killed: logins are still forwarded (the app decides), fast.
	w.slapd.Kill()
	ivan := w.browser("ivan")
	res, err := ivan.Login(ctx, false)
	if err != nil || res.Status >= 500 {
		t.Errorf("login with slapd down: %+v %v, want it forwarded to the app", res.Status, err)
	}
	w.slapd.Restart(t)
	eventually(t, "ivan logs in again once slapd is back", func() bool {
		res, err := w.browser("ivan").Login(ctx, false)
		return err == nil && res.LoginReason() == "OK"
	})
}

// seedCrowd starts the Crowd fake with the world's people and groups and
// returns floatseat's Crowd backend on it (the simulated app also uses it
// to authenticate users and read their groups) and the directory: section.
func seedCrowd(t *testing.T, users map[string][]string, groups []string) (*crowd.Client, string) {
	t.Helper()
	fake, srv := crowdfake.NewServer(t, crowdfake.Options{})
	for _, g := range groups {
		fake.AddGroup(g)
	}
	for u, gs := range users {
		pw := "pw-" + u
		if u == "svc" {
			pw = "svc-pw"
		}
		fake.AddUser(u, pw, true)
		for _, g := range gs {
			if err := fake.AddMember(u, g); err != nil {
				t.Fatal(err)
			}
		}
	}
	name, pw := fake.AppCredentials()
	c, err := crowd.New(crowd.Config{URL: srv.URL, AppName: name, AppPassword: pw, Timeout: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testSecrets["FLOATSEAT_CROWD_APP_PASSWORD"] = pw
	t.Cleanup(func() { delete(testSecrets, "FLOATSEAT_CROWD_APP_PASSWORD") })
	return c, fmt.Sprintf(`{type: crowd, sync_interval: 24h, timeout: 1s, crowd: {url: %q, app_name: %q}}`, srv.URL, name)
}
