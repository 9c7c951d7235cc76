package app

import (
	"testing"

	"github.com/floatseat/floatseat/internal/appsim"
)

// TestServiceAccountListedAsExcluded: the admin read model and the reaper
// share one exclusion set, so app.user (never revoked by the reaper) is
// listed as excluded, not as a licensed user who could be revoked.
func TestServiceAccountListedAsExcluded(t *testing.T) {
	dir := appsim.NewInternalDirectory()
	ctx := t.Context()
	dir.AddGroup("jira-software-users")
	for _, u := range []string{"svc", "alice"} {
		dir.AddUser(u, "pw")
		_ = dir.AddMember(ctx, u, "jira-software-users")
	}
	a := runApp(t, `
product: jira
listen: 127.0.0.1:0
upstream: http://127.0.0.1:1
admin: {listen: 127.0.0.1:0}
app: {user: SVC}
pools:
  - {name: jira-software, license_groups: [jira-software-users], seats: 10}
exclude: {groups: []}
directory: {type: jira}
log: {level: error}
`, WithDirectory(dir, true))
	users, err := a.model.Users(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, u := range users {
		got[u.User] = u.State
	}
	if got["svc"] != "excluded" || got["alice"] != "licensed" {
		t.Errorf("users: got %v, want svc excluded (the service account) and alice licensed", got)
	}
	if ex := a.seats.members.Excluded(); !ex["svc"] || len(ex) != 1 {
		t.Errorf("exclusion set: got %v, want exactly the service account", ex)
	}
}
