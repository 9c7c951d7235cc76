package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/testenv"

	"github.com/prometheus/client_golang/prometheus"
)

func TestShippedConfigurationValidates(t *testing.T) {
	env := map[string]string{"FLOATSEAT_ADMIN_TOKEN": "t", "FLOATSEAT_REDIS_PASSWORD": "r", "FLOATSEAT_APP_PASSWORD": "a",
		"FLOATSEAT_LDAP_BIND_PASSWORD": "l", "FLOATSEAT_CROWD_APP_PASSWORD": "c"}
	for _, f := range []string{"deploy/floatseat.yaml", "examples/floatseat.yaml", "examples/jira-software-and-jsm.yaml"} {
		b, err := os.ReadFile(testenv.RepoFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, errs := config.Parse(b, "", func(k string) string { return env[k] })
		if len(errs) > 0 {
			t.Errorf("%s: %v", f, errs)
			continue
		}
		if errs := CheckComponents(cfg); len(errs) > 0 {
			t.Errorf("%s: floatseat check: %v", f, errs)
		}
	}
}

func TestDeployFilesParse(t *testing.T) {
	for _, f := range []string{"deploy/prometheus/floatseat-alerts.yaml", "deploy/helm/jira-values.yaml", "deploy/helm/confluence-values.yaml"} {
		b, err := os.ReadFile(testenv.RepoFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil || len(v) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	b, err := os.ReadFile(testenv.RepoFile(t, "deploy/grafana/floatseat-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	unit, err := os.ReadFile(testenv.RepoFile(t, "deploy/systemd/floatseat.service"))
	if err != nil {
		t.Fatal(err)
	}
	// check exits 1 on a Redis or directory problem; gating start on it
	// would turn an outage of either into a 502 for every user.
	for _, want := range []string{"NoNewPrivileges=yes", "User=floatseat", "ExecReload=/bin/kill -HUP $MAINPID", "ProtectSystem=strict",
		"ExecStartPre=-/usr/local/bin/floatseat check"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("systemd unit lacks %q", want)
		}
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		if out, err := exec.Command(sa, "verify", testenv.RepoFile(t, "deploy/systemd/floatseat.service")).CombinedOutput(); err != nil &&
			!strings.Contains(string(out), "floatseat: No such file") && !strings.Contains(string(out), "not executable") {
			t.Logf("systemd-analyze verify (advisory): %s", out)
		}
	}
	if pt, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(pt, "check", "rules", testenv.RepoFile(t, "deploy/prometheus/floatseat-alerts.yaml")).CombinedOutput(); err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
	}
}

var metricRE = regexp.MustCompile(`floatseat_[a-z_]+`)

// TestAlertsAndDashboardUseRealMetrics starts a floatseat with every part
// (a directory from the simulator) and checks that each metric named in
// the alert rules and the dashboard is one it exports.
func TestAlertsAndDashboardUseRealMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := directory.Instrument("test", appsim.NewInternalDirectory(), directory.NewMetrics(reg), directory.Options{})
	a := startEmbedded(t, "directory: {type: jira}\napp: {user: svc}\n", WithRegistry(reg), WithDirectory(dir, true))
	names := map[string]bool{}
	mfs, err := a.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	// Vectors without a child yet are not gathered: describe them instead.
	ch := make(chan *prometheus.Desc, 1000)
	go func() { a.reg.Describe(ch); close(ch) }()
	for d := range ch {
		if m := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	for _, f := range []string{"deploy/prometheus/floatseat-alerts.yaml", "deploy/grafana/floatseat-dashboard.json"} {
		b, err := os.ReadFile(testenv.RepoFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricRE.FindAllString(string(b), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
			if !names[base] && !names[m] {
				t.Errorf("%s uses %s, which floatseat does not export", filepath.Base(f), m)
			}
		}
	}
	for _, m := range []string{"floatseat_http_requests_total", "floatseat_seat_headroom", "floatseat_effective_idle_window_seconds",
		"floatseat_grants_total", "floatseat_revocations_total", "floatseat_logins_denied_total", "floatseat_reaper_runs_total",
		"floatseat_license_refresh_last_success_timestamp_seconds", "floatseat_redis_errors_total", "floatseat_activity_writes_total",
		"floatseat_activity_dropped_total", "floatseat_noise_requests_total", "floatseat_licensed_users", "floatseat_seats_total",
		"floatseat_seats_used", "floatseat_reaper_last_success_timestamp_seconds", "floatseat_http_request_duration_seconds"} {
		if !names[m] {
			t.Errorf("contract metric %s (DESIGN §3.4) is not exported", m)
		}
	}
}

func TestContainerAndRedirectFiles(t *testing.T) {
	df, err := os.ReadFile(testenv.RepoFile(t, "deploy/container/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// The image builds the command that exists, stamps the version variable
	// that exists, and runs unprivileged.
	if _, err := os.Stat(testenv.RepoFile(t, "cmd/floatseat/main.go")); err != nil || !strings.Contains(string(df), "./cmd/floatseat") {
		t.Error("Dockerfile does not build ./cmd/floatseat")
	}
	if !strings.Contains(string(df), "internal/app.Version=") || Version == "" {
		t.Error("Dockerfile does not stamp internal/app.Version")
	}
	if !strings.Contains(string(df), "USER nonroot") {
		t.Error("the image runs as root")
	}
	if testing.Short() {
		return
	}
	nginx := testenv.Binary(t, "nginx")
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	body := "pid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log;\nevents {}\nhttp {\n  access_log off;\n  include " +
		testenv.RepoFile(t, "deploy/nginx/http-redirect.conf") + ";\n}\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nginx, "-t", "-c", conf, "-p", dir).CombinedOutput(); err != nil {
		t.Errorf("nginx -t rejected deploy/nginx/http-redirect.conf: %v\n%s", err, out)
	}
}

// The sidecar's readiness probe in the Helm values must not depend on
// Redis: with Redis down and the app up, the probed path answers 200, so
// a Redis outage never takes an app pod out of its Service.
func TestHelmReadinessProbeFailsOpen(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(up.Close)
	a := runApp(t, fmt.Sprintf(`
product: jira
mode: observe
listen: 127.0.0.1:0
upstream: %s
pools: [{name: p, license_groups: [g], seats: 50}]
admin: {listen: 127.0.0.1:0}
redis: {addr: "127.0.0.1:1", timeout: 100ms}
log: {level: error}
`, up.URL))
	for _, f := range []string{"deploy/helm/jira-values.yaml", "deploy/helm/confluence-values.yaml"} {
		b, err := os.ReadFile(testenv.RepoFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`readinessProbe:\s*\n\s*(?:#.*\n\s*)*httpGet:\s*\{path:\s*([^,}\s]+)`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s: no readinessProbe httpGet path", f)
		}
		res, err := http.Get("http://" + a.AdminAddr() + string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s probes %s: %d with Redis down, want 200 (a Redis outage must not take the pod out of service)", f, m[1], res.StatusCode)
		}
	}
}
