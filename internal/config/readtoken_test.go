package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsLoopbackListen(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:9090", true},
		{"127.0.0.2:9090", true},
		{"[::1]:9090", true},
		{"localhost:9090", true},
		{"LOCALHOST:9090", true},
		{":9090", false},
		{"0.0.0.0:9090", false},
		{"[::]:9090", false},
		{"10.0.0.5:9090", false},
		{"admin.example.org:9090", false},
		{"not an address", false},
	} {
		if got := IsLoopbackListen(tc.addr); got != tc.want {
			t.Errorf("IsLoopbackListen(%q) = %v, want %v", tc.addr, got, tc.want)
		}
		if got := (Admin{Listen: tc.addr}).BeyondLoopback(); got == tc.want {
			t.Errorf("Admin{Listen: %q}.BeyondLoopback() = %v, want %v", tc.addr, got, !tc.want)
		}
	}
}

func TestCheckWarnsAboutAnOpenAdminPortWithoutAReadToken(t *testing.T) {
	beyond := repl(`  listen: "127.0.0.1:9090"`, `  listen: "0.0.0.0:9090"`)
	const warning = "beyond loopback"
	for _, tc := range []struct {
		name string
		text string
		env  map[string]string
		want bool
	}{
		{"loopback, no tokens", valid, nil, false},
		{"beyond loopback, no tokens", beyond(valid), nil, true},
		{"beyond loopback, read token", beyond(valid), map[string]string{"FLOATSEAT_ADMIN_READ_TOKEN": "r"}, false},
		{"beyond loopback, admin token", beyond(valid), map[string]string{"FLOATSEAT_ADMIN_TOKEN": "a"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{"FLOATSEAT_APP_PASSWORD": "p", "FLOATSEAT_LDAP_BIND_PASSWORD": "l"}
			for k, v := range tc.env {
				e[k] = v
			}
			_, warns, errs := Parse([]byte(tc.text), "", env(e))
			if len(errs) > 0 {
				t.Fatalf("got errors %v, want none (a warning only)", errs)
			}
			if got := strings.Contains(strings.Join(warns, "\n"), warning); got != tc.want {
				t.Errorf("got warnings %q, want the read-token warning: %v", warns, tc.want)
			}
		})
	}
}

func TestReadTokenIsReadFromItsFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "read.tok"), []byte("r3ad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := repl(`  listen: "127.0.0.1:9090"`, "  listen: \"127.0.0.1:9090\"\n  read_token_file: read.tok")(valid)
	cfg, _, errs := Parse([]byte(text), filepath.Join(dir, "floatseat.yaml"), secrets)
	if len(errs) > 0 {
		t.Fatalf("got errors %v", errs)
	}
	if cfg.Admin.ReadToken.Reveal() != "r3ad" {
		t.Errorf("got read token %q, want r3ad read relative to the config file", cfg.Admin.ReadToken.Reveal())
	}
	if s := cfg.Admin.ReadToken.String(); s != "REDACTED" {
		t.Errorf("ReadToken.String() = %q, want REDACTED", s)
	}
}
