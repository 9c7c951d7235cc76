package crowdfake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seeded returns a server with a small directory: alice in jira-users,
// carol in child-group, child-group inside parent-group.
func seeded(t *testing.T, opts Options) (*Fake, *httptest.Server) {
	t.Helper()
	f, srv := NewServer(t, opts)
	f.AddUser("Alice", "pw-a", true)
	f.AddUser("bob", "pw-b", true)
	f.AddUser("carol", "pw-c", true)
	f.AddUser("ivan", "pw-i", false)
	f.AddUser("exp", "pw-e", true)
	f.SetPasswordExpired("exp", true)
	for _, g := range []string{"jira-users", "child-group", "parent-group"} {
		f.AddGroup(g)
	}
	mustNil(t, f.AddMember("alice", "Jira-Users"))
	mustNil(t, f.AddMember("carol", "child-group"))
	mustNil(t, f.AddChildGroup("parent-group", "child-group"))
	f.ResetCounts()
	return f, srv
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type reply struct {
	status int
	reason string
	body   string
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, mod ...func(*http.Request)) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, rd)
	mustNil(t, err)
	req.SetBasicAuth(DefaultAppName, DefaultAppPassword)
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, m := range mod {
		m(req)
	}
	resp, err := srv.Client().Do(req)
	mustNil(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e errorEntity
	_ = json.Unmarshal(b, &e)
	return reply{resp.StatusCode, e.Reason, string(b)}
}

const base = "/rest/usermanagement/1"

func TestStatusAndReasons(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantReason               string
	}{
		{"authenticate ok", "POST", "/authentication?username=ALICE", `{"value":"pw-a"}`, 200, ""},
		{"authenticate wrong password", "POST", "/authentication?username=alice", `{"value":"nope"}`, 400, ReasonInvalidUserAuthentication},
		{"authenticate unknown", "POST", "/authentication?username=zed", `{"value":"x"}`, 400, ReasonUserNotFound},
		{"authenticate inactive", "POST", "/authentication?username=ivan", `{"value":"pw-i"}`, 400, ReasonInactiveAccount},
		{"authenticate expired", "POST", "/authentication?username=exp", `{"value":"pw-e"}`, 400, ReasonExpiredCredential},
		{"user", "GET", "/user?username=alice", "", 200, ""},
		{"user unknown", "GET", "/user?username=zed", "", 404, ReasonUserNotFound},
		{"user groups unknown user", "GET", "/user/group/direct?username=zed", "", 404, ReasonUserNotFound},
		{"members unknown group", "GET", "/group/user/direct?groupname=nope", "", 404, ReasonGroupNotFound},
		{"is member yes", "GET", "/group/user/direct?groupname=jira-users&username=ALICE", "", 200, ""},
		{"is member no", "GET", "/group/user/direct?groupname=jira-users&username=bob", "", 404, ReasonMembershipNotFound},
		{"is member unknown user", "GET", "/group/user/direct?groupname=jira-users&username=zed", "", 404, ReasonMembershipNotFound},
		{"is member unknown group", "GET", "/group/user/nested?groupname=nope&username=bob", "", 404, ReasonMembershipNotFound},
		{"group", "GET", "/group?groupname=JIRA-users", "", 200, ""},
		{"group unknown", "GET", "/group?groupname=nope", "", 404, ReasonGroupNotFound},
		{"is member nested yes", "GET", "/group/user/nested?groupname=parent-group&username=carol", "", 200, ""},
		{"is member direct through subgroup", "GET", "/group/user/direct?groupname=parent-group&username=carol", "", 404, ReasonMembershipNotFound},
		{"add", "POST", "/group/user/direct?groupname=jira-users", `{"name":"bob"}`, 201, ""},
		{"add already member", "POST", "/group/user/direct?groupname=jira-users", `{"name":"Alice"}`, 409, ReasonMembershipAlreadyExists},
		{"add unknown user", "POST", "/group/user/direct?groupname=jira-users", `{"name":"zed"}`, 400, ReasonUserNotFound},
		{"add unknown group", "POST", "/group/user/direct?groupname=nope", `{"name":"bob"}`, 404, ReasonGroupNotFound},
		{"remove", "DELETE", "/group/user/direct?groupname=jira-users&username=alice", "", 204, ""},
		{"remove not member", "DELETE", "/group/user/direct?groupname=jira-users&username=bob", "", 404, ReasonMembershipNotFound},
		{"remove unknown group", "DELETE", "/group/user/direct?groupname=nope&username=bob", "", 404, ReasonGroupNotFound},
		{"remove unknown user", "DELETE", "/group/user/direct?groupname=jira-users&username=zed", "", 404, ReasonUserNotFound},
		{"child groups", "GET", "/group/child-group/direct?groupname=parent-group", "", 200, ""},
		{"add child group", "POST", "/group/child-group/direct?groupname=jira-users", `{"name":"child-group"}`, 201, ""},
		{"add child group twice", "POST", "/group/child-group/direct?groupname=parent-group", `{"name":"child-group"}`, 409, ReasonMembershipAlreadyExists},
		{"unknown resource", "GET", "/nope", "", 404, ReasonIllegalArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := seeded(t, Options{})
			for _, prefix := range []string{base, "/crowd/rest/usermanagement/latest"} {
				got := do(t, srv, tc.method, prefix+tc.path, tc.body)
				if tc.method != "GET" && tc.wantStatus < 300 {
					break // a write succeeds once; repeating it tests something else
				}
				if got.status != tc.wantStatus || got.reason != tc.wantReason {
					t.Errorf("%s %s: got %d %q, want %d %q (body %s)", tc.method, prefix+tc.path, got.status, got.reason, tc.wantStatus, tc.wantReason, got.body)
				}
			}
		})
	}
}

func TestWritesChangeState(t *testing.T) {
	f, srv := seeded(t, Options{})
	do(t, srv, "POST", base+"/group/user/direct?groupname=jira-users", `{"name":"BOB"}`)
	if got, want := f.Members("jira-users", false), []string{"Alice", "bob"}; !slices.Equal(got, want) {
		t.Errorf("members after add: got %v, want %v", got, want)
	}
	do(t, srv, "DELETE", base+"/group/user/direct?groupname=JIRA-USERS&username=alice", "")
	if got, want := f.Members("jira-users", false), []string{"bob"}; !slices.Equal(got, want) {
		t.Errorf("members after remove: got %v, want %v", got, want)
	}
	if got, want := f.Groups("carol", true), []string{"child-group", "parent-group"}; !slices.Equal(got, want) {
		t.Errorf("carol nested groups: got %v, want %v", got, want)
	}
	if got, want := f.Count(OpAddMember), 1; got != want {
		t.Errorf("add count: got %d, want %d", got, want)
	}
}

func TestPaging(t *testing.T) {
	f, srv := NewServer(t, Options{})
	f.AddGroup("big")
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5"} {
		f.AddUser(n, "pw", true)
		mustNil(t, f.AddMember(n, "big"))
	}
	var got []string
	for start := 0; ; start += 2 {
		r := do(t, srv, "GET", base+"/group/user/direct?groupname=big&max-results=2&start-index="+strconv.Itoa(start), "")
		var body struct {
			Users []struct{ Name string } `json:"users"`
		}
		mustNil(t, json.Unmarshal([]byte(r.body), &body))
		for _, u := range body.Users {
			got = append(got, u.Name)
		}
		if len(body.Users) < 2 {
			break
		}
	}
	if want := []string{"u1", "u2", "u3", "u4", "u5"}; !slices.Equal(got, want) {
		t.Errorf("paged members: got %v, want %v", got, want)
	}
}

func TestAccessControl(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		mod        func(*http.Request)
		wantStatus int
	}{
		{"good", Options{}, func(*http.Request) {}, 200},
		{"wrong password", Options{}, func(r *http.Request) { r.SetBasicAuth(DefaultAppName, "wrong") }, 401},
		{"no credentials", Options{}, func(r *http.Request) { r.Header.Del("Authorization") }, 401},
		{"address not allowed", Options{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, func(*http.Request) {}, 403},
		{"custom credentials", Options{AppName: "app", AppPassword: "pw"}, func(r *http.Request) { r.SetBasicAuth("app", "pw") }, 200},
		{"no accept header", Options{}, func(r *http.Request) { r.Header.Del("Accept") }, 406},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := NewServer(t, tc.opts)
			f.AddUser("alice", "pw", true)
			got := do(t, srv, "GET", base+"/user?username=alice", "", tc.mod)
			if got.status != tc.wantStatus {
				t.Errorf("got %d, want %d (body %s)", got.status, tc.wantStatus, got.body)
			}
		})
	}
}

func TestReadOnly(t *testing.T) {
	f, srv := seeded(t, Options{ReadOnly: true})
	got := do(t, srv, "POST", base+"/group/user/direct?groupname=jira-users", `{"name":"bob"}`)
	if got.status != 403 || got.reason != ReasonApplicationPermissionDenied {
		t.Errorf("add when read-only: got %d %q, want 403 %q", got.status, got.reason, ReasonApplicationPermissionDenied)
	}
	f.SetReadOnly(false)
	if got := do(t, srv, "POST", base+"/group/user/direct?groupname=jira-users", `{"name":"bob"}`); got.status != 201 {
		t.Errorf("add after read-only off: got %d, want 201", got.status)
	}
}

func TestFailureInjection(t *testing.T) {
	f, srv := seeded(t, Options{})
	f.FailNext(2, Fail503)
	for i, want := range []int{503, 503, 200} {
		if got := do(t, srv, "GET", base+"/user?username=alice", ""); got.status != want {
			t.Errorf("request %d: got %d, want %d", i, got.status, want)
		}
	}

	f.FailNext(1, FailHang)
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+base+"/user?username=alice", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// The hung request is counted before it hangs; wait for that, then give up.
	deadline := time.Now().Add(10 * time.Second)
	for f.Count(OpUser) < 4 {
		select {
		case err := <-done:
			t.Fatalf("hung request returned early: %v", err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("hung request never reached the fake")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("hung request: got %v, want context.Canceled", err)
	}
	if got := do(t, srv, "GET", base+"/user?username=alice", ""); got.status != 200 {
		t.Errorf("after hang: got %d, want 200", got.status)
	}
}

func TestCaseIsKept(t *testing.T) {
	f := New(Options{})
	f.AddUser("Erin", "pw", true)
	f.AddUser("ERIN", "pw2", false) // same user: password and flag change, case stays
	f.AddGroup("Confluence-Users")
	f.AddGroup("confluence-users") // same group: no-op
	mustNil(t, f.AddMember("erin", "CONFLUENCE-USERS"))
	if got, want := f.Members("confluence-users", false), []string{"Erin"}; !slices.Equal(got, want) {
		t.Errorf("members: got %v, want %v", got, want)
	}
	if got, want := f.Groups("erin", false), []string{"Confluence-Users"}; !slices.Equal(got, want) {
		t.Errorf("groups: got %v, want %v", got, want)
	}
	if err := f.AddMember("nobody", "confluence-users"); err == nil {
		t.Error("AddMember of an unknown user: got nil, want an error")
	}
	if err := f.AddChildGroup("confluence-users", "nope"); err == nil {
		t.Error("AddChildGroup of an unknown group: got nil, want an error")
	}
}
