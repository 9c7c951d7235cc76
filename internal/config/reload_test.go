package config

import (
	"strings"
	"testing"
)

func TestChanges(t *testing.T) {
	for _, tc := range []struct {
		from, to string // replaced in valid
		reload   string // keys a reload applies, comma-joined
		restart  string // keys that need a restart
	}{
		{"", "", "", ""},
		{"    reserve: 5\n", "    reserve: 0\n", "pools[0].reserve", ""},
		{"session_timeout: 5h", "session_timeout: 4h", "session_timeout", ""},
		{"max_idle: 168h", "max_idle: 72h", "max_idle", ""},
		{"path: '^/rest/acme/1/poll'", "path: '^/rest/acme/2/poll'", "noise.rules[0].path", ""},
		{"noise:\n", "exclude: {users: [bot]}\nnoise:\n", "exclude.users", ""},
		{"noise:\n", "noise:\n  disable: [jira-mywork-count]\n", "noise.disable", ""},
		{"noise:\n", "proxy: {claims: {user_burst: 9}}\nnoise:\n", "proxy.claims.user_burst", ""},
		{"listen: \"127.0.0.1:8090\"", "listen: \"127.0.0.1:8091\"", "", "listen"},
		{"  addr: \"127.0.0.1:6379\"", "  addr: \"127.0.0.1:6380\"", "", "redis.addr"},
		{"    application_role: jira-software\n", "    application_role: jira-core\n", "", "pools[0].application_role"},
		{"    reserve: 5\n", "    reserve: 1\n    main: true\n", "pools[0].reserve", "pools[0].main"},
		{"directory:\n  type: ldap\n", "directory:\n  type: ldap\n  timeout: 3s\n", "", "directory.timeout,directory.ldap.timeout"},
	} {
		old, _, errs := Parse([]byte(valid), "", secrets)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if tc.from != "" && !strings.Contains(valid, tc.from) {
			t.Fatalf("case does not apply: %q", tc.from)
		}
		cur, _, errs := Parse([]byte(strings.Replace(valid, tc.from, tc.to, 1)), "", secrets)
		if len(errs) > 0 {
			t.Fatalf("%q → %q: %v", tc.from, tc.to, errs)
		}
		reload, restart := Changes(old, cur)
		if got := strings.Join(reload, ","); got != tc.reload {
			t.Errorf("%q → %q: reloadable %q, want %q", tc.from, tc.to, got, tc.reload)
		}
		if got := strings.Join(restart, ","); got != tc.restart {
			t.Errorf("%q → %q: restart %q, want %q", tc.from, tc.to, got, tc.restart)
		}
	}
}

// Reloaded puts the file's reloadable keys in force over the running
// configuration, as a new copy, and refuses a file that changes anything
// else.
func TestReloaded(t *testing.T) {
	running, _, errs := Parse([]byte(valid), "", secrets)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	file, _, errs := Parse([]byte(strings.Replace(strings.Replace(valid, "session_timeout: 5h", "session_timeout: 4h", 1),
		"    reserve: 5\n", "    reserve: 2\n", 1)), "", secrets)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	next, changed, err := Reloaded(running, file)
	if err != nil {
		t.Fatal(err)
	}
	if next == running || next.SessionTimeout != file.SessionTimeout || next.Pools[0].Reserve != 2 {
		t.Errorf("next: a new copy with the file's window and reserve, got session_timeout %v reserve %d", next.SessionTimeout, next.Pools[0].Reserve)
	}
	if running.SessionTimeout == file.SessionTimeout || running.Pools[0].Reserve == 2 {
		t.Error("the running configuration was edited in place")
	}
	if got := strings.Join(changed, ","); got != "session_timeout,pools[0].reserve" && got != "pools[0].reserve,session_timeout" {
		t.Errorf("changed %q", got)
	}
	bad, _, _ := Parse([]byte(strings.Replace(valid, "listen: \"127.0.0.1:8090\"", "listen: \"127.0.0.1:8091\"", 1)), "", secrets)
	if n, _, err := Reloaded(running, bad); err == nil || n != nil || !strings.Contains(err.Error(), "listen need a restart") {
		t.Errorf("a changed listen: %v, %v; want refused, naming the key", n, err)
	}
}
