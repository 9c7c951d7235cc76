package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// valid is the one good configuration every table case starts from.
const valid = `
product: jira
listen: "127.0.0.1:8090"
upstream: "http://127.0.0.1:8080"
trusted_proxies: ["127.0.0.1/32", "10.0.0.0/8"]
mode: enforce
session_timeout: 5h
max_idle: 168h
admin:
  listen: "127.0.0.1:9090"
redis:
  addr: "127.0.0.1:6379"
app:
  user: floatseat
pools:
  - name: jira-software
    license_groups: [jira-software-users]
    application_role: jira-software
    reserve: 5
  - name: jsm
    license_groups: [jira-servicedesk-users]
    application_role: jira-servicedesk
directory:
  type: ldap
  ldap:
    url: ldap://127.0.0.1:389
    bind_dn: cn=floatseat,dc=example,dc=org
    user_base_dn: ou=people,dc=example,dc=org
    group_base_dn: ou=groups,dc=example,dc=org
noise:
  rules:
    - { name: my-poller, method: GET, path: '^/rest/acme/1/poll' }
`

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var secrets = env(map[string]string{
	"FLOATSEAT_APP_PASSWORD":       "app-secret",
	"FLOATSEAT_LDAP_BIND_PASSWORD": "ldap-secret",
})

func TestValidConfig(t *testing.T) {
	cfg, warns, errs := Parse([]byte(valid), "", secrets)
	if len(errs) > 0 {
		t.Fatalf("Parse(valid): got errors %v, want none", errs)
	}
	if cfg.SessionTimeout != 5*time.Hour || cfg.Activity.Resolution != 30*time.Second {
		t.Errorf("got session_timeout %v resolution %v, want 5h and 30s default", cfg.SessionTimeout, cfg.Activity.Resolution)
	}
	if cfg.Redis.KeyPrefix != "floatseat:jira" {
		t.Errorf("got key_prefix %q, want floatseat:jira", cfg.Redis.KeyPrefix)
	}
	if got := cfg.Pools[1].DefaultGroups; len(got) != 1 || got[0] != "jira-servicedesk-users" {
		t.Errorf("got default_groups %v, want the first licence group", got)
	}
	if cfg.App.Password.Reveal() != "app-secret" {
		t.Errorf("app password not read from FLOATSEAT_APP_PASSWORD")
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "admin.token_file") {
		t.Errorf("got warnings %q, want only the missing admin token", warns)
	}
}

func TestValidationTable(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string // substrings; every one must appear in some error
	}{
		{"unknown key", add("colour: blue"), []string{"colour"}},
		{"unknown nested key", repl("  addr: \"127.0.0.1:6379\"", "  addr: \"127.0.0.1:6379\"\n  adress: x"), []string{"adress"}},
		{"bad product", repl("product: jira", "product: bitbucket"), []string{"product"}},
		{"floor above ceiling", repl("max_idle: 168h", "max_idle: 1h"), []string{"longer than max_idle"}},
		{"bad duration names the line", repl("max_idle: 168h", "max_idle: a week"), []string{"line 8", "a week"}},
		{"bad mode", repl("mode: enforce", "mode: yolo"), []string{"mode"}},
		{"bad cidr", repl("10.0.0.0/8", "10.0.0.0/88"), []string{"trusted_proxies[1]"}},
		{"bad upstream", repl("http://127.0.0.1:8080", "127.0.0.1:8080"), []string{"upstream"}},
		{"bad noise regexp names rule", repl("'^/rest/acme/1/poll'", "'^/rest/(acme'"), []string{"noise rule my-poller"}},
		{"bad noise method", repl("method: GET", "method: FETCH"), []string{"my-poller", "method"}},
		{"seats and role", repl("    reserve: 5", "    reserve: 5\n    seats: 10"), []string{"not both"}},
		{"duplicate pool", repl("name: jsm", "name: jira-software"), []string{"duplicate pool"}},
		{"default group outside licence groups", repl("    reserve: 5", "    reserve: 5\n    default_groups: [other]"), []string{"default group \"other\""}},
		{"bad directory type", repl("type: ldap", "type: ad"), []string{"directory.type"}},
		{"ldap url", repl("ldap://127.0.0.1:389", "http://x"), []string{"directory.ldap.url"}},
		{"memberUid needs uid", repl("    group_base_dn: ou=groups,dc=example,dc=org", "    group_base_dn: ou=groups,dc=example,dc=org\n    member_attribute: memberUid\n    member_value: dn"), []string{"member_value must be uid"}},
		{"resolution too long", add("activity:\n  resolution: 3h"), []string{"activity.resolution"}},
		{"missing secret file", repl("  user: floatseat", "  user: floatseat\n  password_file: /nonexistent/pw"), []string{"app.password_file"}},
		{"every problem at once", func(s string) string {
			return repl("mode: enforce", "mode: yolo")(repl("product: jira", "product: x")(s))
		}, []string{"mode", "product"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := secrets
			if tc.name == "missing secret file" {
				getenv = env(map[string]string{"FLOATSEAT_LDAP_BIND_PASSWORD": "x"})
			}
			_, _, errs := Parse([]byte(tc.edit(valid)), "", getenv)
			if len(errs) == 0 {
				t.Fatalf("got no errors, want ones mentioning %q", tc.want)
			}
			all := ""
			for _, e := range errs {
				all += e.Error() + "\n"
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("got errors:\n%s want one mentioning %q", all, w)
				}
			}
		})
	}
}

func TestConfluenceDefaults(t *testing.T) {
	cfg, _, errs := Parse([]byte("product: confluence\nredis: {addr: \"127.0.0.1:1\"}\nmode: observe\napp: {user: u}\n"), "", env(map[string]string{"FLOATSEAT_APP_PASSWORD": "p"}))
	if len(errs) > 0 {
		t.Fatalf("got errors %v", errs)
	}
	if cfg.SessionTimeout != time.Hour {
		t.Errorf("got session_timeout %v, want Confluence's 60 min", cfg.SessionTimeout)
	}
	if len(cfg.Pools) != 1 || cfg.Pools[0].LicenseGroups[0] != "confluence-users" {
		t.Errorf("got pools %+v, want the confluence-users pool", cfg.Pools)
	}
}

func TestEmbeddedStoreForcesObserve(t *testing.T) {
	cfg, warns, errs := Parse([]byte("upstream: http://127.0.0.1:9\n"), "", env(nil))
	if len(errs) > 0 {
		t.Fatalf("got errors %v", errs)
	}
	if cfg.Mode != ModeObserve {
		t.Errorf("got mode %q, want observe with the embedded store", cfg.Mode)
	}
	if !strings.Contains(strings.Join(warns, "\n"), "observe mode") {
		t.Errorf("got warnings %q, want one explaining observe mode", warns)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "app.pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "floatseat.yaml")
	text := repl("  user: floatseat", "  user: floatseat\n  password_file: app.pw")(valid)
	cfg, warns, errs := Parse([]byte(text), cfgPath, env(map[string]string{"FLOATSEAT_LDAP_BIND_PASSWORD": "x"}))
	if len(errs) > 0 {
		t.Fatalf("got errors %v", errs)
	}
	if cfg.App.Password.Reveal() != "s3cret" {
		t.Errorf("got password %q, want it read relative to the config file without the newline", cfg.App.Password.Reveal())
	}
	if !strings.Contains(strings.Join(warns, "\n"), "readable by every user") {
		t.Errorf("got warnings %q, want a world-readable warning", warns)
	}
	if s := cfg.App.Password.String(); s != "REDACTED" {
		t.Errorf("Secret.String() = %q, want REDACTED", s)
	}
}

func add(line string) func(string) string { return func(s string) string { return s + line + "\n" } }

func repl(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("test edit does not apply: " + old)
		}
		return strings.Replace(s, old, new, 1)
	}
}
