package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/floatseat/floatseat/internal/accesslog/loggen"
	"github.com/floatseat/floatseat/internal/appsim"
)

const replayConfig = `product: jira
session_timeout: 5h
max_idle: 168h
pools:
  - name: jira-software
    license_groups: [jira-software-users]
    seats: 12
    reserve: 2
exclude:
  users: [user1]
`

// `floatseat replay --format json` prints the contract's one object, with
// flags after the files, gzip and plain files given out of order, and the
// same answer from stdin.
func TestReplayCommandJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "floatseat.yaml")
	_ = os.WriteFile(cfg, []byte(replayConfig), 0o600)
	opt := loggen.Options{Users: 20, Days: 3, Seed: 3}
	var all bytes.Buffer
	var files []string
	for d := 2; d >= 0; d-- { // newest first
		var day bytes.Buffer
		if _, err := loggen.Day(opt, d, &day); err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, loggen.FileName(opt, d))
		body := day.Bytes()
		if d == 1 {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			_, _ = zw.Write(body)
			_ = zw.Close()
			name += ".gz"
			body = z.Bytes()
		}
		_ = os.WriteFile(name, body, 0o600)
		files = append(files, name)
	}
	for d := 0; d < 3; d++ {
		_, _ = loggen.Day(opt, d, &all)
	}
	run := func(stdin *bytes.Buffer, args ...string) map[string]any {
		var out, errb bytes.Buffer
		if code := cmdReplay(args, stdin, &out, &errb); code != 0 {
			t.Fatalf("replay %v: exit %d\n%s", args, code, errb.String())
		}
		var v map[string]any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out.String())
		}
		return v
	}
	got := run(nil, append(files, "--config", cfg, "--format", "json", "--seats", "12,15")...)
	keys := func(m map[string]any) []string {
		var k []string
		for n := range m {
			k = append(k, n)
		}
		slices.Sort(k)
		return k
	}
	if k := strings.Join(keys(got), ","); k != "from,lines,pools,skipped,to" {
		t.Fatalf("top-level fields %s", k)
	}
	pools := got["pools"].([]any)
	p := pools[0].(map[string]any)
	if k := strings.Join(keys(p), ","); k != "denials,grants,name,peak_floor_seats,peak_seats,revocations,seats,users" {
		t.Fatalf("pool fields %s", k)
	}
	if p["seats"].(float64) != 12 || p["peak_seats"].(float64) > 12 || p["users"].(float64) < 8 || got["lines"].(float64) < 1000 {
		t.Fatalf("implausible result %v", got)
	}
	fromStdin := run(&all, "--config", cfg, "--format", "json", "--seats", "12", "-")
	if g, s := got["pools"], fromStdin["pools"]; !jsonEqual(g, s) || got["lines"] != fromStdin["lines"] {
		t.Fatalf("stdin differs from the files:\n%v\n%v", g, s)
	}
}

func TestReplayCommandTableSweepAndErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "floatseat.yaml")
	_ = os.WriteFile(cfg, []byte(replayConfig), 0o600)
	paths, _, err := loggen.Write(loggen.Options{Users: 20, Days: 2, Seed: 5}, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cmdReplay(append([]string{"--config", cfg}, paths...), nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"Pool jira-software", "peak_floor_seats", "Sizing", "people turned away", "Day by day at 12 seats"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, out.String())
		}
	}
	// The default sweep has several seat counts, the pool's 12 marked.
	if n := strings.Count(out.String(), "\n      "); n < 4 || !strings.Contains(out.String(), " <\n") {
		t.Fatalf("no sweep in:\n%s", out.String())
	}
	for _, bad := range [][]string{
		{"--config", cfg},
		{"--config", cfg, "--seats", "x", paths[0]},
		{"--config", cfg, "--format", "pdf", paths[0]},
		{"--config", cfg, "--log-format", "apache", paths[0]},
		{"--config", cfg, "--from", "yesterday", paths[0]},
	} {
		if code := cmdReplay(bad, nil, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	if code := cmdReplay([]string{"--config", cfg, filepath.Join(dir, "missing")}, nil, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// `floatseat replay --directory` reads the pools' members from the
// configured directory (here the app's REST group API): only members count
// for the pool, where without it every named user in the log does.
func TestReplayCommandDirectory(t *testing.T) {
	sim := appsim.New(appsim.Config{Product: "jira", AdminUsers: []string{"svc"}})
	in := sim.InternalDirectory()
	in.AddUser("svc", "svc-pw")
	in.AddGroup("jira-software-users")
	for i := 0; i < 10; i++ { // half of the log's 20 people
		u := loggen.UserName(i)
		in.AddUser(u, "pw")
		if err := in.AddMember(t.Context(), u, "jira-software-users"); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.SyncNow(t.Context()); err != nil { // the app's directory sync
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Setenv("FLOATSEAT_APP_PASSWORD", "svc-pw")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "floatseat.yaml")
	_ = os.WriteFile(cfg, []byte(fmt.Sprintf("%supstream: %s\napp: {user: svc}\ndirectory: {type: jira}\n", replayConfig, srv.URL)), 0o600)
	opt := loggen.Options{Users: 20, Days: 2, Seed: 5}
	var log bytes.Buffer
	for d := 0; d < 2; d++ {
		if _, err := loggen.Day(opt, d, &log); err != nil {
			t.Fatal(err)
		}
	}
	logFile := filepath.Join(dir, "access_log")
	_ = os.WriteFile(logFile, log.Bytes(), 0o600)
	users := func(args ...string) float64 {
		var out, errb bytes.Buffer
		if code := cmdReplay(append(args, "--config", cfg, "--format", "json", "--seats", "12", logFile), nil, &out, &errb); code != 0 {
			t.Fatalf("replay %v: exit %d\n%s", args, code, errb.String())
		}
		var v struct {
			Pools []struct{ Users float64 } `json:"pools"`
		}
		if err := json.Unmarshal(out.Bytes(), &v); err != nil || len(v.Pools) != 1 {
			t.Fatalf("not the contract's JSON: %v\n%s", err, out.String())
		}
		return v.Pools[0].Users
	}
	all, members := users(), users("--directory")
	if members > 10 || members < 1 || all <= members {
		t.Errorf("users: %v without --directory, %v with it; want at most the 10 members with it, and more without", all, members)
	}
	// A directory that cannot be read stops the replay.
	t.Setenv("FLOATSEAT_APP_PASSWORD", "wrong")
	var out, errb bytes.Buffer
	if code := cmdReplay([]string{"--config", cfg, "--directory", "--seats", "12", logFile}, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "--directory") {
		t.Errorf("unreadable directory: exit %d %q, want 1 and a --directory error", code, errb.String())
	}
}
