package config

import (
	"strings"
	"testing"
	"time"
)

// TestExplicitZeros: a number written as 0 means 0 (or is refused where 0
// makes no sense); left out, it takes the default.
func TestExplicitZeros(t *testing.T) {
	for _, tc := range []struct {
		name    string
		from    string // replaced in valid
		to      string
		get     func(*Config) any
		want    any
		wantErr string // non-empty: 0 is refused with this text
	}{
		{name: "reserve unset", from: "    reserve: 5\n", to: "", get: func(c *Config) any { return c.Pools[0].Reserve }, want: 5},
		{name: "reserve 0", from: "    reserve: 5\n", to: "    reserve: 0\n", get: func(c *Config) any { return c.Pools[0].Reserve }, want: 0},
		{name: "second pool reserve 0", from: "    application_role: jira-servicedesk\n", to: "    application_role: jira-servicedesk\n    reserve: 0\n",
			get: func(c *Config) any { return c.Pools[1].Reserve }, want: 0},
		{name: "second pool reserve unset", from: "", to: "", get: func(c *Config) any { return c.Pools[1].Reserve }, want: 5},
		{name: "max revocations 0", from: "noise:", to: "reaper: {max_revocations_per_run: 0}\nnoise:",
			get: func(c *Config) any { return c.Reaper.MaxRevocationsPerRun }, want: 0},
		{name: "max revocations unset", from: "", to: "", get: func(c *Config) any { return c.Reaper.MaxRevocationsPerRun }, want: 50},
		{name: "resolution 0 refused", from: "noise:", to: "activity: {resolution: 0s}\nnoise:", wantErr: "activity.resolution: 0s"},
		{name: "queue size 0 refused", from: "noise:", to: "activity: {queue_size: 0}\nnoise:", wantErr: "activity.queue_size: 0"},
		{name: "redis timeout 0 refused", from: "  addr: \"127.0.0.1:6379\"\n", to: "  addr: \"127.0.0.1:6379\"\n  timeout: 0s\n", wantErr: "redis.timeout: 0s"},
		{name: "refresh interval 0 refused", from: "    reserve: 5\n", to: "    reserve: 5\n    refresh_interval: 0s\n", wantErr: "refresh_interval: 0s"},
		{name: "redis db 0", from: "  addr: \"127.0.0.1:6379\"\n", to: "  addr: \"127.0.0.1:6379\"\n  db: 0\n",
			get: func(c *Config) any { return c.Redis.DB }, want: 0},
		{name: "lock ttl 0 refused", from: "noise:", to: "reaper: {lock_ttl: 0s}\nnoise:", wantErr: "reaper.lock_ttl (0s)"},
		{name: "heartbeat interval unset", from: "", to: "", get: func(c *Config) any { return c.Activity.HeartbeatInterval }, want: 15 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := valid
			if tc.from != "" {
				if !strings.Contains(y, tc.from) {
					t.Fatalf("case does not apply: %q not in the base config", tc.from)
				}
				y = strings.Replace(y, tc.from, tc.to, 1)
			}
			cfg, _, errs := Parse([]byte(y), "", secrets)
			if tc.wantErr != "" {
				for _, e := range errs {
					if strings.Contains(e.Error(), tc.wantErr) {
						return
					}
				}
				t.Fatalf("errors %v, want one containing %q", errs, tc.wantErr)
			}
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := tc.get(cfg); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestJSMPoolDefaults: a jira-servicedesk pool without activity gets the
// agent routes; an explicit empty activity switches them off.
func TestJSMPoolDefaults(t *testing.T) {
	cfg, _, errs := Parse([]byte(valid), "", secrets)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	a := cfg.Pools[1].Activity
	if a == nil || len(a.Paths) == 0 || strings.Join(a.ProjectTypes, ",") != "service_desk" {
		t.Fatalf("JSM pool activity: %+v, want the agent routes and service_desk", a)
	}
	if cfg.Pools[0].Activity != nil {
		t.Errorf("the Software pool got activity rules it did not ask for: %+v", cfg.Pools[0].Activity)
	}
	y := strings.Replace(valid, "    application_role: jira-servicedesk\n", "    application_role: jira-servicedesk\n    activity: {}\n", 1)
	cfg, warns, errs := Parse([]byte(y), "", secrets)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if a := cfg.Pools[1].Activity; a == nil || len(a.Paths)+len(a.ProjectTypes) != 0 {
		t.Errorf("explicit empty activity: %+v, want none", a)
	}
	if !strings.Contains(strings.Join(warns, "\n"), "no activity rules") {
		t.Errorf("warnings %v, want one about the pool without activity rules", warns)
	}
	bad := strings.Replace(valid, "    application_role: jira-servicedesk\n", "    application_role: jira-servicedesk\n    activity: {paths: ['(']}\n", 1)
	if _, _, errs := Parse([]byte(bad), "", secrets); len(errs) == 0 {
		t.Error("a bad activity regexp was accepted")
	}
	two := strings.Replace(valid, "    reserve: 5\n", "    reserve: 5\n    main: true\n", 1)
	two = strings.Replace(two, "    application_role: jira-servicedesk\n", "    application_role: jira-servicedesk\n    main: true\n", 1)
	if _, _, errs := Parse([]byte(two), "", secrets); len(errs) == 0 {
		t.Error("two main pools were accepted")
	}
}
