package poolwork

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func jiraRules(t testing.TB) *Rules {
	t.Helper()
	r, err := New([]Pool{{Name: "jira-software"}, {Name: "jsm", Paths: JSMPaths(), ProjectTypes: []string{"service_desk"}}},
		prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r.SetProjects(map[string]string{"FS": "software", "SD": "service_desk", "HR": "business"})
	return r
}

func TestClassify(t *testing.T) {
	r := jiraRules(t)
	const jsw, jsm = 1, 2
	for _, tc := range []struct {
		method, path   string
		activity, need uint64
	}{
		{"GET", "/secure/Dashboard.jspa", jsw, jsw},
		{"GET", "/browse/FS-1", jsw, jsw},
		{"POST", "/login.jsp", jsw, jsw},
		{"GET", "/secure/RapidBoard.jspa", jsw, jsw},
		// Queues, reports, agent views and JSM REST: JSM's own work.
		{"GET", "/projects/SD/queues/custom/1", jsm, jsm},
		{"GET", "/projects/SD/queues", jsm, jsm},
		{"GET", "/projects/SD/reports/timetoresolution", jsm, jsm},
		{"GET", "/servicedesk/agent/SD/issue/SD-1", jsm, jsm},
		{"GET", "/rest/servicedesk/1/servicedesk/SD/queues", jsm, jsm},
		// A service-project issue: viewing counts for both (a held agent
		// seat is kept; a collaborator needs none), changing needs JSM.
		{"GET", "/browse/SD-12", jsw | jsm, jsw},
		{"GET", "/rest/api/2/issue/SD-12", jsw | jsm, jsw},
		{"POST", "/rest/api/2/issue/SD-12/transitions", jsm, jsm},
		{"PUT", "/rest/api/2/issue/SD-12", jsm, jsm},
		{"POST", "/rest/api/2/issue/SD-12/comment", jsw | jsm, jsw}, // collaborators may comment
		// Not issue keys, or projects of no typed pool.
		{"PUT", "/rest/api/2/issue/FS-3", jsw, jsw},
		{"POST", "/rest/api/2/issue/HR-3/transitions", jsw, jsw},
		{"GET", "/browse/sd-12", jsw, jsw},
		{"GET", "/browse/SD-", jsw, jsw},
		{"GET", "/browse/-12", jsw, jsw},
		{"GET", "/browse/XX-12", jsw, jsw},
	} {
		if got := r.Activity(tc.method, tc.path); got != tc.activity {
			t.Errorf("Activity(%s %s) = %b, want %b", tc.method, tc.path, got, tc.activity)
		}
		if got := r.Need(tc.method, tc.path); got != tc.need {
			t.Errorf("Need(%s %s) = %b, want %b", tc.method, tc.path, got, tc.need)
		}
	}
}

func TestMainPoolAndNames(t *testing.T) {
	r, err := New([]Pool{{Name: "a", Paths: []string{"^/a/"}}, {Name: "b", Main: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Main() != 2 || r.Activity("GET", "/x") != 2 || r.Activity("GET", "/a/1") != 1 {
		t.Errorf("main %b, /x %b, /a/1 %b", r.Main(), r.Activity("GET", "/x"), r.Activity("GET", "/a/1"))
	}
	if got := r.Names(3); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("Names(3) = %v", got)
	}
	if r.Bit("b") != 2 || r.Bit("zz") != 0 || r.All() != 3 {
		t.Errorf("Bit/All: %b %b %b", r.Bit("b"), r.Bit("zz"), r.All())
	}
	if _, err := New([]Pool{{Name: "a", Paths: []string{"("}}}, nil); err == nil {
		t.Error("a bad regexp compiled")
	}
}

func TestCountersPerRule(t *testing.T) {
	reg := prometheus.NewRegistry()
	r, _ := New([]Pool{{Name: "jsw"}, {Name: "jsm", Paths: []string{`^/projects/[^/]+/queues`}, ProjectTypes: []string{"service_desk"}}}, reg)
	r.SetProjects(map[string]string{"SD": "service_desk"})
	r.Activity("GET", "/projects/SD/queues")
	r.Activity("POST", "/rest/api/2/issue/SD-1/transitions")
	r.Activity("GET", "/browse/FS-1")
	r.Need("GET", "/projects/SD/queues") // Need does not count: the request is counted once, when recorded
	for rule, want := range map[string]float64{`^/projects/[^/]+/queues`: 1, "project-issue": 1} {
		if got := testutil.ToFloat64(r.pools[1].hits[map[string]int{`^/projects/[^/]+/queues`: 0, "project-issue": 1}[rule]]); got != want {
			t.Errorf("jsm %s: %v, want %v", rule, got, want)
		}
	}
	if got := testutil.ToFloat64(r.mainHits); got != 1 {
		t.Errorf("main: %v, want 1", got)
	}
}

func TestPortal(t *testing.T) {
	for path, want := range map[string]bool{
		"/servicedesk/customer/portals": true, "/servicedesk/customer/user/login": true,
		"/servicedesk/customer": true, "/servicedesk/agent/SD": false, "/servicedesk/customerx": false,
	} {
		if IsPortal(path) != want {
			t.Errorf("IsPortal(%q) = %v", path, !want)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	if raceOn {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	r := jiraRules(t)
	for _, path := range []string{"/browse/SD-12", "/projects/SD/queues/custom/1", "/secure/Dashboard.jspa"} {
		if n := testing.AllocsPerRun(1000, func() { r.Activity("GET", path); r.Need("POST", path) }); n != 0 {
			t.Errorf("%s: %v allocations, want 0", path, n)
		}
	}
}

func BenchmarkActivity(b *testing.B) {
	r := jiraRules(b)
	b.ReportAllocs()
	for b.Loop() {
		r.Activity("GET", "/browse/FS-1")
	}
}

// projectSource answers from its list of answers in turn; the last one
// also ends the refresh.
type projectSource struct {
	answers []func() (map[string]string, error)
	cancel  context.CancelFunc
	calls   int
}

func (s *projectSource) Types(context.Context) (map[string]string, error) {
	f := s.answers[s.calls]
	s.calls++
	if s.calls == len(s.answers) {
		s.cancel()
	}
	return f()
}

// A failed read keeps the last good list of projects.
func TestRefreshProjectsKeepsTheLastGoodList(t *testing.T) {
	r, err := New([]Pool{{Name: "jira-software"}, {Name: "jsm", ProjectTypes: []string{"service_desk"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	src := &projectSource{cancel: cancel, answers: []func() (map[string]string, error){
		func() (map[string]string, error) {
			return map[string]string{"SD": "service_desk", "HD": "service_desk"}, nil
		},
		func() (map[string]string, error) { return nil, errors.New("503 from the app") },
	}}
	r.RefreshProjects(ctx, src, time.Millisecond, slog.New(slog.DiscardHandler))
	if src.calls != 2 || r.Projects() != 2 {
		t.Errorf("after %d reads: %d projects, want the 2 of the good read kept", src.calls, r.Projects())
	}
}
