package appsim

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func jiraRoles(c *Config) {
	c.Roles = []Role{
		{Key: "jira-software", Groups: []string{"jira-software-users", "jira-developers"}, DefaultGroups: []string{"jira-software-users"}, Seats: 2},
		{Key: "jira-servicedesk", Groups: []string{"jira-servicedesk-users"}, Seats: UnlimitedSeats},
	}
}

func TestApplicationRoleSeats(t *testing.T) {
	e := newEnv(t, Jira, jiraRoles)
	// alice in two groups of the same role counts once (REFERENCE §3).
	e.dir.AddMember(t.Context(), "alice", "jira-developers")
	e.sim.SyncNow(t.Context())

	t.Run("admin only", func(t *testing.T) {
		expectStatus(t, "anonymous", mustDo(t, e.browser("", ""), "GET", "/rest/api/2/applicationrole", ""), 401)
		b := e.browser("alice", pw)
		b.Basic = true
		expectStatus(t, "non-admin", mustDo(t, b, "GET", "/rest/api/2/applicationrole", ""), 403)
	})

	res := mustDo(t, e.admin(), "GET", "/rest/api/2/applicationrole/jira-software", "")
	expectStatus(t, "role", res, 200)
	var role struct {
		Key               string
		Name              string
		Groups            []string
		DefaultGroups     []string
		NumberOfSeats     int
		RemainingSeats    int
		UserCount         int
		HasUnlimitedSeats bool
	}
	decode(t, res, &role)
	want := fmt.Sprintf("%+v", struct {
		Key               string
		Name              string
		Groups            []string
		DefaultGroups     []string
		NumberOfSeats     int
		RemainingSeats    int
		UserCount         int
		HasUnlimitedSeats bool
	}{"jira-software", "Jira Software", []string{"jira-software-users", "jira-developers"}, []string{"jira-software-users"}, 2, 1, 1, false})
	if got := fmt.Sprintf("%+v", role); got != want {
		t.Errorf("got %s, want %s", got, want)
	}

	res = mustDo(t, e.admin(), "GET", "/rest/api/2/applicationrole", "")
	var all []map[string]any
	decode(t, res, &all)
	if len(all) != 2 || all[1]["hasUnlimitedSeats"] != true || all[1]["userCount"] != float64(0) {
		t.Errorf("got %v, want two roles, the second unlimited with 0 users", all)
	}
	expectStatus(t, "unknown role", mustDo(t, e.admin(), "GET", "/rest/api/2/applicationrole/nope", ""), 404)
}

func TestConfluenceLicense(t *testing.T) {
	tests := []struct {
		seats int
		what  string
		want  int
	}{
		{5, "maxUsers", 5},
		{5, "userCount", 1},
		{5, "remainingSeats", 4},
		{UnlimitedSeats, "maxUsers", 2147483647},
		{UnlimitedSeats, "remainingSeats", 2147483647},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d/%s", tc.seats, tc.what), func(t *testing.T) {
			e := newEnv(t, Confluence, func(c *Config) {
				c.Roles = []Role{{Key: "confluence", Groups: []string{"confluence-users"}, Seats: tc.seats}}
			})
			res := mustDo(t, e.admin(), "GET", "/rest/license/1.0/license/"+tc.what, "")
			var got struct{ Count int }
			decode(t, res, &got)
			if got.Count != tc.want {
				t.Errorf("got %d, want %d", got.Count, tc.want)
			}
		})
	}
}

func TestOverLicence(t *testing.T) {
	t.Run("jira stops issue creation", func(t *testing.T) {
		e := newEnv(t, Jira, func(c *Config) {
			c.Roles = []Role{{Key: "jira-software", Groups: []string{"jira-software-users"}, Seats: 1}}
		})
		alice := e.browser("alice", pw)
		must(t)(alice.Login(t.Context(), false))
		expectStatus(t, "create within licence", mustDo(t, alice, "POST", "/rest/api/2/issue", `{"fields":{}}`), 201)

		expectStatus(t, "grant bob", mustDo(t, e.admin(), "POST", "/rest/api/2/group/user?groupname=jira-software-users", `{"name":"bob"}`), 201)
		res := mustDo(t, alice, "POST", "/rest/api/2/issue", `{"fields":{}}`)
		if res.Status != 400 || !strings.Contains(res.Body, "You have exceeded the number of users allowed") {
			t.Errorf("got %d %s, want 400 with the licence message", res.Status, res.Body)
		}
		if got := e.sim.MaxUserCount("jira-software"); got != 2 {
			t.Errorf("got MaxUserCount %d, want 2", got)
		}
		mustDo(t, e.admin(), "DELETE", "/rest/api/2/group/user?groupname=jira-software-users&username=bob", "")
		if got := e.sim.UserCount("jira-software"); got != 1 {
			t.Errorf("got UserCount %d, want 1", got)
		}
		if got := e.sim.MaxUserCount("jira-software"); got != 2 {
			t.Errorf("got MaxUserCount %d after the removal, want 2 (the highest ever)", got)
		}
		expectStatus(t, "create again", mustDo(t, alice, "POST", "/rest/api/2/issue", `{"fields":{}}`), 201)
	})
	t.Run("confluence goes read-only", func(t *testing.T) {
		e := newEnv(t, Confluence, func(c *Config) {
			c.Roles = []Role{{Key: "confluence", Groups: []string{"confluence-users"}, Seats: 1}}
		})
		alice := e.browser("alice", pw)
		must(t)(alice.Login(t.Context(), false))
		expectStatus(t, "create within licence", mustDo(t, alice, "POST", "/rest/api/content", `{"type":"page","title":"x"}`), 200)
		expectStatus(t, "grant bob", mustDo(t, e.admin(), "PUT", "/rest/api/user/bob/group/confluence-users", ""), 204)
		expectStatus(t, "create over licence", mustDo(t, alice, "POST", "/rest/api/content", `{"type":"page","title":"y"}`), 403)
		if !e.sim.OverLicence() {
			t.Errorf("got OverLicence false, want true")
		}
	})
	t.Run("directory changes count only once the app sees them", func(t *testing.T) {
		e := newEnv(t, Jira, nil)
		e.dir.AddMember(t.Context(), "bob", "jira-software-users")
		if got := e.sim.UserCount("jira-software"); got != 1 {
			t.Errorf("before sync: got %d, want 1", got)
		}
		e.sim.SyncNow(t.Context())
		if got := e.sim.UserCount("jira-software"); got != 2 {
			t.Errorf("after sync: got %d, want 2", got)
		}
	})
	t.Run("excluded users are not counted", func(t *testing.T) {
		e := newEnv(t, Jira, func(c *Config) { c.ExcludeFromCount = []string{"ALICE"} })
		if got := e.sim.UserCount("jira-software"); got != 0 {
			t.Errorf("got %d, want 0", got)
		}
	})
}

func TestUnlicensedSessionForbidden(t *testing.T) {
	tests := []struct {
		product   string
		forbidden bool
		want      int
	}{
		{Jira, false, 200},
		{Jira, true, 403},
		{Confluence, false, 200},
		{Confluence, true, 403},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%v", tc.product, tc.forbidden), func(t *testing.T) {
			e := newEnv(t, tc.product, func(c *Config) { c.UnlicensedSessionForbidden = tc.forbidden })
			b := e.browser("alice", pw)
			must(t)(b.Login(t.Context(), false))
			expectStatus(t, "licensed", must(t)(b.Work(t.Context())), 200)
			if tc.product == Jira {
				mustDo(t, e.admin(), "DELETE", "/rest/api/2/group/user?groupname=jira-software-users&username=alice", "")
			} else {
				mustDo(t, e.admin(), "DELETE", "/rest/api/user/alice/group/confluence-users", "")
			}
			res := must(t)(b.Work(t.Context()))
			if res.Status != tc.want {
				t.Errorf("got %d, want %d", res.Status, tc.want)
			}
			// Either way the headers look logged in (REFERENCE §1).
			if res.User != "alice" || res.LoginReason() != ReasonOK {
				t.Errorf("got %q %q, want alice OK", res.User, res.LoginReason())
			}
			if p := must(t)(b.Poll(t.Context())); p.Status != 200 {
				t.Errorf("background poll: got %d, want 200", p.Status)
			}
		})
	}
}

func TestAnonymousRealWork(t *testing.T) {
	tests := []struct {
		product, path string
		want          int
	}{
		{Jira, "/browse/X-1", http.StatusFound},
		{Jira, "/rest/api/2/issue/X-1", http.StatusUnauthorized},
		{Jira, "/secure/Dashboard.jspa", http.StatusOK},
		{Confluence, "/pages/viewpage.action?pageId=1", http.StatusFound},
		{Confluence, "/display/DS/Home", http.StatusFound},
	}
	for _, tc := range tests {
		t.Run(tc.product+tc.path, func(t *testing.T) {
			e := newEnv(t, tc.product, nil)
			res := must(t)(e.browser("", "").Get(t.Context(), tc.path))
			if res.Status != tc.want || res.User != "anonymous" {
				t.Errorf("got %d %q, want %d anonymous", res.Status, res.User, tc.want)
			}
		})
	}
}

func TestBackgroundEndpoints(t *testing.T) {
	tests := []struct {
		product, method, path string
	}{
		{Confluence, "GET", "/rest/quickreload/latest/123?since=1"},
		{Confluence, "GET", "/rest/mywork/latest/status/notification/count"},
		{Confluence, "POST", "/json/heartbeat.action"},
		{Confluence, "POST", "/json/startheartbeatactivity.action"},
		{Confluence, "GET", "/rest/synchrony-interop/enabled"},
		{Confluence, "POST", "/rest/analytics/1.0/publish/bulk"},
		{Jira, "GET", "/rest/mywork/1/status/notification/count"},
		{Jira, "GET", "/rest/servicedesk/1/servicedesk/HELP/queues/poll"},
		{Jira, "GET", "/rest/servicedesk/1/servicedesk/HELP/issuelist/updated"},
		{Jira, "GET", "/rest/servicedesk/1/servicedesk/HELP/sla/HELP-1"},
		{Jira, "POST", "/rest/webResources/1.0/resources"},
		{Jira, "POST", "/rest/wrm/2.0/resources"},
		{Jira, "GET", "/rest/troubleshooting/1.0/check/"},
		{Jira, "GET", "/rest/helptips/1.0/tips"},
		{Jira, "GET", "/rest/menu/latest/appswitcher"},
		{Jira, "GET", "/rest/gadget/1.0/issueTable/filter?x=1"},
	}
	for _, tc := range tests {
		t.Run(tc.product+" "+tc.method+" "+tc.path, func(t *testing.T) {
			e := newEnv(t, tc.product, nil)
			b := e.browser("alice", pw)
			must(t)(b.Login(t.Context(), false))
			res := mustDo(t, b, tc.method, tc.path, "")
			if res.Status/100 != 2 || res.User != "alice" {
				t.Errorf("got %d %q, want 2xx alice", res.Status, res.User)
			}
			if n := e.sim.RequestCount(tc.method, strings.SplitN(tc.path, "?", 2)[0]); n != 1 {
				t.Errorf("got RequestCount %d, want 1", n)
			}
		})
	}
}

func TestRunSyncsOnTicks(t *testing.T) {
	ticks := make(chanTime)
	e := newEnv(t, Jira, func(c *Config) { c.NewTicker = ticks.newTicker })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.sim.Run(ctx) }()

	e.dir.AddMember(t.Context(), "bob", "jira-software-users")
	// Two sends on an unbuffered channel: when the second is taken, the
	// sync the first triggered has finished.
	ticks.send(e.clock)
	ticks.send(e.clock)
	if got := e.sim.UserCount("jira-software"); got != 2 {
		t.Errorf("got %d after a tick, want 2", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("got Run error %v, want nil", err)
	}
}

func TestCountCacheTTL(t *testing.T) {
	e := newEnv(t, Confluence, func(c *Config) { c.CountCacheTTL = time.Minute })
	count := func() int {
		var got struct{ Count int }
		decode(t, mustDo(t, e.admin(), "GET", "/rest/license/1.0/license/userCount", ""), &got)
		return got.Count
	}
	if got := count(); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
	mustDo(t, e.admin(), "PUT", "/rest/api/user/bob/group/confluence-users", "")
	if got := count(); got != 1 {
		t.Errorf("within the TTL: got %d, want the cached 1", got)
	}
	if got := e.sim.UserCount("confluence"); got != 2 {
		t.Errorf("live count: got %d, want 2", got)
	}
	e.clock.Advance(time.Minute)
	if got := count(); got != 2 {
		t.Errorf("after the TTL: got %d, want 2", got)
	}
}
