package crowdfake_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/floatseat/floatseat/internal/directory/crowd/crowdfake"
)

// A fake Crowd seeded from Go, asked over HTTP as a Crowd application would.
func Example() {
	f := crowdfake.New(crowdfake.Options{}) // loopback only, default app credentials
	srv := httptest.NewServer(f)
	defer srv.Close()
	defer f.Close() // releases requests held by FailHang before srv.Close waits for them

	f.AddUser("alice", "alice-pw", true)
	f.AddGroup("jira-software-users")
	f.AddGroup("all-staff")
	if err := f.AddChildGroup("all-staff", "jira-software-users"); err != nil {
		panic(err)
	}

	req, _ := http.NewRequest(http.MethodPost,
		srv.URL+"/rest/usermanagement/1/group/user/direct?groupname=Jira-Software-Users",
		strings.NewReader(`{"name":"ALICE"}`))
	app, pw := f.AppCredentials()
	req.SetBasicAuth(app, pw)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	fmt.Println(resp.StatusCode)
	fmt.Println(f.Members("jira-software-users", false))
	fmt.Println(f.Groups("alice", true))
	fmt.Println(f.Count(crowdfake.OpAddMember))
	// Output:
	// 201
	// [alice]
	// [all-staff jira-software-users]
	// 1
}
