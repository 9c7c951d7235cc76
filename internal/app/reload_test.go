package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/admin"
	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/testenv"
)

const reloadYAML = `
product: jira
listen: 127.0.0.1:0
upstream: %s
mode: enforce
session_timeout: %s
max_idle: %s
admin: {listen: 127.0.0.1:0}
redis: {addr: %q, key_prefix: "floatseat:reload"}
app: {user: svc}
pools:
  - {name: jira-software, license_groups: [jira-software-users], application_role: jira-software, reserve: %d, refresh_interval: 1s}
exclude: {groups: [jira-administrators], users: [%s]}
directory: {type: jira}
noise:
  rules:
    - {name: acme, method: GET, path: '%s'}
log: {level: error}
`

// TestReloadAppliesEachReloadableKey: a reload changes the noise rules,
// the exclusions (membership re-read), a pool's reserve and the window,
// each seen in the part that uses it; a file that also changes a key that
// needs a restart is refused by name, and nothing of it is applied.
func TestReloadAppliesEachReloadableKey(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real redis-server")
	}
	rd := testenv.StartRedis(t)
	sim := appsim.New(appsim.Config{Product: "jira", AdminUsers: []string{"svc"}, Groups: []string{"jira-administrators"}})
	dir := sim.InternalDirectory()
	dir.AddUser("svc", "svc-pw")
	dir.AddGroup("jira-administrators")
	for _, u := range []string{"bot", "root"} {
		dir.AddUser(u, "pw")
	}
	_ = dir.AddMember(t.Context(), "root", "jira-software-users")
	up := httptest.NewServer(sim)
	t.Cleanup(up.Close)
	a := runApp(t, fmt.Sprintf(reloadYAML, up.URL, "1h", "4h", rd.Addr, 5, "nobody", "^/rest/acme/1/poll"))

	if err := a.Reload(parseTestConfig(t, fmt.Sprintf(reloadYAML, up.URL, "2h", "8h", rd.Addr, 0, "bot", "^/rest/acme/2/poll"))); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := a.noise.Explain("GET", "/rest/acme/2/poll"); !strings.Contains(got, "acme") {
		t.Errorf("new noise rule not in force: %q", got)
	}
	if got := a.noise.Explain("GET", "/rest/acme/1/poll"); strings.Contains(got, "acme") {
		t.Errorf("old noise rule still in force: %q", got)
	}
	floor, ceiling, reserves := a.seats.reaper.Settings()
	if floor != 2*time.Hour || ceiling != 8*time.Hour || reserves["jira-software"] != 0 {
		t.Errorf("reaper after reload: floor %v ceiling %v reserves %v, want 2h, 8h, reserve 0", floor, ceiling, reserves)
	}
	if f := a.seats.keeper.Floor(); f != 2*time.Hour {
		t.Errorf("keeper floor after reload: %v, want 2h", f)
	}
	// Exclusion membership is re-read: bot by name, and root, added to the
	// exclusion group after the start, through the group.
	_ = dir.AddMember(t.Context(), "root", "jira-administrators")
	if err := sim.SyncNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(parseTestConfig(t, fmt.Sprintf(reloadYAML, up.URL, "2h", "8h", rd.Addr, 0, "bot", "^/rest/acme/2/poll"))); err != nil {
		t.Fatal(err)
	}
	if err := a.seats.members.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	ex := a.seats.members.Excluded()
	if !ex["bot"] || !ex["root"] || ex["nobody"] {
		t.Errorf("exclusions after reload: %v, want bot and root, not nobody", ex)
	}
	st, err := a.Status(t.Context())
	if err != nil || st.Pools[0].Reserve != 0 {
		t.Errorf("status after reload: %+v %v, want reserve 0", st, err)
	}

	// The claim limits take the new values at once.
	claims := fmt.Sprintf(reloadYAML, up.URL, "2h", "8h", rd.Addr, 0, "bot", "^/rest/acme/2/poll") +
		"proxy: {claims: {user_burst: 9, address_interval: 1s}}\n"
	if err := a.Reload(parseTestConfig(t, claims)); err != nil {
		t.Fatalf("reload of proxy.claims: %v", err)
	}
	if l := a.seats.keeper.ClaimLimits(); l.UserBurst != 9 || l.AddressInterval != time.Second || l.AddressBurst != 30 {
		t.Errorf("claim limits after reload: %+v, want user_burst 9, address_interval 1s, the rest default", l)
	}

	// A file that also moves the proxy port: refused, named, nothing applied.
	bad := strings.Replace(fmt.Sprintf(reloadYAML, up.URL, "3h", "8h", rd.Addr, 2, "bot", "^/rest/acme/3/poll"),
		"listen: 127.0.0.1:0", "listen: 127.0.0.1:1", 1)
	err = a.Reload(parseTestConfig(t, bad))
	if err == nil || !strings.Contains(err.Error(), "listen") || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("reload changing listen: %v, want a refusal naming listen", err)
	}
	if floor, _, reserves := a.seats.reaper.Settings(); floor != 2*time.Hour || reserves["jira-software"] != 0 {
		t.Errorf("a refused reload half-applied: floor %v reserves %v", floor, reserves)
	}
	if got := a.noise.Explain("GET", "/rest/acme/3/poll"); strings.Contains(got, "acme") {
		t.Errorf("a refused reload changed the noise rules: %q", got)
	}
}

// TestReloadEndpointReadsTheFile: POST /api/v1/reload re-reads the file the
// process started from and answers the refusal with the keys to restart for.
func TestReloadEndpointReadsTheFile(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real redis-server")
	}
	rd := testenv.StartRedis(t)
	setTestSecrets(t)
	path := filepath.Join(t.TempDir(), "floatseat.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := fmt.Sprintf("listen: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0}\nredis: {addr: %q, key_prefix: fs-reload2}\nmode: observe\napp: {user: svc}\nlog: {level: error}\n", rd.Addr)
	write(base)
	cfg := parseTestConfig(t, base)
	cfg.Path = path
	a := runAppConfig(t, cfg)
	post := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+a.AdminAddr()+"/api/v1/reload", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	write(base + "noise: {rules: [{name: acme, path: '^/rest/acme/'}]}\n")
	if code, body := post(); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if got := a.noise.Explain("GET", "/rest/acme/x"); !strings.Contains(got, "acme") {
		t.Errorf("rule from the file not in force: %q", got)
	}
	write(strings.Replace(base, "fs-reload2", "fs-other", 1))
	if code, body := post(); code != 400 || !strings.Contains(body, "redis.key_prefix") {
		t.Errorf("reload changing redis.key_prefix: %d %s, want 400 naming the key", code, body)
	}
}

// TestReloadAdminAndAppAgree: after a reload, by SIGHUP's path (Reload with
// the re-read file) and by POST /api/v1/reload, the status the admin port
// serves shows the window and the reserve the App and its reaper work by.
func TestReloadAdminAndAppAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real redis-server")
	}
	rd := testenv.StartRedis(t)
	setTestSecrets(t)
	sim := appsim.New(appsim.Config{Product: "jira", AdminUsers: []string{"svc"}})
	sim.InternalDirectory().AddUser("svc", "svc-pw")
	up := httptest.NewServer(sim)
	t.Cleanup(up.Close)
	path := filepath.Join(t.TempDir(), "floatseat.yaml")
	file := func(session, idle string, reserve int) string {
		s := fmt.Sprintf(reloadYAML, up.URL, session, idle, rd.Addr, reserve, "nobody", "^/rest/acme/1/poll")
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return s
	}
	cfg := parseTestConfig(t, file("1h", "4h", 5))
	cfg.Path = path
	a := runAppConfig(t, cfg)

	agree := func(how string, session, idle time.Duration, reserve int) {
		t.Helper()
		resp, err := http.Get("http://" + a.AdminAddr() + "/api/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st admin.Status
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Pools) != 1 {
			t.Fatalf("%s: status: %v, %d pools", how, err, len(st.Pools))
		}
		got := fmt.Sprintf("window %vs..%vs reserve %d", st.SessionTimeout, st.MaxIdle, st.Pools[0].Reserve)
		in := a.cfg()
		app := fmt.Sprintf("window %vs..%vs reserve %d", in.SessionTimeout.Seconds(), in.MaxIdle.Seconds(), in.Pools[0].Reserve)
		floor, ceiling, reserves := a.seats.reaper.Settings()
		reap := fmt.Sprintf("window %vs..%vs reserve %d", floor.Seconds(), ceiling.Seconds(), reserves["jira-software"])
		want := fmt.Sprintf("window %vs..%vs reserve %d", session.Seconds(), idle.Seconds(), reserve)
		if got != want || app != want || reap != want {
			t.Errorf("%s: admin status %q, app %q, reaper %q; want all %q", how, got, app, reap, want)
		}
	}
	agree("at start", time.Hour, 4*time.Hour, 5)

	if err := a.Reload(parseTestConfig(t, file("2h", "8h", 0))); err != nil {
		t.Fatalf("reload: %v", err)
	}
	agree("after Reload", 2*time.Hour, 8*time.Hour, 0)

	file("3h", "9h", 2)
	req, _ := http.NewRequest(http.MethodPost, "http://"+a.AdminAddr()+"/api/v1/reload", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/reload: %d %s", resp.StatusCode, b)
	}
	agree("after POST /api/v1/reload", 3*time.Hour, 9*time.Hour, 2)
}
