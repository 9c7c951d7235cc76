package appsim_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/floatseat/floatseat/internal/appsim"
)

// A Jira with one licensed and one unlicensed user, and a browser logging in.
func Example() {
	ctx := context.Background()
	sim := appsim.New(appsim.Config{
		Product:             appsim.Jira,
		UpdateGroupsAtLogin: appsim.UpdateEvery,
		Roles:               []appsim.Role{{Key: "jira-software", Groups: []string{"jira-software-users"}, Seats: 5}},
		AdminUsers:          []string{"svc"},
	})
	dir := sim.InternalDirectory()
	dir.AddUser("alice", "pw")
	dir.AddUser("bob", "pw")
	_ = dir.AddMember(ctx, "alice", "jira-software-users")
	_ = sim.SyncNow(ctx)
	srv := httptest.NewServer(sim)
	defer srv.Close()

	for _, user := range []string{"alice", "bob"} {
		res, err := appsim.NewBrowser(srv.URL, user, "pw", appsim.Jira).Login(ctx, false)
		if err != nil {
			panic(err)
		}
		fmt.Println(user, res.Status, res.LoginReason(), res.User, sim.FailedLoginCount(user))
	}
	fmt.Println("jira-software users:", sim.UserCount("jira-software"))
	// Output:
	// alice 302 OK alice 0
	// bob 200 AUTHORISATION_FAILED anonymous 1
	// jira-software users: 1
}
