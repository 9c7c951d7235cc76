// Package config is floatseat's configuration: the YAML schema of DESIGN
// §3.2 parsed into typed values, product defaults, secrets read from files or
// FLOATSEAT_* variables, and validation that reports every problem at once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"
)

// Products floatseat knows.
const (
	ProductJira       = "jira"
	ProductConfluence = "confluence"
)

// Modes.
const (
	ModeEnforce = "enforce"
	ModeObserve = "observe"
)

// Directory types.
const (
	DirLDAP       = "ldap"
	DirCrowd      = "crowd"
	DirJira       = "jira"
	DirConfluence = "confluence"
)

// Config is the whole configuration file.
type Config struct {
	Product        string        `yaml:"product"`
	Listen         string        `yaml:"listen"`
	Upstream       string        `yaml:"upstream"`
	TrustedProxies []string      `yaml:"trusted_proxies"`
	Mode           string        `yaml:"mode"`
	SessionTimeout time.Duration `yaml:"session_timeout"`
	MaxIdle        time.Duration `yaml:"max_idle"`
	Admin          Admin         `yaml:"admin"`
	Redis          Redis         `yaml:"redis"`
	Activity       Activity      `yaml:"activity"`
	App            App           `yaml:"app"`
	Pools          []Pool        `yaml:"pools"`
	Exclude        Exclude       `yaml:"exclude"`
	Directory      Directory     `yaml:"directory"`
	Noise          Noise         `yaml:"noise"`
	Reaper         Reaper        `yaml:"reaper"`
	Identity       Identity      `yaml:"identity"`
	SSO            SSO           `yaml:"sso"`
	Proxy          Proxy         `yaml:"proxy"`
	Log            Log           `yaml:"log"`

	// Path is the file the configuration was read from; relative secret
	// files are resolved against its directory.
	Path string `yaml:"-"`
	// ModeForced is set when Mode was forced to observe (embedded store).
	ModeForced string `yaml:"-"`
	// set holds the key paths the file wrote ("pools[0].reserve"): a
	// reload tells a changed key from a default derived from another.
	set map[string]bool
}

// Admin is the admin port.
type Admin struct {
	Listen    string `yaml:"listen"`
	TokenFile string `yaml:"token_file"`
	Token     Secret `yaml:"-"`
	// ReadTokenFile holds the token that reads (status page, users, audit)
	// need when Listen is beyond loopback; the admin token also reads.
	ReadTokenFile string `yaml:"read_token_file"`
	ReadToken     Secret `yaml:"-"`
}

// BeyondLoopback reports whether the admin port listens beyond loopback,
// so that its reads need a token.
func (a Admin) BeyondLoopback() bool { return !IsLoopbackListen(a.Listen) }

// Redis is where activity, identities, seats and audit live. Empty Addr and
// Addrs select the embedded in-process store (observe mode only).
type Redis struct {
	Addr           string   `yaml:"addr"`
	Addrs          []string `yaml:"addrs"`
	SentinelMaster string   `yaml:"sentinel_master"`
	// Cluster reaches a Redis Cluster through one seed address (addr or
	// a single addrs entry); several addrs without sentinel_master are a
	// Cluster already.
	Cluster      bool   `yaml:"cluster"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	DB           int    `yaml:"db"`
	TLS          TLS    `yaml:"tls"`
	KeyPrefix    string `yaml:"key_prefix"`
	// Timeout bounds every Redis command; the request path never waits
	// longer than this on Redis.
	Timeout  time.Duration `yaml:"timeout"`
	Password Secret        `yaml:"-"`
}

// Embedded reports whether the in-process store is used.
func (r Redis) Embedded() bool { return r.Addr == "" && len(r.Addrs) == 0 }

// ClusterMode reports whether the client talks Redis Cluster: cluster: true,
// or several addrs without sentinel_master (go-redis's universal client).
func (r Redis) ClusterMode() bool {
	return r.SentinelMaster == "" && (r.Cluster || len(r.Addrs) > 1)
}

// TLS settings for a client connection (tls.go builds them).
type TLS struct {
	Enabled bool `yaml:"enabled"`
	// CAFile verifies the server; empty trusts the system's roots.
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
	// CertFile and KeyFile are the client certificate for a server that
	// asks for one (mutual TLS; redis-server's tls-auth-clients defaults
	// to yes). Both or neither.
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Activity recording.
type Activity struct {
	// Resolution: at most one write per user per Resolution per replica.
	Resolution time.Duration `yaml:"resolution"`
	// QueueSize bounds pending activity events; overflow is dropped and counted.
	QueueSize int `yaml:"queue_size"`
	// FlushInterval is how often pending writes are sent in one pipeline.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// HeartbeatInterval is how often this replica announces itself; the
	// reaper refuses to revoke without a live heartbeat.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// ProjectsRefreshInterval is how often project keys and types are read
	// from the app, for pools with activity.project_types.
	ProjectsRefreshInterval time.Duration `yaml:"projects_refresh_interval"`
}

// App is the service account for the licence API and the app backends.
type App struct {
	URL          string        `yaml:"url"`
	User         string        `yaml:"user"`
	PasswordFile string        `yaml:"password_file"`
	Timeout      time.Duration `yaml:"timeout"`
	// EndSessions: at each revocation, end the user's sessions in the app
	// (Jira 9.11+ DELETE /rest/api/2/user/session/{user}; docs/sso.md).
	EndSessions bool   `yaml:"end_sessions"`
	Password    Secret `yaml:"-"`
}

// Pool is one licence: Jira Software, JSM agents, or Confluence.
type Pool struct {
	Name            string   `yaml:"name"`
	LicenseGroups   []string `yaml:"license_groups"`
	DefaultGroups   []string `yaml:"default_groups"`
	PoolGroups      []string `yaml:"pool_groups"`
	ApplicationRole string   `yaml:"application_role"`
	// Seats fixes the seat count; usage is then counted from the directory.
	Seats   *int `yaml:"seats"`
	Reserve int  `yaml:"reserve"` // 0 is allowed and means 0
	// RefreshInterval is how often the app's seat count is polled.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// Main marks the product's main pool: requests that are no pool's own
	// work count for it. Default: the first pool.
	Main bool `yaml:"main"`
	// Activity says which requests are this pool's own work (DESIGN
	// §2.11). Unset on a jira-servicedesk pool: the JSM agent defaults.
	Activity *PoolActivity `yaml:"activity"`
}

// PoolActivity is a pool's own work.
type PoolActivity struct {
	// Paths are regexps on the request path.
	Paths []string `yaml:"paths"`
	// ProjectTypes are Jira project types (service_desk, software,
	// business) whose issues are this pool's work.
	ProjectTypes []string `yaml:"project_types"`
}

// Exclude lists who is never revoked.
type Exclude struct {
	Groups          []string      `yaml:"groups"`
	Users           []string      `yaml:"users"`
	RefreshInterval time.Duration `yaml:"refresh_interval"`
}

// Directory selects and configures the backend that changes memberships.
type Directory struct {
	Type string `yaml:"type"`
	// SyncInterval is the app's own directory sync interval (User
	// Directories → Synchronisation Interval). A grant the app can only see
	// at the next sync counts as pending for this long.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// VisibilityMargin is added to when a grant or revocation can first
	// show in the app's seat count (its count cache may lag).
	VisibilityMargin time.Duration `yaml:"visibility_margin"`
	Timeout          time.Duration `yaml:"timeout"`
	// MembershipRefresh is how often the membership view (licence, pool
	// and exclusion groups) is read in full; in between it is kept
	// current by floatseat's own grants and revocations.
	MembershipRefresh time.Duration `yaml:"membership_refresh"`
	LDAP              LDAP          `yaml:"ldap"`
	Crowd             Crowd         `yaml:"crowd"`
	// ParkingPrefix names the parking group of each licence group G:
	// ParkingPrefix+G holds the users floatseat took G from, the durable
	// copy of the revoked record (DESIGN §2.10).
	ParkingPrefix string `yaml:"parking_prefix"`
}

// LDAP directory settings.
type LDAP struct {
	URL                   string        `yaml:"url"`
	BindDN                string        `yaml:"bind_dn"`
	BindPasswordFile      string        `yaml:"bind_password_file"`
	UserBaseDN            string        `yaml:"user_base_dn"`
	UserFilter            string        `yaml:"user_filter"`
	UserNameAttribute     string        `yaml:"user_name_attribute"`
	GroupBaseDN           string        `yaml:"group_base_dn"`
	GroupFilter           string        `yaml:"group_filter"`
	GroupNameAttribute    string        `yaml:"group_name_attribute"`
	MemberAttribute       string        `yaml:"member_attribute"`
	MemberValue           string        `yaml:"member_value"`
	Nested                bool          `yaml:"nested"`
	ADMatchingRuleInChain bool          `yaml:"ad_matching_rule_in_chain"`
	StartTLS              bool          `yaml:"start_tls"`
	CAFile                string        `yaml:"ca_file"`
	InsecureSkipVerify    bool          `yaml:"insecure_skip_verify"`
	Timeout               time.Duration `yaml:"timeout"`
	PoolSize              int           `yaml:"pool_size"`
	PageSize              int           `yaml:"page_size"`
	EmptyMember           string        `yaml:"empty_member"`
	BindPassword          Secret        `yaml:"-"`
}

// Crowd directory settings.
type Crowd struct {
	URL             string `yaml:"url"`
	AppName         string `yaml:"app_name"`
	AppPasswordFile string `yaml:"app_password_file"`
	AppPassword     Secret `yaml:"-"`
}

// Noise configures the background-request filter.
type Noise struct {
	Defaults *bool       `yaml:"defaults"`
	Rules    []NoiseRule `yaml:"rules"`
	Disable  []string    `yaml:"disable"`
}

// NoiseRule is one admin rule: optional method, a regexp on the path, an
// optional regexp on the raw query.
type NoiseRule struct {
	Name   string `yaml:"name"`
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	Query  string `yaml:"query"`
}

// DefaultsEnabled reports whether the shipped rules apply (default true).
func (n Noise) DefaultsEnabled() bool { return n.Defaults == nil || *n.Defaults }

// Reaper settings.
type Reaper struct {
	Interval             time.Duration `yaml:"interval"`
	MaxRevocationsPerRun int           `yaml:"max_revocations_per_run"`
	// LockTTL bounds how long a dead reaper keeps the lock.
	LockTTL time.Duration `yaml:"lock_ttl"`
	// HeartbeatMaxAge: no revocations unless a proxy heartbeat is this fresh.
	HeartbeatMaxAge time.Duration `yaml:"heartbeat_max_age"`
	// ReconcileBatch bounds the directory reads one reconcile pass spends
	// sweeping revoked records; the full sweep is spread over runs.
	ReconcileBatch int `yaml:"reconcile_batch"`
}

// Identity configures how learned session → user mappings are kept.
type Identity struct {
	// KeyFile holds the HMAC key for learned mappings; empty = generated
	// once and kept in Redis, shared by all replicas.
	KeyFile       string        `yaml:"key_file"`
	CacheSize     int           `yaml:"cache_size"`
	SessionTTL    time.Duration `yaml:"session_ttl"`
	RememberMeTTL time.Duration `yaml:"remember_me_ttl"`
	TokenTTL      time.Duration `yaml:"token_ttl"`
	LookupTimeout time.Duration `yaml:"lookup_timeout"`
	Key           Secret        `yaml:"-"`
}

// SSO configures what floatseat does with SSO for Data Center logins
// (docs/sso.md).
type SSO struct {
	// Hint switches the browser hint cookie (default true).
	Hint *bool `yaml:"hint"`
	// HintTTL is the hint cookie's lifetime; at least max_idle.
	HintTTL time.Duration `yaml:"hint_ttl"`
	// SAMLUsernameAttribute names the SAML attribute that carries the
	// username, as the app's username mapping does; empty is NameID.
	SAMLUsernameAttribute string `yaml:"saml_username_attribute"`
	// SAMLUsernameIsEmail: the NameID (or attribute) is the user's e-mail;
	// floatseat maps it to the username through the directory backend.
	SAMLUsernameIsEmail bool `yaml:"saml_username_is_email"`
	// LoginPath starts an SSO login at the app; floatseat's seat page sends
	// the browser there.
	LoginPath string `yaml:"login_path"`
	// SeatPage serves floatseat's "get your seat back" page instead of the
	// app's "We can't log you in" on an SSO login with no hint (default true).
	SeatPage *bool `yaml:"seat_page"`
}

// HintEnabled reports whether the hint cookie is set (default true).
func (s SSO) HintEnabled() bool { return s.Hint == nil || *s.Hint }

// SeatPageEnabled reports whether floatseat serves its seat page (default true).
func (s SSO) SeatPageEnabled() bool { return s.SeatPage == nil || *s.SeatPage }

// Proxy tunes the request path.
type Proxy struct {
	// ContextPath is the app's context path ("/jira"), if any.
	ContextPath           string        `yaml:"context_path"`
	ResponseHeaderTimeout time.Duration `yaml:"response_header_timeout"`
	ReadHeaderTimeout     time.Duration `yaml:"read_header_timeout"`
	IdleTimeout           time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout       time.Duration `yaml:"shutdown_timeout"`
	MaxIdleConnsPerHost   int           `yaml:"max_idle_conns_per_host"`
	GrantTimeout          time.Duration `yaml:"grant_timeout"`
	// LoginBodyTimeout bounds the read of a login body (DESIGN §2.1).
	LoginBodyTimeout time.Duration `yaml:"login_body_timeout"`
	// SSOConfirmWait: how long an SSO grant whose redirect named nobody
	// waits for a request the app answers as its user (DESIGN §2.9).
	SSOConfirmWait time.Duration `yaml:"sso_confirm_wait"`
	// Claims limits grants made for claims (DESIGN §2.9).
	Claims ClaimLimits `yaml:"claims"`
	// PasswordCheck: check a claim's password with the backend before a
	// grant, where it can (ldap, crowd); nil means on (CheckPasswords).
	PasswordCheck *bool `yaml:"password_check"`
}

// CheckPasswords reports proxy.password_check (default true).
func (p Proxy) CheckPasswords() bool { return p.PasswordCheck == nil || *p.PasswordCheck }

// ClaimLimits are token buckets on claims the app did not confirm: a burst,
// then one more every interval. A confirmed login gives its token back.
type ClaimLimits struct {
	UserBurst       int           `yaml:"user_burst"`
	UserInterval    time.Duration `yaml:"user_interval"`
	AddressBurst    int           `yaml:"address_burst"`
	AddressInterval time.Duration `yaml:"address_interval"`
}

// Log settings.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// Load reads, defaults, resolves secrets and validates path. It returns the
// config with every problem found (errors) and advice (warnings). The
// config is unusable when errs is non-empty.
func Load(path string) (cfg *Config, warnings []string, errs []error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, []error{fmt.Errorf("read config: %w", err)}
	}
	return Parse(b, path, os.Getenv)
}

// Parse is Load on bytes; getenv supplies FLOATSEAT_* overrides.
func Parse(b []byte, path string, getenv func(string) string) (*Config, []string, []error) {
	cfg := &Config{Path: path}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			errs := make([]error, 0, len(te.Errors))
			for _, e := range te.Errors {
				errs = append(errs, errors.New(e))
			}
			return nil, nil, errs
		}
		return nil, nil, []error{fmt.Errorf("parse %s: %w", path, err)}
	}
	var root yaml.Node
	var zeros []reflect.Value
	if err := yaml.Unmarshal(b, &root); err == nil {
		zeros = explicitZeros(&root, reflect.ValueOf(cfg).Elem(), nil)
		cfg.set = map[string]bool{}
		setKeys(&root, "", cfg.set)
	}
	cfg.ApplyDefaults()
	// Defaults fill unset fields; a number written as 0 means 0.
	for _, z := range zeros {
		z.SetZero()
	}
	var v validator
	cfg.resolveFiles()
	cfg.readSecrets(&v, getenv)
	cfg.validate(&v)
	if cfg.Redis.Embedded() && cfg.Mode == ModeEnforce {
		cfg.Mode = ModeObserve
		cfg.ModeForced = "redis.addr is empty: the embedded store is per process, so floatseat runs in observe mode"
		v.warn("%s", cfg.ModeForced)
	}
	return cfg, v.warnings, v.errs
}

// LogValue keeps secrets out of logs even if the whole config is logged.
func (c *Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("product", c.Product),
		slog.String("listen", c.Listen),
		slog.String("upstream", c.Upstream),
		slog.String("mode", c.Mode),
		slog.Duration("session_timeout", c.SessionTimeout),
		slog.Duration("max_idle", c.MaxIdle),
		slog.Int("pools", len(c.Pools)),
		slog.String("directory", c.Directory.Type),
	)
}
