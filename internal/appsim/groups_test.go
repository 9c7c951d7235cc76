package appsim

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/floatseat/floatseat/internal/directory"
)

func TestJiraGroupAddRemove(t *testing.T) {
	e := newEnv(t, Jira, nil)
	adm := e.admin()
	tests := []struct {
		name       string
		method     string
		path, body string
		want       int
	}{
		{"add", "POST", "/rest/api/2/group/user?groupname=jira-software-users", `{"name":"bob"}`, 201},
		{"add again", "POST", "/rest/api/2/group/user?groupname=jira-software-users", `{"name":"bob"}`, 400},
		{"add unknown user", "POST", "/rest/api/2/group/user?groupname=jira-software-users", `{"name":"zed"}`, 400},
		{"add unknown group", "POST", "/rest/api/2/group/user?groupname=nope", `{"name":"bob"}`, 404},
		{"remove", "DELETE", "/rest/api/2/group/user?groupname=jira-software-users&username=bob", "", 200},
		{"remove again", "DELETE", "/rest/api/2/group/user?groupname=jira-software-users&username=bob", "", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := mustDo(t, adm, tc.method, tc.path, tc.body)
			if res.Status != tc.want {
				t.Errorf("got %d, want %d (%s)", res.Status, tc.want, res.Body)
			}
		})
	}
	t.Run("non-admin refused", func(t *testing.T) {
		b := e.browser("alice", pw)
		b.Basic = true
		expectStatus(t, "alice", mustDo(t, b, "POST", "/rest/api/2/group/user?groupname=jira-software-users", `{"name":"bob"}`), 403)
	})
}

func TestJiraGroupChangeTakesEffectAtOnce(t *testing.T) {
	// With "never", only the app's own API (or a sync) changes the cache.
	e := newEnv(t, Jira, func(c *Config) { c.UpdateGroupsAtLogin = UpdateNever })
	expectStatus(t, "grant", mustDo(t, e.admin(), "POST", "/rest/api/2/group/user?groupname=jira-software-users", `{"name":"bob"}`), 201)
	res := must(t)(e.browser("bob", pw).Login(t.Context(), false))
	if res.LoginReason() != ReasonOK {
		t.Errorf("got %q, want OK at once", res.LoginReason())
	}
	if ok, _ := e.dir.IsMember(t.Context(), "bob", "jira-software-users", false); !ok {
		t.Errorf("got bob not in the directory, want the change written through")
	}
}

func TestJiraGroupMembersPaging(t *testing.T) {
	e := newEnv(t, Jira, func(c *Config) { c.Groups = []string{"big", "big-sub"} })
	e.dir.AddSubgroup("big", "big-sub")
	var want []string
	for i := range 110 {
		u := fmt.Sprintf("u%03d", i)
		e.dir.AddUser(u, pw)
		g := "big"
		if i >= 100 {
			g = "big-sub" // subgroup members are included (REFERENCE §3)
		}
		e.dir.AddMember(t.Context(), u, g)
		want = append(want, u)
	}
	e.sim.SyncNow(t.Context())

	var got []string
	path := "/rest/api/2/group/member?groupname=big&includeInactiveUsers=false&startAt=0&maxResults=100"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		res := mustDo(t, e.admin(), "GET", path, "")
		expectStatus(t, "members", res, 200)
		var page struct {
			StartAt, MaxResults, Total int
			IsLast                     bool
			NextPage                   string
			Values                     []struct{ Name string }
		}
		decode(t, res, &page)
		if page.MaxResults != 50 || page.Total != 110 || len(page.Values) > 50 {
			t.Fatalf("got maxResults %d total %d values %d, want 50, 110, ≤50", page.MaxResults, page.Total, len(page.Values))
		}
		for _, v := range page.Values {
			got = append(got, v.Name)
		}
		path = ""
		if !page.IsLast {
			u, err := url.Parse(page.NextPage)
			if err != nil {
				t.Fatal(err)
			}
			path = u.RequestURI()
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %d members %v…, want %d", len(got), got[:min(3, len(got))], len(want))
	}
	expectStatus(t, "unknown group", mustDo(t, e.admin(), "GET", "/rest/api/2/group/member?groupname=nope", ""), 404)
}

func TestJiraUserExpand(t *testing.T) {
	e := newEnv(t, Jira, jiraRoles)
	res := mustDo(t, e.admin(), "GET", "/rest/api/2/user?username=ALICE&expand=groups,applicationRoles", "")
	expectStatus(t, "user", res, 200)
	var u struct {
		Name   string
		Active bool
		Groups struct {
			Size  int
			Items []struct{ Name string }
		}
		ApplicationRoles struct {
			Size  int
			Items []struct{ Key string }
		} `json:"applicationRoles"`
	}
	decode(t, res, &u)
	if u.Name != "alice" || !u.Active || u.Groups.Size != 1 || u.ApplicationRoles.Size != 1 || u.ApplicationRoles.Items[0].Key != "jira-software" {
		t.Errorf("got %+v, want alice active in jira-software-users with role jira-software", u)
	}
	res = mustDo(t, e.admin(), "GET", "/rest/api/2/user?username=bob&expand=applicationRoles", "")
	decode(t, res, &u)
	if u.ApplicationRoles.Size != 0 {
		t.Errorf("got bob roles %+v, want none", u.ApplicationRoles)
	}
	expectStatus(t, "unknown", mustDo(t, e.admin(), "GET", "/rest/api/2/user?username=zed", ""), 404)
}

func TestConfluenceGroupAPIs(t *testing.T) {
	e := newEnv(t, Confluence, nil)
	adm := e.admin()
	tests := []struct {
		method, path string
		want         int
	}{
		{"PUT", "/rest/api/user/bob/group/confluence-users", 204},
		{"PUT", "/rest/api/user/bob/group/confluence-users", 204}, // idempotent
		{"PUT", "/rest/api/user/zed/group/confluence-users", 404},
		{"DELETE", "/rest/api/user/bob/group/confluence-users", 204},
		{"DELETE", "/rest/api/user/bob/group/confluence-users", 204},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if got := mustDo(t, adm, tc.method, tc.path, "").Status; got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}

	for i := range 5 {
		u := fmt.Sprintf("c%d", i)
		e.dir.AddUser(u, pw)
		mustDo(t, adm, "PUT", "/rest/api/user/"+u+"/group/confluence-users", "")
	}
	var got []string
	path := "/rest/api/group/confluence-users/member?start=0&limit=2"
	for path != "" {
		res := mustDo(t, adm, "GET", path, "")
		var page struct {
			Results []struct{ Type, Username string }
			Size    int
			Links   map[string]string `json:"_links"`
		}
		decode(t, res, &page)
		for _, r := range page.Results {
			if r.Type != "known" {
				t.Errorf("got type %q, want known", r.Type)
			}
			got = append(got, r.Username)
		}
		path = page.Links["next"]
	}
	if want := []string{"alice", "c0", "c1", "c2", "c3", "c4"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	res := mustDo(t, adm, "GET", "/rest/api/user/memberof?username=alice", "")
	if !strings.Contains(res.Body, `"name":"confluence-users"`) {
		t.Errorf("got memberof %s, want confluence-users", res.Body)
	}
}

func TestInternalDirectory(t *testing.T) {
	ctx := t.Context()
	d := NewInternalDirectory()
	d.AddUser("Alice", "pw")
	d.AddSubgroup("parent", "child")
	if err := d.AddMember(ctx, "alice", "CHILD"); err != nil {
		t.Fatal(err)
	}
	if err := d.AddMember(ctx, "alice", "child"); err != nil {
		t.Errorf("got %v adding twice, want nil (idempotent)", err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"nested member", must2(d.IsMember(ctx, "ALICE", "parent", true)), true},
		{"not direct member", must2(d.IsMember(ctx, "alice", "parent", false)), false},
		{"direct groups", fmt.Sprint(must2(d.UserGroups(ctx, "alice", false))), "[child]"},
		{"nested groups", fmt.Sprint(must2(d.UserGroups(ctx, "alice", true))), "[child parent]"},
		{"nested members keep case", fmt.Sprint(must2(d.Members(ctx, "parent", true))), "[Alice]"},
		{"password ok", d.VerifyPassword(ctx, "alice", "pw"), nil},
		{"bad password", errors.Is(d.VerifyPassword(ctx, "alice", "x"), directory.ErrBadCredentials), true},
		{"unknown user", errors.Is(d.VerifyPassword(ctx, "zed", "x"), directory.ErrUserNotFound), true},
		{"unknown group", errors.Is(d.AddMember(ctx, "alice", "nope"), directory.ErrGroupNotFound), true},
		{"remove non-member", d.RemoveMember(ctx, "alice", "parent"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
