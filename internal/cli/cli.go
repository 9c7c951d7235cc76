// Package cli is floatseat's command line: serve, check, noise test, the
// admin API client (status, users, audit, grant, revoke), the demo and the
// simulator. It parses flags, handles signals and calls internal/app; it
// holds no wiring of its own.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/floatseat/floatseat/internal/app"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/noise"
	"github.com/floatseat/floatseat/internal/store"
)

const usage = `floatseat — floating licences for Jira and Confluence Data Center

Usage:
  floatseat serve --config FILE           run the proxy, admin port and reaper
  floatseat check --config FILE           validate a configuration (every problem at once)
  floatseat noise test --config FILE METHOD PATH
                                          which noise rule matches a request, if any
  floatseat status|users|audit [--format table|json|csv] [--pool P] [--state S] [--since T]
  floatseat grant|revoke USER [--pool P]  talk to a running instance's admin API
                                          (--admin URL, --token-file F or FLOATSEAT_ADMIN_TOKEN)
  floatseat replay --config FILE [--log-format F] [--from T] [--to T] [--seats N,…]
                 [--format table|csv|json|html] FILE…
                                          what floating would have done over access logs
                                          (plain or gzip; '-' is stdin)
  floatseat restore --config FILE [--dry-run] (--all | USER…)
                                          give parked users their groups back (works
                                          with Redis empty or down)
  floatseat demo                          everything on this machine: embedded Redis,
                                          a Jira simulator and floatseat in front
  floatseat appsim [--product jira|confluence] [--listen ADDR] [--seats N] ...
                                          the Jira/Confluence simulator on its own
  floatseat version                       print the version

Signals (serve): SIGTERM/SIGINT drain and stop; SIGHUP reloads noise, exclusions, reserves and the window.
`

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "noise":
		return cmdNoise(rest, stdout, stderr)
	case "restore":
		return cmdRestore(rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "floatseat", app.Version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	if f, ok := commands[cmd]; ok {
		return f(rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "floatseat: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// commands are the subcommands beyond serve, check and noise: a new
// command is one line here.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"status": cmdClient("status"),
	"users":  cmdClient("users"),
	"audit":  cmdClient("audit"),
	"grant":  cmdClient("grant"),
	"revoke": cmdClient("revoke"),
	"demo":   cmdDemo,
	"appsim": cmdAppsim,
	"replay": replayCommand,
}

func configFlag(name string, args []string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	return fs, path
}

// loadConfig loads and prints problems; nil means the caller exits 1.
func loadConfig(path string, stderr io.Writer) *config.Config {
	if path == "" {
		fmt.Fprintln(stderr, "floatseat: --config FILE is required")
		return nil
	}
	cfg, warns, errs := config.Load(path)
	for _, w := range warns {
		fmt.Fprintln(stderr, "warning:", w)
	}
	for _, e := range errs {
		fmt.Fprintln(stderr, "error:", e)
	}
	if len(errs) > 0 {
		return nil
	}
	return cfg
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs, path := configFlag("check", args, stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := loadConfig(*path, stderr)
	if cfg == nil {
		return 1
	}
	errs := app.CheckComponents(cfg)
	if len(errs) == 0 {
		// Redis and the directory are reached independently: a problem
		// with one does not hide the other's.
		warn, err := store.CheckConfig(cfg.Redis)
		if warn != "" {
			fmt.Fprintln(stderr, "warning:", warn)
		}
		if err != nil {
			errs = append(errs, err)
		}
		if cfg.Directory.Type != "" {
			errs = append(errs, app.CheckParking(cfg, stdout)...)
		}
	}
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, "error:", e)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (product %s, mode %s, %d pools, directory %q)\n", *path, cfg.Product, cfg.Mode, len(cfg.Pools), cfg.Directory.Type)
	return 0
}

func cmdNoise(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, "usage: floatseat noise test --config FILE METHOD PATH")
		return 2
	}
	fs, path := configFlag("noise test", args[1:], stderr)
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return 2
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "usage: floatseat noise test --config FILE METHOD PATH")
		return 2
	}
	cfg := loadConfig(*path, stderr)
	if cfg == nil {
		return 1
	}
	set, errs := app.BuildNoise(cfg)
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, "error:", e)
		}
		return 1
	}
	fmt.Fprintln(stdout, noise.Explain(set, strings.ToUpper(pos[0]), pos[1]))
	return 0
}

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs, path := configFlag("serve", args, stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := loadConfig(*path, stderr)
	if cfg == nil {
		return 1
	}
	log := NewLogger(cfg.Log, stderr)
	if errs := app.CheckComponents(cfg); len(errs) > 0 {
		for _, e := range errs {
			log.Error("invalid configuration", "err", e)
		}
		return 1
	}
	a, err := app.New(cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reloadFrom(a, *path, log)
			}
		}
	}()
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped with error", "err", err)
		return 1
	}
	return 0
}

// reloadFrom re-reads the file; a bad file keeps the running configuration.
func reloadFrom(a *app.App, path string, log *slog.Logger) {
	cfg, warns, errs := config.Load(path)
	for _, w := range warns {
		log.Warn("configuration", "warning", w)
	}
	if len(errs) > 0 {
		for _, e := range errs {
			log.Error("reload rejected: keeping the running configuration", "err", e)
		}
		return
	}
	if err := a.Reload(cfg); err != nil {
		log.Error("reload rejected: keeping the running configuration", "err", err)
	}
}

// NewLogger builds the one logger passed everywhere.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
