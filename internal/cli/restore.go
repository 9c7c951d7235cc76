package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/app"
	"github.com/floatseat/floatseat/internal/keeper"
)

// cmdRestore is `floatseat restore --config F [--dry-run] (--all | USER…)`.
func cmdRestore(args []string, stdout, stderr io.Writer) int {
	fs, path := configFlag("restore", args, stderr)
	all := fs.Bool("all", false, "every parked or recorded user")
	dry := fs.Bool("dry-run", false, "say who would get which groups back; change nothing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *all == (fs.NArg() > 0) {
		fmt.Fprintln(stderr, "usage: floatseat restore --config FILE [--dry-run] (--all | USER…)")
		return 2
	}
	cfg := loadConfig(*path, stderr)
	if cfg == nil {
		return 1
	}
	if cfg.Directory.Type == "" {
		fmt.Fprintln(stderr, "floatseat restore: no directory configured: nothing was revoked")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := app.Restore(ctx, cfg, NewLogger(cfg.Log, stderr), fs.Args(), *all, *dry)
	if err != nil {
		fmt.Fprintln(stderr, "floatseat restore:", err)
		return 1
	}
	return printRestore(rep, *dry, stdout, stderr)
}

// printRestore prints one line a user and a summary; 1 if any failed.
func printRestore(rep keeper.RestoreReport, dry bool, stdout, stderr io.Writer) int {
	if rep.RedisErr != nil {
		fmt.Fprintf(stderr, "warning: Redis is unavailable (%v): the parking groups alone said who to restore; records left in Redis are dropped by floatseat's reconcile once it sees the users licensed\n", rep.RedisErr)
	}
	verb, failed := "restored", 0
	if dry {
		verb = "would restore"
	}
	for _, r := range rep.Users {
		var parts []string
		for pool, gs := range r.Pools {
			parts = append(parts, pool+": "+strings.Join(gs, ","))
		}
		slices.Sort(parts)
		if r.Err != nil {
			failed++
			fmt.Fprintf(stdout, "%s: FAILED (%s): %v\n", r.User, strings.Join(parts, "; "), r.Err)
			continue
		}
		fmt.Fprintf(stdout, "%s: %s %s\n", r.User, verb, strings.Join(parts, "; "))
	}
	fmt.Fprintf(stdout, "%d users %s, %d failed (seat counts were not checked: the app may now count more users than before)\n",
		len(rep.Users)-failed, verb, failed)
	if failed > 0 {
		return 1
	}
	return 0
}
