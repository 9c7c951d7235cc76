package app

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/testenv"
)

// TestStatusPageInChromium loads the status page in a real headless
// Chromium, finds the seat numbers in the rendered DOM, and keeps a
// screenshot in internal/app/testdata/artifacts/ (not tracked: it changes on
// every run); testdata/status-page.png is a reviewed copy kept in the repo.
func TestStatusPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: chromium")
	}
	chromium := testenv.Binary(t, "chromium")
	dir := appsim.NewInternalDirectory()
	ctx := t.Context()
	dir.AddGroup("jira-software-users")
	for _, u := range []string{"alice", "bob", "carol"} {
		dir.AddUser(u, "pw")
		_ = dir.AddMember(ctx, u, "jira-software-users")
	}
	a := startEmbedded(t, `directory: {type: jira}
app: {user: svc}
pools: [{name: jira-software, license_groups: [jira-software-users], seats: 20, reserve: 2, refresh_interval: 1s}]
`, WithDirectory(dir, true))
	eventually(t, "seat counts", func() bool {
		st, err := a.Status(ctx)
		return err == nil && st.Pools[0].Seats == 20 && st.Pools[0].Used == 3
	})
	if err := a.seats.reaper.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	url := "http://" + a.AdminAddr() + "/"
	profile := t.TempDir()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile}
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	dom, err := exec.CommandContext(cctx, chromium, append(args, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	for name, re := range map[string]string{
		"headroom 17":      `data-testid="headroom-jira-software">17<`,
		"seats 3 / 20":     `data-testid="seats-jira-software">3 / 20<`,
		"effective window": `data-testid="window-jira-software">7d00h<`,
		"licensed users":   `>alice<`,
		"chart":            `data-testid="chart-jira-software"`,
	} {
		if !regexp.MustCompile(re).Match(dom) {
			t.Errorf("rendered page lacks %s (%s)", name, re)
		}
	}
	out := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, _ := filepath.Abs(filepath.Join(out, "status-page.png"))
	_ = os.Remove(shot)
	cmd := exec.CommandContext(cctx, chromium, append(args, "--window-size=1280,1400", "--screenshot="+shot, url)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, b)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot %s missing or empty: %v", shot, err)
	} else {
		t.Logf("status page screenshot: %s", shot)
	}
}

func TestStatusPageRenders(t *testing.T) {
	a := startEmbedded(t, "")
	resp, err := httpGet("http://" + a.AdminAddr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"floatseat — jira", `data-testid="headroom-jira-software"`, "Recent audit events"} {
		if !strings.Contains(resp, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
