package noise

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func mustBuild(t testing.TB, product string, cfg Config) *Set {
	t.Helper()
	s, errs := Build(product, cfg)
	if len(errs) > 0 {
		t.Fatalf("Build: %v", errs)
	}
	return s
}

// The paths of REFERENCE §6, as the apps send them.
func TestDefaultsMatchReferencePaths(t *testing.T) {
	tests := []struct {
		product, method, path, query, want string
	}{
		{"confluence", "GET", "/rest/quickreload/latest/65538?since=1700000000000", "", "confluence-quick-reload"},
		{"jira", "GET", "/rest/mywork/latest/status/notification/count", "", "mywork-notification-count"},
		{"confluence", "GET", "/rest/mywork/1/status/notification/count", "pageid=1", "mywork-notification-count"},
		{"jira", "POST", "/rest/analytics/1.0/publish/bulk", "", "analytics-publish"},
		{"confluence", "POST", "/rest/webResources/1.0/resources", "", "web-resources"},
		{"jira", "POST", "/rest/wrm/2.0/resources", "", "web-resources"},
		{"jira", "GET", "/rest/troubleshooting/1.0/check/admin", "", "troubleshooting-check"},
		{"jira", "GET", "/rest/helptips/1.0/tips", "", "helptips"},
		{"confluence", "POST", "/json/startheartbeatactivity.action", "", "confluence-editor-heartbeat"},
		{"confluence", "POST", "/json/heartbeat.action", "", "confluence-editor-heartbeat"},
		{"confluence", "GET", "/synchrony/v1/bayeux-sync1", "", "confluence-synchrony"},
		{"confluence", "POST", "/synchrony-proxy/v1/data", "", "confluence-synchrony"},
		{"confluence", "PUT", "/rest/synchrony-interop/enable", "", "confluence-synchrony"},
		{"jira", "GET", "/rest/servicedesk/1/servicedesk/ITSM/queues/poll", "", "jsm-queue-poll"},
		{"jira", "GET", "/rest/servicedesk/1/servicedesk/SD/issuelist/updated", "", "jsm-issuelist-updated"},
		{"jira", "GET", "/rest/servicedesk/1/servicedesk/SD/sla/metrics", "", "jsm-sla"},
		{"jira", "GET", "/rest/menu/latest/appswitcher", "", "app-switcher"},
	}
	for _, tc := range tests {
		t.Run(tc.want+" "+tc.path, func(t *testing.T) {
			s := mustBuild(t, tc.product, Config{Defaults: true})
			i, ok := s.Match(tc.method, strings.SplitN(tc.path, "?", 2)[0], tc.query)
			if !ok {
				t.Fatalf("%s %s: got no rule, want %s", tc.method, tc.path, tc.want)
			}
			if got := s.Rule(i).Name; got != tc.want {
				t.Errorf("got rule %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNearMissesCountAsActivity(t *testing.T) {
	tests := []struct{ product, method, path string }{
		{"confluence", "POST", "/rest/quickreload/latest/1"},               // wrong method
		{"confluence", "GET", "/rest/quickreloadx/latest/1"},               // prefix of another path
		{"confluence", "GET", "/display/rest/quickreload/"},                // not at the start
		{"jira", "GET", "/rest/mywork/2/status/notification/count"},        // other version
		{"jira", "GET", "/rest/servicedesk/1/servicedesk/SD/queues/42"},    // opening a queue is real work
		{"jira", "GET", "/rest/servicedesk/1/servicedesk/a/b/queues/poll"}, // [^/]+ is one segment
		{"jira", "GET", "/browse/FS-1"},
		{"jira", "POST", "/rest/api/2/issue"},
		{"jira", "GET", "/rest/quickreload/latest/1"},      // a Confluence rule, not Jira's
		{"jira", "GET", "/rest/gadget/1.0/issueTable/jql"}, // opt-in, off by default
	}
	for _, tc := range tests {
		s := mustBuild(t, tc.product, Config{Defaults: true})
		if i, ok := s.Match(tc.method, tc.path, ""); ok {
			t.Errorf("%s %s %s: got rule %s, want none", tc.product, tc.method, tc.path, s.Rule(i).Name)
		}
	}
}

func TestAdminTuning(t *testing.T) {
	s := mustBuild(t, "jira", Config{
		Defaults: true,
		Disable:  []string{"app-switcher"},
		Rules: []Rule{
			{Name: "acme-poll", Method: "GET", Path: `^/rest/acme/1/poll`, Query: `(^|&)auto=1`},
			{Name: "jsm-sla", Method: "GET", Path: `^/rest/servicedesk/1/servicedesk/[^/]+/sla-display`}, // replaces
			{Name: "jira-gadget-refresh"}, // name alone switches the opt-in rule on
		},
	})
	check := func(method, path, query, want string) {
		t.Helper()
		i, ok := s.Match(method, path, query)
		got := ""
		if ok {
			got = s.Rule(i).Name
		}
		if got != want {
			t.Errorf("%s %s?%s: got %q, want %q", method, path, query, got, want)
		}
	}
	check("GET", "/rest/menu/latest/appswitcher", "", "")
	check("GET", "/rest/acme/1/poll", "x=1&auto=1", "acme-poll")
	check("GET", "/rest/acme/1/poll", "auto=0", "")
	check("GET", "/rest/servicedesk/1/servicedesk/SD/sla-display", "", "jsm-sla")
	check("GET", "/rest/servicedesk/1/servicedesk/SD/sla", "", "")
	check("GET", "/rest/gadget/1.0/issueTable/filter", "", "jira-gadget-refresh")
}

func TestBuildReportsEveryProblem(t *testing.T) {
	_, errs := Build("jira", Config{
		Defaults: true,
		Disable:  []string{"no-such-default"},
		Rules: []Rule{
			{Name: "bad-re", Path: `^/rest/(acme`},
			{Name: "bad-method", Method: "FETCH", Path: `^/x`},
			{Name: "dup", Path: `^/a`},
			{Name: "dup", Path: `^/b`},
			{Name: "no-path"},
			{Path: `^/nameless`},
		},
	})
	all := ""
	for _, e := range errs {
		all += e.Error() + "\n"
	}
	for _, want := range []string{"no-such-default", "noise rule bad-re: path", "bad-method", "dup: duplicate", "no-path", "empty name"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors:\n%s\nwant one mentioning %q", all, want)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	s := mustBuild(t, "confluence", Config{Defaults: true})
	for _, tc := range []struct{ method, path string }{
		{"GET", "/display/SPACE/Page+title"},                     // miss
		{"GET", "/rest/quickreload/latest/1"},                    // prefix-only hit
		{"GET", "/rest/mywork/latest/status/notification/count"}, // regexp hit
	} {
		if n := testing.AllocsPerRun(1000, func() { s.Match(tc.method, tc.path, "") }); n != 0 {
			t.Errorf("Match(%s %s): %v allocs, want 0", tc.method, tc.path, n)
		}
	}
}

func TestFilterReloadKeepsCounters(t *testing.T) {
	reg := prometheus.NewRegistry()
	f, errs := NewFilter("jira", Config{Defaults: true}, reg)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	f.Match("GET", "/rest/menu/latest/appswitcher", "")
	if errs := f.Reload("jira", Config{Defaults: true, Rules: []Rule{{Name: "extra", Path: "^/extra"}}}); len(errs) > 0 {
		t.Fatal(errs)
	}
	f.Match("GET", "/rest/menu/latest/appswitcher", "")
	f.Match("GET", "/extra/1", "")
	want := `
# HELP floatseat_noise_requests_total Requests ignored as activity, by the noise rule that matched.
# TYPE floatseat_noise_requests_total counter
floatseat_noise_requests_total{rule="app-switcher"} 2
floatseat_noise_requests_total{rule="extra"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "floatseat_noise_requests_total"); err != nil {
		// Other rules are present at zero; compare only the ones we hit.
		if !strings.Contains(err.Error(), `rule="app-switcher"} 2`) {
			t.Error(err)
		}
	}
	if errs := f.Reload("jira", Config{Rules: []Rule{{Name: "x", Path: "^/(x"}}}); len(errs) == 0 {
		t.Error("a bad reload was accepted")
	}
	if _, ok := f.Match("GET", "/extra/2", ""); !ok {
		t.Error("a rejected reload replaced the running rules")
	}
}

func TestExplain(t *testing.T) {
	s := mustBuild(t, "jira", Config{Defaults: true})
	if got := Explain(s, "get", "/rest/servicedesk/1/servicedesk/SD/queues/poll?x=1"); !strings.Contains(got, `rule "jsm-queue-poll"`) {
		t.Errorf("got %q", got)
	}
	if got := Explain(s, "GET", "/browse/FS-1"); got != "no rule: counts as activity" {
		t.Errorf("got %q", got)
	}
}

func BenchmarkMatchMiss(b *testing.B) {
	s := mustBuild(b, "jira", Config{Defaults: true})
	b.ReportAllocs()
	for b.Loop() {
		s.Match("GET", "/browse/FS-1234", "")
	}
}

func BenchmarkMatchRegexpHit(b *testing.B) {
	s := mustBuild(b, "jira", Config{Defaults: true})
	b.ReportAllocs()
	for b.Loop() {
		s.Match("GET", "/rest/servicedesk/1/servicedesk/ITSM/queues/poll", "")
	}
}
