package app

import (
	"log/slog"
	"testing"

	"github.com/floatseat/floatseat/internal/appsim"
)

// TestReplayMembership: replay --directory sees each pool's nested members
// and the reaper's exclusion set (exclude.groups, exclude.users, app.user).
func TestReplayMembership(t *testing.T) {
	ctx := t.Context()
	dir := appsim.NewInternalDirectory()
	for _, g := range []string{"jira-software-users", "jsw-team", "jira-servicedesk-users", "jira-administrators"} {
		dir.AddGroup(g)
	}
	dir.AddSubgroup("jira-software-users", "jsw-team")
	for u, groups := range map[string][]string{
		"alice": {"jsw-team"}, "bob": {"jira-servicedesk-users", "jira-software-users"},
		"root": {"jira-administrators", "jira-software-users"}, "svc": {"jira-software-users"},
		"carol": {"jira-software-users"}, "nobody": nil,
	} {
		dir.AddUser(u, "pw")
		for _, g := range groups {
			if err := dir.AddMember(ctx, u, g); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := parseTestConfig(t, `
product: jira
listen: 127.0.0.1:0
upstream: http://127.0.0.1:1
app: {user: SVC}
pools:
  - {name: jira-software, license_groups: [jira-software-users], seats: 10}
  - {name: jsm, license_groups: [jira-servicedesk-users], seats: 2, reserve: 0}
exclude: {groups: [jira-administrators], users: [Carol]}
directory: {type: jira}
`)
	member, excluded, err := ReplayMembership(ctx, cfg, slog.New(slog.DiscardHandler), WithDirectory(dir, true))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pool int
		user string
		want bool
	}{
		{0, "alice", true}, {0, "bob", true}, {1, "bob", true}, {1, "alice", false}, {0, "nobody", false},
	} {
		if got := member(c.pool, c.user); got != c.want {
			t.Errorf("member(%d, %q) = %v, want %v", c.pool, c.user, got, c.want)
		}
	}
	for u, want := range map[string]bool{"root": true, "carol": true, "svc": true, "alice": false, "bob": false} {
		if got := excluded(u); got != want {
			t.Errorf("excluded(%q) = %v, want %v", u, got, want)
		}
	}
}
