package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/app"
	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/config"
)

// startEmbedded runs a whole floatseat with the embedded store, and
// stops it in cleanup.
func startEmbedded(t *testing.T) *app.App {
	t.Helper()
	cfg, _, errs := config.Parse([]byte("listen: 127.0.0.1:0\nupstream: http://127.0.0.1:9\nadmin: {listen: 127.0.0.1:0}\n"), "", func(k string) string {
		return map[string]string{"FLOATSEAT_ADMIN_TOKEN": "tok"}[k]
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIAgainstARunningInstance(t *testing.T) {
	a := startEmbedded(t)
	admin := "http://" + a.AdminAddr()
	code, out, errOut := run("status", "--admin", admin)
	if code != 0 || !strings.Contains(out, "POOL") || !strings.Contains(out, "jira-software") || !strings.Contains(out, "mode observe") {
		t.Errorf("status: code %d out %q err %q", code, out, errOut)
	}
	code, out, _ = run("status", "--admin", admin, "--format", "json")
	if code != 0 || !strings.Contains(out, `"product": "jira"`) {
		t.Errorf("status json: %d %q", code, out)
	}
	code, out, _ = run("audit", "--admin", admin, "--format", "csv")
	if code != 0 || !strings.HasPrefix(out, "time,action,user") {
		t.Errorf("audit csv: %d %q", code, out)
	}
	// Mutating calls: the token is checked.
	t.Setenv("FLOATSEAT_ADMIN_TOKEN", "wrong")
	code, _, errOut = run("grant", "--admin", admin, "alice")
	if code != 1 || !strings.Contains(errOut, "token was refused") {
		t.Errorf("grant with a wrong token: %d %q", code, errOut)
	}
	tf := filepath.Join(t.TempDir(), "token")
	_ = os.WriteFile(tf, []byte("tok\n"), 0o600)
	code, _, errOut = run("grant", "--admin", admin, "--token-file", tf, "alice")
	if code != 1 || !strings.Contains(errOut, "not available") {
		t.Errorf("grant without a directory: %d %q, want a clear 501", code, errOut)
	}
	// Flags after the user work as printed in the docs.
	code, _, errOut = run("grant", "alice", "--admin", admin, "--token-file", tf)
	if code != 1 || !strings.Contains(errOut, "not available") {
		t.Errorf("grant USER --admin URL: %d %q, want the same answer as with the flags first", code, errOut)
	}
	code, _, errOut = run("revoke", "alice", "--token-file", tf, "--admin", admin, "--pool", "jira-software")
	if code != 1 || !strings.Contains(errOut, "not available") {
		t.Errorf("revoke USER --flags: %d %q", code, errOut)
	}
	if code, _, errOut = run("status", "extra", "--admin", admin); code != 2 || !strings.Contains(errOut, "unexpected argument") {
		t.Errorf("status with a stray argument: %d %q, want usage", code, errOut)
	}
}

func TestCLIUnreachable(t *testing.T) {
	code, _, errOut := run("status", "--admin", "http://127.0.0.1:9")
	if code != 1 || !strings.Contains(errOut, "cannot reach the admin API") {
		t.Errorf("got %d %q", code, errOut)
	}
}

func TestCheckAndNoiseCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	_ = os.WriteFile(good, []byte("product: confluence\nupstream: http://127.0.0.1:8090\nlisten: :8091\n"), 0o600)
	if code, out, errOut := run("check", "--config", good); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("check good: %d %q %q", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("product: jira\nmode: loud\nmax_idle: 1h\nnoise: {disable: [nope]}\n"), 0o600)
	code, _, errOut := run("check", "--config", bad)
	if code != 1 || !strings.Contains(errOut, "mode") || !strings.Contains(errOut, "max_idle") {
		t.Errorf("check bad: %d %q, want every problem", code, errOut)
	}
	code, out, _ := run("noise", "test", "--config", good, "GET", "/rest/quickreload/latest/1")
	if code != 0 || !strings.Contains(out, "confluence-quick-reload") {
		t.Errorf("noise test: %d %q", code, out)
	}
	code, out, _ = run("noise", "test", "GET", "/rest/quickreload/latest/1", "--config", good)
	if code != 0 || !strings.Contains(out, "confluence-quick-reload") {
		t.Errorf("noise test METHOD PATH --config F: %d %q", code, out)
	}
	code, out, _ = run("noise", "test", "--config", good, "GET", "/display/DS/Home")
	if code != 0 || !strings.Contains(out, "no rule") {
		t.Errorf("noise test miss: %d %q", code, out)
	}
}

func TestAppsimCommand(t *testing.T) {
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- Main([]string{"appsim", "--listen", "127.0.0.1:0", "--for", "3s"}, out, io.Discard) }()
	re := regexp.MustCompile(`on (http://[0-9.:]+) `)
	var base string
	eventually(t, "appsim listening", func() bool {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			return true
		}
		return false
	})
	res, err := appsim.NewBrowser(base, "alice", "alice", "jira").Login(t.Context(), false)
	if err != nil || res.LoginReason() != "OK" {
		t.Errorf("licensed login: %+v %v", res, err)
	}
	res, _ = appsim.NewBrowser(base, "dave", "dave", "jira").Login(t.Context(), false)
	if res.LoginReason() != "AUTHORISATION_FAILED" {
		t.Errorf("unlicensed login: reason %q, want AUTHORISATION_FAILED", res.LoginReason())
	}
	if code := <-done; code != 0 {
		t.Errorf("exit code %d", code)
	}
}
