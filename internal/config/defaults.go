package config

import (
	"time"

	"github.com/floatseat/floatseat/internal/poolwork"
)

// ApplyDefaults fills every unset field. Product-specific values follow
// REFERENCE.md: Jira's session timeout is 300 min, Confluence's 60 min.
func (c *Config) ApplyDefaults() {
	if c.Product == "" {
		c.Product = ProductJira
	}
	setS(&c.Listen, ":8090")
	setS(&c.Upstream, "http://127.0.0.1:8080")
	if c.TrustedProxies == nil {
		c.TrustedProxies = []string{"127.0.0.1/32", "::1/128"}
	}
	setS(&c.Mode, ModeEnforce)
	switch c.Product {
	case ProductConfluence:
		setD(&c.SessionTimeout, 60*time.Minute)
	default:
		setD(&c.SessionTimeout, 300*time.Minute)
	}
	setD(&c.MaxIdle, 168*time.Hour)

	setS(&c.Admin.Listen, "127.0.0.1:9090")

	setS(&c.Redis.KeyPrefix, "floatseat:"+c.Product)
	setD(&c.Redis.Timeout, 500*time.Millisecond)

	setD(&c.Activity.Resolution, 30*time.Second)
	setI(&c.Activity.QueueSize, 65536)
	setD(&c.Activity.FlushInterval, time.Second)
	setD(&c.Activity.HeartbeatInterval, 15*time.Second)
	setD(&c.Activity.ProjectsRefreshInterval, 10*time.Minute)

	setS(&c.App.URL, c.Upstream)
	setD(&c.App.Timeout, 10*time.Second)

	if c.Pools == nil {
		c.Pools = defaultPools(c.Product)
	}
	for i := range c.Pools {
		p := &c.Pools[i]
		if p.DefaultGroups == nil && len(p.LicenseGroups) > 0 {
			p.DefaultGroups = []string{p.LicenseGroups[0]}
		}
		if p.Reserve == 0 {
			p.Reserve = 5
		}
		setD(&p.RefreshInterval, 30*time.Second)
		if p.Activity == nil && p.ApplicationRole == "jira-servicedesk" {
			// A JSM agent pool's own work (DESIGN §2.11, REFERENCE §11).
			p.Activity = &PoolActivity{Paths: poolwork.JSMPaths(), ProjectTypes: []string{"service_desk"}}
		}
	}
	if c.Exclude.Groups == nil {
		if c.Product == ProductConfluence {
			c.Exclude.Groups = []string{"confluence-administrators"}
		} else {
			c.Exclude.Groups = []string{"jira-administrators"}
		}
	}
	setD(&c.Exclude.RefreshInterval, 5*time.Minute)

	setD(&c.Directory.SyncInterval, 60*time.Minute)
	setD(&c.Directory.VisibilityMargin, time.Minute)
	setD(&c.Directory.Timeout, 5*time.Second)
	setD(&c.Directory.MembershipRefresh, 10*time.Minute)
	setS(&c.Directory.ParkingPrefix, "floatseat-parked-")
	l := &c.Directory.LDAP
	setS(&l.UserFilter, "(&(objectClass=inetOrgPerson)(uid=%s))")
	setS(&l.UserNameAttribute, "uid")
	setS(&l.GroupFilter, "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))")
	setS(&l.GroupNameAttribute, "cn")
	setS(&l.MemberAttribute, "member")
	if l.MemberValue == "" {
		if l.MemberAttribute == "memberUid" {
			l.MemberValue = "uid"
		} else {
			l.MemberValue = "dn"
		}
	}
	setD(&l.Timeout, c.Directory.Timeout)
	setI(&l.PoolSize, 4)
	setI(&l.PageSize, 500)
	if l.EmptyMember == "" && l.GroupBaseDN != "" {
		l.EmptyMember = "cn=floatseat-empty," + l.GroupBaseDN
	}

	setD(&c.Reaper.Interval, time.Minute)
	setI(&c.Reaper.MaxRevocationsPerRun, 50)
	setD(&c.Reaper.LockTTL, 2*c.Reaper.Interval)
	setD(&c.Reaper.HeartbeatMaxAge, 4*c.Activity.HeartbeatInterval)
	setI(&c.Reaper.ReconcileBatch, 50)

	setI(&c.Identity.CacheSize, 100000)
	setD(&c.Identity.SessionTTL, c.SessionTimeout)
	setD(&c.Identity.RememberMeTTL, 14*24*time.Hour)
	// A token's learned mapping must outlive the ceiling: a script idle
	// longer than max_idle is revoked, and its next call must still be
	// known to be its owner's (DESIGN §2.9).
	setD(&c.Identity.TokenTTL, c.MaxIdle+24*time.Hour)
	setD(&c.Identity.LookupTimeout, 50*time.Millisecond)

	setD(&c.SSO.HintTTL, c.MaxIdle+24*time.Hour)
	setS(&c.SSO.LoginPath, "/plugins/servlet/external-login")

	setD(&c.Proxy.ResponseHeaderTimeout, 5*time.Minute)
	setD(&c.Proxy.ReadHeaderTimeout, 30*time.Second)
	setD(&c.Proxy.IdleTimeout, 2*time.Minute)
	setD(&c.Proxy.ShutdownTimeout, 30*time.Second)
	setI(&c.Proxy.MaxIdleConnsPerHost, 256)
	setD(&c.Proxy.GrantTimeout, 3*time.Second)
	setD(&c.Proxy.LoginBodyTimeout, 10*time.Second)
	setD(&c.Proxy.SSOConfirmWait, 2*time.Minute)
	setI(&c.Proxy.Claims.UserBurst, 5)
	setD(&c.Proxy.Claims.UserInterval, 2*time.Minute)
	setI(&c.Proxy.Claims.AddressBurst, 30)
	setD(&c.Proxy.Claims.AddressInterval, 10*time.Second)

	setS(&c.Log.Level, "info")
	setS(&c.Log.Format, "text")
}

func defaultPools(product string) []Pool {
	if product == ProductConfluence {
		return []Pool{{Name: "confluence", LicenseGroups: []string{"confluence-users"}}}
	}
	return []Pool{{Name: "jira-software", LicenseGroups: []string{"jira-software-users"}, ApplicationRole: "jira-software"}}
}

func setS(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setD(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}

func setI(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}
