package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/floatseat/floatseat/internal/app"
	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/store"
)

// demoUsers: five seats, seven people. alice works, bob only has a JSM queue
// tab polling, carol and dave went home; erin and frank are in the pool
// group and have no seat yet.
var demoUsers = []struct {
	name, groups, doing string
}{
	{"alice", "jira-software-users", "works every 20 s (real activity)"},
	{"bob", "jira-software-users,jira-servicedesk-users", "only a JSM queue tab polling every 10 s (noise)"},
	{"carol", "jira-software-users", "went home"},
	{"dave", "jira-software-users", "went home"},
	{"erin", "jira-users", "no seat yet (pool group)"},
	{"frank", "jira-users", "no seat yet (pool group)"},
	{"admin", "jira-software-users,jira-administrators", "administrator: never revoked"},
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "proxy address (a free port is used if taken)")
	adminListen := fs.String("admin", "127.0.0.1:9090", "admin address (a free port is used if taken)")
	runFor := fs.Duration("for", 0, "stop after this long (0: until Ctrl-C)")
	verbose := fs.Bool("v", false, "log floatseat's decisions")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}
	lvl := slog.LevelWarn
	if *verbose {
		lvl = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	if err := runDemo(ctx, *listen, *adminListen, selfCommand(), stdout, log); err != nil {
		fmt.Fprintln(stderr, "floatseat demo:", err)
		return 1
	}
	return 0
}

// selfCommand is how the printed commands call this very binary: its path,
// so they work exactly as printed while the demo runs (also under go run).
func selfCommand() string {
	p, err := os.Executable()
	if err != nil {
		return "floatseat"
	}
	if strings.ContainsAny(p, " '\"$") {
		return strconv.Quote(p)
	}
	return p
}

func freeOr(addr string) string {
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
		return addr
	}
	return "127.0.0.1:0"
}

func runDemo(ctx context.Context, listen, adminListen, self string, out io.Writer, log *slog.Logger) error {
	// The store: an embedded Redis speaking the real protocol, so floatseat
	// runs exactly as in production, in enforce mode.
	mr, err := store.StartEmbedded()
	if err != nil {
		return err
	}
	defer mr.Close()
	appAddr, stopApp, err := startDemoJira(ctx)
	if err != nil {
		return err
	}
	defer stopApp()
	cfg, err := demoConfig(freeOr(listen), appAddr, freeOr(adminListen), mr.Addr())
	if err != nil {
		return err
	}
	// The directory is the simulated Jira's own, changed through its REST
	// group API (directory.type: jira), as floatseat does in front of a real
	// Jira with an internal or read/write directory: the app sees a change
	// at once.
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	proxyURL, adminURL := "http://"+a.ProxyAddr(), "http://"+a.AdminAddr()
	go demoTraffic(ctx, proxyURL)

	printDemoGuide(out, proxyURL, adminURL, self)
	return <-done
}

// startDemoJira serves the Jira simulator with five seats in each of Jira
// Software and JSM, and the demo's users and groups, on a free loopback
// port; stop closes it.
func startDemoJira(ctx context.Context) (addr net.Addr, stop func() error, err error) {
	sim := appsim.New(appsim.Config{
		Product: "jira", SessionTimeout: 2 * time.Minute, UpdateGroupsAtLogin: appsim.UpdateEvery,
		SyncInterval: 30 * time.Second, AdminUsers: []string{"svc", "admin"}, UnlicensedSessionForbidden: true,
		Roles: []appsim.Role{
			{Key: "jira-software", Groups: []string{"jira-software-users"}, Seats: 5},
			{Key: "jira-servicedesk", Groups: []string{"jira-servicedesk-users"}, Seats: 5},
		},
		Groups: []string{"jira-users", "jira-administrators"},
	})
	dir := sim.InternalDirectory()
	for _, g := range []string{"jira-software-users", "jira-servicedesk-users", "jira-users", "jira-administrators"} {
		dir.AddGroup(g)
	}
	dir.AddUser("svc", "svc")
	for _, u := range demoUsers {
		dir.AddUser(u.name, u.name)
		for _, g := range strings.Split(u.groups, ",") {
			_ = dir.AddMember(ctx, u.name, g)
		}
	}
	if err := sim.SyncNow(ctx); err != nil {
		return nil, nil, err
	}
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	appSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go appSrv.Serve(appLn)
	go sim.Run(ctx)
	return appLn.Addr(), appSrv.Close, nil
}

// demoConfig is the demo's floatseat: enforce mode in front of the
// simulated Jira at appAddr, with short windows so a seat floats in
// minutes.
func demoConfig(listen string, appAddr net.Addr, adminListen, redisAddr string) (*config.Config, error) {
	yaml := fmt.Sprintf(`
product: jira
listen: %q
upstream: "http://%s"
mode: enforce
session_timeout: 2m
max_idle: 10m
admin: {listen: %q}
redis: {addr: %q, key_prefix: "floatseat:demo"}
activity: {resolution: 5s, heartbeat_interval: 5s}
app: {user: svc}
pools:
  - {name: jira-software, license_groups: [jira-software-users], pool_groups: [jira-users], application_role: jira-software, reserve: 1, refresh_interval: 5s}
  - {name: jsm, license_groups: [jira-servicedesk-users], application_role: jira-servicedesk, reserve: 0, refresh_interval: 5s}
exclude: {groups: [jira-administrators]}
directory: {type: jira, visibility_margin: 5s}
reaper: {interval: 15s, heartbeat_max_age: 30s}
`, listen, appAddr, adminListen, redisAddr)
	cfg, _, errs := config.Parse([]byte(yaml), "", func(k string) string {
		return map[string]string{"FLOATSEAT_APP_PASSWORD": "svc", "FLOATSEAT_ADMIN_TOKEN": "demo"}[k]
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// printDemoGuide tells who the demo's users are and what to try.
func printDemoGuide(out io.Writer, proxyURL, adminURL, self string) {
	fmt.Fprintf(out, `
floatseat demo — seats float between seven people and five Jira Software seats.

  Jira (through floatseat):  %[1]s/login.jsp
  status page:               %[2]s/
  metrics:                   %[2]s/metrics
  admin token:               demo

  users (password = name)
`, proxyURL, adminURL)
	for _, u := range demoUsers {
		fmt.Fprintf(out, "    %-6s %s\n", u.name, u.doing)
	}
	fmt.Fprintf(out, `
  session timeout (floor) 2 min, max idle (ceiling) 10 min, reserve 1 seat.
  directory: the simulated Jira's own, changed through its REST group API
  (directory.type: jira), so the app sees each change at once.

Three things to try:
  1. Log in as erin at %[1]s/login.jsp right away: every seat is held by
     someone active within the session timeout, so you get the "all seats are
     in use" page with a retry time. Nothing reached Jira: no failed login.
  2. Watch %[2]s/ for about three minutes: carol, dave and bob (his
     tab only polls) pass the 2-minute floor, and the reaper frees a seat to
     keep one in reserve (the JSM pool keeps none: its reserve is 0). Log in
     as erin again: she gets the freed seat, and the reaper frees the next
     one. By 10 minutes (the ceiling) everyone idle is revoked.
  3. Ask why:  %[3]s users --admin %[2]s
               %[3]s audit --admin %[2]s
     and hand a seat back by hand:
               FLOATSEAT_ADMIN_TOKEN=demo %[3]s grant carol --admin %[2]s

Ctrl-C stops everything; nothing is left behind.
`, proxyURL, adminURL, self)
}

// demoTraffic plays alice (working) and bob (a polling JSM tab).
func demoTraffic(ctx context.Context, base string) {
	alice := appsim.NewBrowser(base, "alice", "alice", "jira")
	bob := appsim.NewBrowser(base, "bob", "bob", "jira")
	_, _ = alice.Login(ctx, false)
	_, _ = bob.Login(ctx, false)
	_, _ = bob.Get(ctx, "/browse/SD-1")
	work := time.NewTicker(20 * time.Second)
	poll := time.NewTicker(10 * time.Second)
	defer work.Stop()
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-work.C:
			if res, _ := alice.ViewIssue(ctx, "DEMO-1"); res.User != "alice" {
				_, _ = alice.Login(ctx, false)
			}
		case <-poll.C:
			_, _ = bob.Get(ctx, "/rest/servicedesk/1/servicedesk/SD/queues/poll")
		}
	}
}
