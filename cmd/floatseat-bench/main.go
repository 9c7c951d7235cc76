// Command floatseat-bench measures what floatseat costs per request in the
// chain users run (internal/bench): nginx → floatseat → app against nginx
// → app, plus direct and bare-ReverseProxy rows, with a real redis-server.
// `make bench` runs it with the shipped binary; it reports and never fails
// on a number. It ends with the two summary lines scripts read.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/bench"
	"github.com/floatseat/floatseat/internal/testenv"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "scale" {
		if err := scaleMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "floatseat-bench scale:", err)
			os.Exit(1)
		}
		return
	}
	o := bench.Options{}
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each throughput run")
	flag.IntVar(&o.Conns, "connections", 32, "concurrent connections for the throughput runs")
	flag.IntVar(&o.Rate, "rate", 1000, "requests/s of the moderate-load latency runs")
	flag.IntVar(&o.Users, "users", 200, "distinct users (sessions) in the load")
	flag.IntVar(&o.ScaleUsers, "scale-users", 100000, "distinct sessions sent once each for the RSS figure (0 skips)")
	bin := flag.String("floatseat", "bin/floatseat", "the floatseat binary to measure (`make bench` builds it)")
	bare := flag.String("serve-bare", "", "LISTEN,UPSTREAM[,stdlib]: run only the bare ReverseProxy (the benchmark starts itself this way)")
	flag.Parse()
	if *bare != "" {
		parts := strings.Split(*bare, ",")
		if len(parts) < 2 {
			fmt.Fprintln(os.Stderr, "floatseat-bench: -serve-bare wants LISTEN,UPSTREAM[,stdlib]")
			os.Exit(2)
		}
		if err := bench.ServeBare(parts[0], parts[1], len(parts) > 2 && parts[2] == "stdlib"); err != nil {
			fmt.Fprintln(os.Stderr, "floatseat-bench:", err)
			os.Exit(1)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatseat-bench:", err)
		os.Exit(1)
	}
	o.Bare = func(listen, upstream string, stdlib bool) *exec.Cmd {
		arg := listen + "," + upstream
		if stdlib {
			arg += ",stdlib"
		}
		return exec.Command(self, "-serve-bare", arg)
	}
	if abs, err := filepath.Abs(*bin); err == nil {
		*bin = abs
	}
	if _, err := os.Stat(*bin); err != nil {
		fmt.Fprintf(os.Stderr, "floatseat-bench: %v: run `make bench` (it builds %s)\n", err, *bin)
		os.Exit(1)
	}
	o.Floatseat = func(args ...string) *exec.Cmd { return exec.Command(*bin, args...) }
	if p, err := exec.LookPath("wrk"); err == nil {
		o.Wrk = p
	} else {
		fmt.Fprintln(os.Stderr, "floatseat-bench: wrk not found (make bench installs it): using the Go load generator")
	}
	o.Scale = scaleChild // its own process: the RSS of one replica's state

	sc := testenv.NewScope()
	var sum bench.Summary
	var runErr error
	err = sc.Run(func(tb testenv.TB) { sum, runErr = bench.Run(tb, o, os.Stdout) })
	sc.Close()
	if err == nil {
		err = runErr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatseat-bench:", err)
		os.Exit(1)
	}
	fmt.Println()
	fmt.Println(sum.ChainLine())
	fmt.Println(sum.ScaleLine())
}
