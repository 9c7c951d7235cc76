// Command floatseat-loggen writes realistic, deterministic Jira (or
// Confluence, or nginx) access logs to try `floatseat replay` on, as its
// tests and benchmark do (see docs/replay.md).
//
//	floatseat-loggen --users 2000 --days 30 --out logs/
//	floatseat-loggen --users 50 --days 1 | floatseat replay --config c.yaml -
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/floatseat/floatseat/internal/accesslog"
	"github.com/floatseat/floatseat/internal/accesslog/loggen"
)

func main() {
	users := flag.Int("users", 200, "number of users")
	days := flag.Int("days", 7, "number of days")
	seed := flag.Uint64("seed", 1, "random seed: the same flags give the same logs")
	start := flag.String("start", "2026-03-02", "first day (YYYY-MM-DD)")
	format := flag.String("format", "jira", "jira, confluence, confluence-docker or nginx")
	out := flag.String("out", "", "directory for one file a day (access_log.YYYY-MM-DD); empty: everything to stdout")
	flag.Parse()
	f, err := accesslog.ParseFormat(*format)
	if err != nil || f == accesslog.Auto {
		fmt.Fprintln(os.Stderr, "floatseat-loggen: --format: want jira, confluence, confluence-docker or nginx")
		os.Exit(2)
	}
	zone := time.FixedZone("", 3600)
	day, err := time.ParseInLocation("2006-01-02", *start, zone)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatseat-loggen: --start:", err)
		os.Exit(2)
	}
	opt := loggen.Options{Users: *users, Days: *days, Start: day, Zone: zone, Seed: *seed, Format: f}
	var st loggen.Stats
	if *out == "" {
		for d := 0; d < *days; d++ {
			s, err := loggen.Day(opt, d, os.Stdout)
			if err != nil {
				fmt.Fprintln(os.Stderr, "floatseat-loggen:", err)
				os.Exit(1)
			}
			st.Add(s)
		}
	} else {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "floatseat-loggen:", err)
			os.Exit(1)
		}
		var err error
		if _, st, err = loggen.Write(opt, *out); err != nil {
			fmt.Fprintln(os.Stderr, "floatseat-loggen:", err)
			os.Exit(1)
		}
	}
	fmt.Fprintf(os.Stderr, "floatseat-loggen: %d lines (%d work, %d noise and static, %d anonymous)\n",
		st.Lines, st.Activity, st.Noise, st.Anonymous)
}
