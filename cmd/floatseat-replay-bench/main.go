// Command floatseat-replay-bench measures `floatseat replay` on a generated
// month (internal/accesslog/loggen): by default 2,000 users over 30 days,
// about 19 million Jira access log lines, generated once into a cache
// directory. It prints the parser's lines/s on one core, then runs the
// real command (a child process: the default sizing sweep, two passes) and
// prints its wall time, CPU time and peak RSS, with the figures replay
// gave. `make bench` runs it; it reports and never fails on a number.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/floatseat/floatseat/internal/accesslog"
	"github.com/floatseat/floatseat/internal/accesslog/loggen"
	"github.com/floatseat/floatseat/internal/cli"
)

type options struct {
	users, days int
	dir         string
	floatseat   string // binary to run; empty: this program re-executed
	inProcess   bool   // tests: run replay in this process (no RSS figure)
}

func main() {
	var o options
	flag.IntVar(&o.users, "users", 2000, "users in the generated log")
	flag.IntVar(&o.days, "days", 30, "days in the generated log")
	flag.StringVar(&o.dir, "dir", "", "where the generated log is kept between runs (default: under $TMPDIR)")
	flag.StringVar(&o.floatseat, "floatseat", "", "the floatseat binary to run replay with (default: this program)")
	child := flag.Bool("child-replay", false, "internal: run `floatseat replay` with the remaining arguments")
	flag.Parse()
	if *child {
		os.Exit(cli.Main(append([]string{"replay"}, flag.Args()...), os.Stdout, os.Stderr))
	}
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "floatseat-replay-bench:", err)
		os.Exit(1)
	}
}

const config = `product: jira
session_timeout: 5h
max_idle: 168h
pools:
  - name: jira-software
    license_groups: [jira-software-users]
    seats: %d
    reserve: 5
`

func run(o options, out io.Writer) error {
	if o.dir == "" {
		o.dir = filepath.Join(os.TempDir(), fmt.Sprintf("floatseat-replay-bench-%dx%d", o.users, o.days))
	}
	gen := loggen.Options{Users: o.users, Days: o.days, Seed: 1}
	files, err := ensureLogs(gen, o.dir, out)
	if err != nil {
		return err
	}

	// The parser alone, on one core.
	runtime.GOMAXPROCS(1)
	var lines, size int64
	cpu0 := cpuTime()
	start := time.Now()
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		st, _ := fh.Stat()
		size += st.Size()
		r := accesslog.NewReader(f, fh, accesslog.Jira)
		for r.Next() {
		}
		lines += r.Lines()
		_ = fh.Close()
		if r.Err() != nil {
			return r.Err()
		}
	}
	parseWall, parseCPU := time.Since(start), cpuTime()-cpu0
	runtime.GOMAXPROCS(0)
	fmt.Fprintf(out, "log: %d users, %d days, %d lines, %.1f GB\n", o.users, o.days, lines, float64(size)/1e9)
	fmt.Fprintf(out, "parse (1 core): %.2f M lines/s of CPU, %.2f M lines/s wall (target ≥ 1 M/s per core)\n",
		float64(lines)/parseCPU.Seconds()/1e6, float64(lines)/parseWall.Seconds()/1e6)

	// The real command: default sweep, so two passes over the month.
	cfg := filepath.Join(o.dir, "floatseat.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(config, o.users*7/10)), 0o600); err != nil {
		return err
	}
	args := append([]string{"--config", cfg, "--format", "json"}, files...)
	var stdout, stderr bytes.Buffer
	var wall, cpu time.Duration
	var rssKB int64
	if o.inProcess {
		cpu0 := cpuTime()
		start := time.Now()
		if code := cli.Main(append([]string{"replay"}, args...), &stdout, &stderr); code != 0 {
			return fmt.Errorf("replay exit %d: %s", code, stderr.String())
		}
		wall, cpu = time.Since(start), cpuTime()-cpu0
	} else {
		bin, pre := o.floatseat, []string{"replay"}
		if bin == "" {
			bin, _ = os.Executable()
			pre = []string{"-child-replay", "--"}
		}
		cmd := exec.Command(bin, append(pre, args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("replay: %v: %s", err, stderr.String())
		}
		wall = time.Since(start)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rssKB = ru.Maxrss
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	var res struct {
		Lines int64 `json:"lines"`
		Pools []struct {
			Name           string `json:"name"`
			Users          int    `json:"users"`
			PeakFloorSeats int    `json:"peak_floor_seats"`
			PeakSeats      int    `json:"peak_seats"`
			Seats          int    `json:"seats"`
			Grants         int    `json:"grants"`
			Revocations    int    `json:"revocations"`
			Denials        int    `json:"denials"`
		} `json:"pools"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return fmt.Errorf("replay output: %v", err)
	}
	fmt.Fprintf(out, "replay (default sweep, 2 passes): %.1f s wall, %.1f s CPU, %.2f M lines/s wall (target: under 60 s on 2 cores)\n",
		wall.Seconds(), cpu.Seconds(), float64(2*res.Lines)/wall.Seconds()/1e6)
	if rssKB > 0 {
		fmt.Fprintf(out, "replay peak RSS: %.0f MB (target under 200 MB)\n", float64(rssKB)/1024)
	}
	for _, p := range res.Pools {
		fmt.Fprintf(out, "replay figures, pool %s at %d seats: users %d, peak_floor_seats %d, peak_seats %d, grants %d, revocations %d, denials %d\n",
			p.Name, p.Seats, p.Users, p.PeakFloorSeats, p.PeakSeats, p.Grants, p.Revocations, p.Denials)
	}
	return nil
}

// ensureLogs generates the log unless a complete one is already in dir.
func ensureLogs(gen loggen.Options, dir string, out io.Writer) ([]string, error) {
	done := filepath.Join(dir, "complete")
	var files []string
	for d := 0; d < gen.Days; d++ {
		files = append(files, filepath.Join(dir, loggen.FileName(gen, d)))
	}
	if _, err := os.Stat(done); err == nil {
		return files, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "generating %d days of %d users into %s (once)…\n", gen.Days, gen.Users, dir)
	if _, _, err := loggen.Write(gen, dir); err != nil {
		return nil, err
	}
	return files, os.WriteFile(done, nil, 0o644)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
