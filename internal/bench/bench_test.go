package bench

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/cli"
)

// The test binary doubles as the floatseat and bare-proxy processes the
// benchmark measures, so the test needs no separate build.
func TestMain(m *testing.M) {
	switch os.Getenv("FLOATSEAT_BENCH_CHILD") {
	case "floatseat":
		os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
	case "bare":
		if err := ServeBare(os.Args[1], os.Args[2], len(os.Args) > 3 && os.Args[3] == "stdlib"); err != nil {
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// TestBenchRuns runs the whole benchmark at a tiny size: every target
// answers, and the two summary lines have the form scripts read. It makes
// no assertion on a number's size (speed belongs to `make bench`).
func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real redis-server and nginx")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Duration: 300 * time.Millisecond, Conns: 2, Rate: 50, Users: 5, ScaleUsers: 50,
		Floatseat: func(args ...string) *exec.Cmd {
			c := exec.Command(self, args...)
			c.Env = append(os.Environ(), "FLOATSEAT_BENCH_CHILD=floatseat")
			return c
		},
		Bare: func(listen, upstream string, stdlib bool) *exec.Cmd {
			c := exec.Command(self, listen, upstream)
			if stdlib {
				c.Args = append(c.Args, "stdlib")
			}
			c.Env = append(os.Environ(), "FLOATSEAT_BENCH_CHILD=bare")
			return c
		},
		Scale: ScaleFigures,
	}
	var out bytes.Buffer
	s, err := Run(t, o, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, name := range []string{"direct", "bare-reverseproxy", "floatseat", "nginx", "nginx+floatseat", "bare-stdlib-transport"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+[1-9]\d*\s+0\s`).MatchString(out.String()) {
			t.Errorf("row %s: want requests served and 0 errors", name)
		}
	}
	chain := regexp.MustCompile(`^chain: direct_rps=\d+ floatseat_rps=\d+ ratio=[\d.]+ added_p99_ms=-?[\d.]+ cpu_us_per_req=[\d.]+ nginx_cpu_us_per_req=[\d.]+$`)
	if l := s.ChainLine(); !chain.MatchString(l) {
		t.Errorf("chain line %q does not have the form scripts read", l)
	}
	scale := regexp.MustCompile(`^scale: users=50 reaper_pass_ms=(\d+|n/a) rss_mb=\d+ directory_calls_per_run=(\d+|n/a)$`)
	if l := s.ScaleLine(); !scale.MatchString(l) {
		t.Errorf("scale line %q does not have the form scripts read (rss measured)", l)
	}
}
