package config

import (
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var poolNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

var methods = map[string]bool{"": true, "ANY": true, "GET": true, "HEAD": true, "POST": true, "PUT": true,
	"PATCH": true, "DELETE": true, "OPTIONS": true}

// validate reports every problem of the configuration, section by
// section; each validator adds to v and none stops the others.
func (c *Config) validate(v *validator) {
	c.validateCore(v)
	c.validateRedis(v)
	c.validateActivity(v)
	c.validatePools(v)
	c.validateDirectory(v)
	c.validateNoise(v)
	c.validateReaper(v)
	c.validateIdentity(v)
	c.validateProxy(v)
	c.validateLog(v)
}

// validateCore checks the top level: product, addresses, mode, the
// session window and the admin token.
func (c *Config) validateCore(v *validator) {
	switch c.Product {
	case ProductJira, ProductConfluence:
	default:
		v.errf("product: %q is not jira or confluence", c.Product)
	}
	checkListen(v, "listen", c.Listen)
	checkListen(v, "admin.listen", c.Admin.Listen)
	checkURL(v, "upstream", c.Upstream)
	checkURL(v, "app.url", c.App.URL)
	for i, p := range c.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			v.errf("trusted_proxies[%d]: %q is not an address or CIDR", i, p)
		}
	}
	switch c.Mode {
	case ModeEnforce, ModeObserve:
	default:
		v.errf("mode: %q is not enforce or observe", c.Mode)
	}
	positive(v, "session_timeout", c.SessionTimeout, time.Minute)
	positive(v, "max_idle", c.MaxIdle, time.Minute)
	if c.SessionTimeout > c.MaxIdle {
		v.errf("session_timeout (%v) is longer than max_idle (%v): the window's floor would be above its ceiling", c.SessionTimeout, c.MaxIdle)
	}
	if c.Admin.TokenFile == "" && c.Admin.Token == "" {
		v.warn("admin.token_file is empty: mutating admin calls (grant, revoke, reload) will answer 403")
	}
	if c.Admin.BeyondLoopback() && c.Admin.ReadToken == "" && c.Admin.Token == "" {
		v.warn("admin.listen %q is beyond loopback and neither admin.read_token_file nor admin.token_file is set: the status page, users and audit will answer 401 to everyone", c.Admin.Listen)
	}
}

// validateRedis checks redis: addresses, db, prefix and timeout.
func (c *Config) validateRedis(v *validator) {
	if !c.Redis.Embedded() {
		if c.Redis.Addr != "" && len(c.Redis.Addrs) > 0 {
			v.errf("redis: set addr or addrs, not both")
		}
		for i, a := range append([]string{c.Redis.Addr}, c.Redis.Addrs...) {
			if a == "" && i == 0 {
				continue
			}
			if _, _, err := net.SplitHostPort(a); err != nil {
				v.errf("redis: address %q: want host:port", a)
			}
		}
	}
	if c.Redis.DB < 0 {
		v.errf("redis.db: %d is negative", c.Redis.DB)
	}
	validateRedisTopology(v, c.Redis)
	if c.Redis.KeyPrefix == "" || strings.ContainsAny(c.Redis.KeyPrefix, "{} ") {
		v.errf("redis.key_prefix: %q must be non-empty without braces or spaces", c.Redis.KeyPrefix)
	}
	positive(v, "redis.timeout", c.Redis.Timeout, time.Millisecond)
	validateTLS(v, "redis.tls", c.Redis.TLS)
}

// validateActivity checks activity: against the session timeout.
func (c *Config) validateActivity(v *validator) {
	positive(v, "activity.resolution", c.Activity.Resolution, time.Second)
	if c.Activity.Resolution*2 > c.SessionTimeout {
		v.errf("activity.resolution (%v) must be at most half of session_timeout (%v)", c.Activity.Resolution, c.SessionTimeout)
	}
	if c.Activity.QueueSize < 1 {
		v.errf("activity.queue_size: %d must be positive", c.Activity.QueueSize)
	}
	positive(v, "activity.flush_interval", c.Activity.FlushInterval, time.Millisecond)
	positive(v, "activity.heartbeat_interval", c.Activity.HeartbeatInterval, time.Second)
}

// validateReaper checks reaper: and the membership refresh it reads.
func (c *Config) validateReaper(v *validator) {
	positive(v, "reaper.interval", c.Reaper.Interval, time.Second)
	if c.Reaper.MaxRevocationsPerRun < 0 {
		v.errf("reaper.max_revocations_per_run: %d is negative (0 revokes nobody)", c.Reaper.MaxRevocationsPerRun)
	}
	if c.Reaper.ReconcileBatch < 1 {
		v.errf("reaper.reconcile_batch: %d must be positive", c.Reaper.ReconcileBatch)
	}
	positive(v, "directory.membership_refresh", c.Directory.MembershipRefresh, time.Second)
	if c.Reaper.LockTTL < c.Reaper.Interval {
		v.errf("reaper.lock_ttl (%v) must be at least reaper.interval (%v)", c.Reaper.LockTTL, c.Reaper.Interval)
	}
	if c.Reaper.HeartbeatMaxAge <= c.Activity.HeartbeatInterval {
		v.errf("reaper.heartbeat_max_age (%v) must be longer than activity.heartbeat_interval (%v)", c.Reaper.HeartbeatMaxAge, c.Activity.HeartbeatInterval)
	}
}

// validateIdentity checks identity: and sso:, whose lifetimes follow max_idle.
func (c *Config) validateIdentity(v *validator) {
	if c.Identity.CacheSize < 1 {
		v.errf("identity.cache_size: %d must be positive", c.Identity.CacheSize)
	}
	if c.Identity.Key != "" && len(c.Identity.Key) < 32 {
		v.errf("identity.key_file: the key must be at least 32 bytes")
	}
	positive(v, "identity.session_ttl", c.Identity.SessionTTL, time.Minute)
	positive(v, "identity.remember_me_ttl", c.Identity.RememberMeTTL, time.Minute)
	positive(v, "identity.token_ttl", c.Identity.TokenTTL, time.Minute)
	positive(v, "identity.lookup_timeout", c.Identity.LookupTimeout, time.Millisecond)
	if c.Identity.TokenTTL < c.MaxIdle {
		v.errf("identity.token_ttl (%v) must be at least max_idle (%v): a token idle past the ceiling must still be known when it returns", c.Identity.TokenTTL, c.MaxIdle)
	}
	if c.SSO.HintTTL < c.MaxIdle {
		v.errf("sso.hint_ttl (%v) must be at least max_idle (%v): a browser away past the ceiling must still carry its hint", c.SSO.HintTTL, c.MaxIdle)
	}
	if c.App.EndSessions && c.Product != ProductJira {
		v.errf("app.end_sessions: only Jira (9.11+) can end a user's sessions through its REST API")
	}
	if c.SSO.SAMLUsernameIsEmail && c.Directory.Type != DirLDAP {
		v.warn("sso.saml_username_is_email: only the ldap backend can look users up by e-mail; with %q floatseat learns SAML users from the app's answer only (docs/sso.md)", c.Directory.Type)
	}
	if !strings.HasPrefix(c.SSO.LoginPath, "/") {
		v.errf("sso.login_path: %q must start with /", c.SSO.LoginPath)
	}
}

// validateProxy checks proxy: timeouts, context path and claim limits.
func (c *Config) validateProxy(v *validator) {
	if c.Proxy.ContextPath != "" && (!strings.HasPrefix(c.Proxy.ContextPath, "/") || strings.HasSuffix(c.Proxy.ContextPath, "/")) {
		v.errf("proxy.context_path: %q must start with / and not end with /", c.Proxy.ContextPath)
	}
	positive(v, "proxy.response_header_timeout", c.Proxy.ResponseHeaderTimeout, time.Second)
	positive(v, "proxy.read_header_timeout", c.Proxy.ReadHeaderTimeout, time.Second)
	positive(v, "proxy.idle_timeout", c.Proxy.IdleTimeout, time.Second)
	positive(v, "proxy.shutdown_timeout", c.Proxy.ShutdownTimeout, time.Second)
	positive(v, "proxy.grant_timeout", c.Proxy.GrantTimeout, time.Millisecond)
	positive(v, "proxy.login_body_timeout", c.Proxy.LoginBodyTimeout, time.Millisecond)
	positive(v, "proxy.sso_confirm_wait", c.Proxy.SSOConfirmWait, time.Second)
	positive(v, "proxy.claims.user_interval", c.Proxy.Claims.UserInterval, time.Millisecond)
	positive(v, "proxy.claims.address_interval", c.Proxy.Claims.AddressInterval, time.Millisecond)
	if c.Proxy.Claims.UserBurst < 1 || c.Proxy.Claims.AddressBurst < 1 {
		v.errf("proxy.claims: user_burst and address_burst must be at least 1")
	}
}

// validateLog checks log: level and format.
func (c *Config) validateLog(v *validator) {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.errf("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		v.errf("log.format: %q is not text or json", c.Log.Format)
	}
}

func (c *Config) validatePools(v *validator) {
	if len(c.Pools) == 0 {
		v.errf("pools: at least one pool is needed")
	}
	seen := map[string]bool{}
	group := map[string]string{}
	needsApp, typed, mains := false, false, 0
	for i, p := range c.Pools {
		at := "pools[" + strconv.Itoa(i) + "]"
		if !poolNameRE.MatchString(p.Name) {
			v.errf("%s.name: %q must be lower-case letters, digits, '.', '_' or '-'", at, p.Name)
		} else {
			at = "pool " + p.Name
		}
		if seen[p.Name] {
			v.errf("%s: duplicate pool name", at)
		}
		seen[p.Name] = true
		validatePoolGroups(v, at, p, group)
		if c.validatePoolSeats(v, at, p) {
			needsApp = true
		}
		positive(v, at+".refresh_interval", p.RefreshInterval, time.Second)
		if p.Main {
			mains++
		}
		if c.validatePoolActivity(v, at, i, p) {
			typed = true
		}
	}
	if mains > 1 {
		v.errf("pools: %d pools say main: true; at most one may", mains)
	}
	if len(c.Pools) > 64 {
		v.errf("pools: %d pools; at most 64", len(c.Pools))
	}
	if typed {
		positive(v, "activity.projects_refresh_interval", c.Activity.ProjectsRefreshInterval, time.Second)
		needsApp = true
	}
	if needsApp && (c.App.User == "" || c.App.Password == "") && !c.Redis.Embedded() {
		v.errf("app.user and app.password_file (or FLOATSEAT_APP_PASSWORD) are needed to read seat counts from the app")
	}
}

// validatePoolGroups checks a pool's licence and default groups; group
// maps each licence group (lower-cased) to the pool that named it first.
func validatePoolGroups(v *validator, at string, p Pool, group map[string]string) {
	if len(p.LicenseGroups) == 0 {
		v.errf("%s: license_groups is empty", at)
	}
	for _, g := range p.LicenseGroups {
		lg := strings.ToLower(g)
		if other, ok := group[lg]; ok && other != p.Name {
			v.warn("%s: licence group %q also belongs to pool %s; a revocation from one pool removes a seat of both", at, g, other)
		}
		group[lg] = p.Name
	}
	for _, g := range p.DefaultGroups {
		if !containsFold(p.LicenseGroups, g) {
			v.errf("%s: default group %q is not one of its license_groups", at, g)
		}
	}
}

// validatePoolSeats checks where a pool's seat count comes from, and its
// reserve; it reports whether the count is read from the app.
func (c *Config) validatePoolSeats(v *validator, at string, p Pool) (needsApp bool) {
	switch {
	case p.ApplicationRole != "" && p.Seats != nil:
		v.errf("%s: set application_role or seats, not both", at)
	case p.ApplicationRole != "":
		if c.Product != ProductJira {
			v.errf("%s: application_role is a Jira setting; Confluence seats are read from its licence API (or set seats)", at)
		}
		needsApp = true
	case p.Seats != nil:
		if *p.Seats < 0 {
			v.errf("%s: seats %d is negative", at, *p.Seats)
		}
	case c.Product == ProductJira:
		v.errf("%s: set application_role (jira-software, jira-servicedesk, jira-core) or seats", at)
	default:
		needsApp = true // Confluence licence API
	}
	if p.Reserve < 0 {
		v.errf("%s: reserve %d is negative", at, p.Reserve)
	}
	if p.Seats != nil && p.Reserve >= *p.Seats && *p.Seats > 0 {
		v.errf("%s: reserve %d leaves no seat to use out of %d", at, p.Reserve, *p.Seats)
	}
	return needsApp
}

// validatePoolActivity checks which requests count as the pool's work
// (the i-th pool); it reports whether the pool names Jira project types.
func (c *Config) validatePoolActivity(v *validator, at string, i int, p Pool) (typed bool) {
	if p.Activity != nil {
		for _, re := range p.Activity.Paths {
			if _, err := regexp.Compile(re); err != nil {
				v.errf("%s: activity.paths: %v", at, err)
			}
		}
		if len(p.Activity.ProjectTypes) > 0 {
			typed = true
			if c.Product != ProductJira {
				v.errf("%s: activity.project_types is a Jira setting", at)
			}
		}
	}
	if i > 0 && !p.Main && (p.Activity == nil || len(p.Activity.Paths)+len(p.Activity.ProjectTypes) == 0) {
		v.warn("%s: no activity rules and not the main pool: no request counts as its work, so its users keep it only until max_idle", at)
	}
	return typed
}

func (c *Config) validateDirectory(v *validator) {
	d := c.Directory
	positive(v, "directory.sync_interval", d.SyncInterval, time.Second)
	positive(v, "directory.visibility_margin", d.VisibilityMargin, time.Second)
	positive(v, "directory.timeout", d.Timeout, time.Millisecond)
	switch d.Type {
	case "":
		if c.Mode == ModeEnforce && !c.Redis.Embedded() {
			v.errf("directory.type: empty; enforce mode needs ldap, crowd, jira or confluence")
		}
	case DirLDAP:
		l := d.LDAP
		if u, err := url.Parse(l.URL); err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
			v.errf("directory.ldap.url: %q is not ldap://host:port or ldaps://host:port", l.URL)
		} else if u.Scheme == "ldaps" && l.StartTLS {
			v.errf("directory.ldap: start_tls with ldaps:// makes no sense; pick one")
		}
		if l.BindDN == "" {
			v.errf("directory.ldap.bind_dn is empty")
		}
		if l.BindPassword == "" {
			v.errf("directory.ldap.bind_password_file (or FLOATSEAT_LDAP_BIND_PASSWORD) is empty")
		}
		if l.UserBaseDN == "" {
			v.errf("directory.ldap.user_base_dn is empty")
		}
		if l.GroupBaseDN == "" {
			v.errf("directory.ldap.group_base_dn is empty")
		}
		if strings.Count(l.UserFilter, "%s") != 1 {
			v.errf("directory.ldap.user_filter: %q must contain %%s exactly once", l.UserFilter)
		}
		switch l.MemberAttribute {
		case "member", "uniqueMember", "memberUid":
		default:
			v.errf("directory.ldap.member_attribute: %q is not member, uniqueMember or memberUid", l.MemberAttribute)
		}
		switch l.MemberValue {
		case "dn", "uid":
		default:
			v.errf("directory.ldap.member_value: %q is not dn or uid", l.MemberValue)
		}
		if l.MemberAttribute == "memberUid" && l.MemberValue != "uid" {
			v.errf("directory.ldap: memberUid holds uids, so member_value must be uid")
		}
		if l.ADMatchingRuleInChain && l.MemberValue != "dn" {
			v.errf("directory.ldap.ad_matching_rule_in_chain needs DN member values")
		}
		if l.PoolSize < 1 || l.PageSize < 1 {
			v.errf("directory.ldap: pool_size and page_size must be positive")
		}
	case DirCrowd:
		cr := d.Crowd
		checkURL(v, "directory.crowd.url", cr.URL)
		if cr.AppName == "" {
			v.errf("directory.crowd.app_name is empty")
		}
		if cr.AppPassword == "" {
			v.errf("directory.crowd.app_password_file (or FLOATSEAT_CROWD_APP_PASSWORD) is empty")
		}
	case DirJira, DirConfluence:
		if d.Type != c.Product {
			v.errf("directory.type: %q does not match product %q", d.Type, c.Product)
		}
		if c.App.User == "" || c.App.Password == "" {
			v.errf("directory.type %s: app.user and app.password_file are needed", d.Type)
		}
	default:
		v.errf("directory.type: %q is not ldap, crowd, jira or confluence", d.Type)
	}
}

func (c *Config) validateNoise(v *validator) {
	seen := map[string]bool{}
	for i, r := range c.Noise.Rules {
		at := "noise.rules[" + strconv.Itoa(i) + "]"
		if r.Name == "" {
			v.errf("%s: name is empty", at)
		} else {
			at = "noise rule " + r.Name
		}
		if seen[r.Name] {
			v.errf("%s: duplicate name", at)
		}
		seen[r.Name] = true
		if !methods[strings.ToUpper(r.Method)] {
			v.errf("%s: method %q is not an HTTP method", at, r.Method)
		}
		if r.Path == "" {
			v.errf("%s: path is empty", at)
		} else if _, err := regexp.Compile(r.Path); err != nil {
			v.errf("%s: path: %v", at, err)
		}
		if r.Query != "" {
			if _, err := regexp.Compile(r.Query); err != nil {
				v.errf("%s: query: %v", at, err)
			}
		}
	}
}

// ParsePrefix accepts "10.0.0.0/8" or a single address.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// IsLoopbackListen reports whether a listen address (host:port) binds
// loopback only: 127.0.0.0/8, ::1 or localhost. An empty host, 0.0.0.0,
// ::, any other address or name (which may resolve anywhere) is not.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func checkListen(v *validator, key, addr string) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		v.errf("%s: %q: want host:port or :port", key, addr)
	}
}

func checkURL(v *validator, key, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errf("%s: %q is not an http(s) URL", key, s)
	}
}

func positive(v *validator, key string, d, min time.Duration) {
	if d < min {
		v.errf("%s: %v is shorter than %v", key, d, min)
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// validateRedisTopology refuses redis: combinations that cannot work: the
// universal client would silently pick another topology, or the server
// would refuse the first command.
func validateRedisTopology(v *validator, r Redis) {
	switch {
	case r.Cluster && r.SentinelMaster != "":
		v.errf("redis: cluster and sentinel_master exclude each other: Sentinel serves one master, a Cluster has its own failover")
	case r.Cluster && r.Embedded():
		v.errf("redis.cluster: needs a seed address in redis.addr or redis.addrs")
	case r.SentinelMaster != "" && r.Addr != "":
		v.errf("redis.sentinel_master: list the sentinels in redis.addrs; redis.addr is one Redis server, not a sentinel")
	case r.SentinelMaster != "" && len(r.Addrs) == 0:
		v.errf("redis.sentinel_master: needs the sentinels' addresses in redis.addrs")
	case len(r.Addrs) == 1 && r.SentinelMaster == "" && !r.Cluster:
		v.warn("redis.addrs has one address and no sentinel_master: a single server; set redis.cluster: true if it is a Cluster seed, or use redis.addr")
	case r.SentinelMaster != "" && len(r.Addrs) < 3:
		v.warn("redis.addrs lists %d sentinel(s): with fewer than 3 a failover needs every one of them", len(r.Addrs))
	}
	if r.ClusterMode() && r.DB != 0 {
		v.errf("redis.db: %d with a Redis Cluster: a Cluster has only database 0", r.DB)
	}
}
