package replay_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/accesslog"
	"github.com/floatseat/floatseat/internal/accesslog/loggen"
	"github.com/floatseat/floatseat/internal/noise"
	"github.com/floatseat/floatseat/internal/replay"
	"github.com/floatseat/floatseat/internal/testenv"
)

// Three days of 50 people on 28 seats, replayed and rendered as the HTML
// page in a real headless Chromium: the figures are in the DOM, the chart
// is drawn, and a screenshot is kept in testdata/artifacts/ to look at (not
// tracked); testdata/replay.png is a reviewed copy kept in the repo.
func TestHTMLInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: chromium")
	}
	t.Parallel()
	chromium := testenv.Binary(t, "chromium")
	opt := loggen.Options{Users: 50, Days: 3, Seed: 2}
	var log bytes.Buffer
	for d := 0; d < opt.Days; d++ {
		if _, err := loggen.Day(opt, d, &log); err != nil {
			t.Fatal(err)
		}
	}
	set, _ := noise.Build("jira", noise.Config{Defaults: true})
	res, err := replay.Run(replay.Options{Pools: []replay.Pool{{Name: "jira-software", Seats: 28, Reserve: 2, Sweep: []int{24, 26, 31, 34}}},
		Floor: 5 * time.Hour, Ceiling: 168 * time.Hour, Interval: time.Minute, MaxRevocations: 50, Noise: set},
		[]replay.Input{{Name: "week", R: &log, Format: accesslog.Auto}})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Pools[0]
	if p.Denials == 0 || p.Revocations == 0 {
		t.Fatalf("the week should show pressure: %+v", p)
	}
	page := filepath.Join(t.TempDir(), "replay.html")
	var html bytes.Buffer
	if err := replay.WriteHTML(&html, res); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(html.Bytes(), []byte("<script")) || bytes.Contains(html.Bytes(), []byte("http://")) || bytes.Contains(html.Bytes(), []byte("https://")) {
		t.Fatal("the page must be self-contained: no scripts, nothing fetched")
	}
	_ = os.WriteFile(page, html.Bytes(), 0o600)
	url := "file://" + page
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dom, err := exec.CommandContext(ctx, chromium, append(args, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	for name, re := range map[string]string{
		"users":      `data-testid="users-jira-software">` + strconv.Itoa(p.Users) + `<`,
		"peak floor": `data-testid="peak-floor-jira-software">` + strconv.Itoa(p.PeakFloorSeats) + `<`,
		"denials":    `data-testid="denials-jira-software">` + strconv.Itoa(p.Denials) + `<`,
		"held line":  `<polyline class="held" points="[0-9.]+,[0-9.]+ `,
		"seats line": `28 seats</text>`,
		"full page":  `class="full"><title>full page`,
	} {
		if !regexp.MustCompile(re).Match(dom) {
			t.Errorf("rendered page lacks %s (%s)", name, re)
		}
	}
	out, _ := filepath.Abs(filepath.Join("testdata", "artifacts"))
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(out, "replay.png")
	_ = os.Remove(shot)
	if b, err := exec.CommandContext(ctx, chromium, append(args, "--window-size=1100,1500", "--screenshot="+shot, url)...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, b)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot %s missing or empty: %v", shot, err)
	}
	t.Logf("replay page screenshot: %s", shot)
}
