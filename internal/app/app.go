// Package app wires floatseat together: it is the one place that knows every
// package. cmd/floatseat calls it, and tests start a whole floatseat
// in-process through it.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/floatseat/floatseat/internal/activity"
	"github.com/floatseat/floatseat/internal/admin"
	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/poolwork"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/proxy"
)

// Version is set at build time (-ldflags -X).
var Version = "dev"

// App is one running floatseat: proxy, admin port and background loops.
type App struct {
	running runningConfig
	log     *slog.Logger
	reg     *prometheus.Registry
	replica string

	store *store.Store

	noise    *noiseFilter
	who      *who
	recorder *activity.Recorder
	work     *poolwork.Rules
	audit    *audit.Log
	seats    *seatParts // nil without a directory
	proxy    *proxy.Proxy
	admin    *admin.Server
	model    *admin.Model

	clock            func() time.Time
	directory        directory.Directory // WithDirectory: used instead of directory.type's backend
	immediate        bool
	proxyLn, adminLn net.Listener
	cleanups         cleanups   // what New acquired; released by Run's end or New's error
	mu               sync.Mutex // serialises Reload
}

// runningConfig is the one copy of the configuration in force: New stores
// the file's, and Reload swaps in a new copy. Nothing else keeps one, so the
// App's loops and the admin read model (which reads it through Config)
// cannot disagree after a reload. A published copy is never edited in
// place: they read it concurrently.
type runningConfig struct{ p atomic.Pointer[config.Config] }

var _ admin.Running = (*runningConfig)(nil)

// Config is the configuration in force now.
func (r *runningConfig) Config() *config.Config { return r.p.Load() }

// cfg is the configuration in force now. Read it once per decision: a
// reload may swap it between two reads (restart-only keys never change).
func (a *App) cfg() *config.Config { return a.running.Config() }

// Option changes how New builds an App.
type Option func(*App)

// WithClock makes every time-based decision (activity, heartbeats, the
// reaper, grants, audit) use clock: end-to-end tests accelerate time.
func WithClock(clock func() time.Time) Option { return func(a *App) { a.clock = clock } }

// WithDirectory makes the seat engine use d instead of opening the backend
// of directory.type (which must still be set); immediate says whether a
// change in d reaches the app at once (app REST) or only at a password
// login or the app's next directory sync (Crowd, LDAP). The demo and tests
// put the simulator's directory in this way.
func WithDirectory(d directory.Directory, immediate bool) Option {
	return func(a *App) { a.directory, a.immediate = d, immediate }
}

// WithRegistry makes the App register its metrics on reg instead of a
// registry of its own (tests instrument an injected directory on it).
func WithRegistry(reg *prometheus.Registry) Option { return func(a *App) { a.reg = reg } }

// New builds every part and binds both listeners, so that ":0" works in
// tests and addresses are known before Run. On an error it releases what
// it had acquired.
func New(cfg *config.Config, log *slog.Logger, opts ...Option) (_ *App, err error) {
	a := &App{log: log, reg: prometheus.NewRegistry(), replica: replicaID(), clock: time.Now}
	a.running.p.Store(cfg)
	for _, o := range opts {
		o(a)
	}
	defer func() {
		if err != nil {
			_ = a.cleanups.run()
		}
	}()
	a.registerProcessMetrics(cfg)
	if err := a.openStore(); err != nil {
		return nil, err
	}
	upstream, err := url.Parse(cfg.Upstream)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	if err := a.buildRequestParts(cfg); err != nil {
		return nil, err
	}
	a.audit = audit.New(a.store, log, 100000, a.replica, cfg.Mode).WithClock(a.clock)
	if a.seats, err = a.buildSeats(a.audit); err != nil {
		return nil, err
	}
	a.configureSAML(cfg)
	a.proxy = a.buildProxy(cfg, upstream)
	a.admin = admin.New(admin.Options{
		Gatherer: a.reg,
		Checks: map[string]admin.Check{
			"redis":    a.store.Ping,
			"upstream": admin.DialCheck(upstream),
		},
		ReadProtected: cfg.Admin.BeyondLoopback(),
		ReadToken:     cfg.Admin.ReadToken.Reveal(),
		AdminToken:    cfg.Admin.Token.Reveal(),
	})
	if err := a.mountAPI(); err != nil {
		return nil, err
	}
	if err := a.listen(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// registerProcessMetrics adds the Go runtime, the process and build_info
// to the App's registry.
func (a *App) registerProcessMetrics(cfg *config.Config) {
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "floatseat", Name: "build_info", Help: "Always 1; labels say what runs.",
		ConstLabels: prometheus.Labels{"version": Version, "product": cfg.Product, "mode": cfg.Mode},
	}, func() float64 { return 1 }))
}

// buildRequestParts builds what the request path consults besides the
// seats: the noise rules, who a request is, which pools it is the work
// of, and the activity recorder.
func (a *App) buildRequestParts(cfg *config.Config) (err error) {
	if a.noise, err = newNoiseFilter(cfg, a.reg); err != nil {
		return err
	}
	if a.who, err = newWho(cfg, a.store, a.reg, a.log, a.clock); err != nil {
		return err
	}
	if a.work, err = newPoolWork(cfg, a.reg); err != nil {
		return err
	}
	a.recorder = activity.New(a.store, activity.Options{
		Resolution:    cfg.Activity.Resolution,
		QueueSize:     cfg.Activity.QueueSize,
		FlushInterval: cfg.Activity.FlushInterval,
		WriteTimeout:  4 * cfg.Redis.Timeout,
		Clock:         a.clock,
		PoolNames:     a.work.Names,
	}, a.reg, a.log)
	return nil
}

// configureSAML sets the SAML attribute that names the user, and, with
// sso.saml_username_is_email, maps an e-mail to the username through the
// directory where the backend can look users up by e-mail.
func (a *App) configureSAML(cfg *config.Config) {
	a.who.SAML.UsernameAttribute = cfg.SSO.SAMLUsernameAttribute
	if !cfg.SSO.SAMLUsernameIsEmail {
		return
	}
	if el, ok := directory.AsEmailLookup(a.seatsDir()); ok {
		a.who.SAML.Emails = identity.NewEmailMapper(el, cfg.Directory.Timeout, a.log)
	} else {
		a.log.Warn("sso.saml_username_is_email is set but the directory backend cannot look users up by e-mail: SAML logins are learned from the app's answer only",
			"directory", cfg.Directory.Type)
	}
}

// buildProxy builds the request path over the parts New built.
func (a *App) buildProxy(cfg *config.Config, upstream *url.URL) *proxy.Proxy {
	var seats proxy.Seats // a nil *keeper.Keeper must stay a nil interface
	if a.seats != nil {
		seats = a.seats.keeper
	}
	trusted := make([]netip.Prefix, 0, len(cfg.TrustedProxies))
	for _, s := range cfg.TrustedProxies {
		p, _ := config.ParsePrefix(s) // validated by config
		trusted = append(trusted, p)
	}
	var hints proxy.Hints // a nil *identity.Hints must stay a nil interface
	if cfg.SSO.HintEnabled() {
		h := identity.NewHints(a.who.hasher, cfg.SSO.HintTTL, cfg.Proxy.ContextPath, a.clock)
		hints, a.who.Hints = h, h
	}
	var seatPage *proxy.SeatPage
	if hints != nil && cfg.SSO.SeatPageEnabled() {
		seatPage = &proxy.SeatPage{LoginPath: cfg.SSO.LoginPath}
	}
	tr := proxy.Transport(cfg.Proxy.ResponseHeaderTimeout, cfg.Proxy.MaxIdleConnsPerHost)
	if ci, ok := tr.(interface{ CloseIdleConnections() }); ok {
		// Run's end closes the keep-alive connections to the app (and so
		// ends the upstream client's watchdog), not their idle timeout.
		a.cleanups.push(func() error { ci.CloseIdleConnections(); return nil })
	}
	return proxy.New(proxy.Options{
		Upstream:       upstream,
		TrustedProxies: trusted,
		Transport:      tr,
		ContextPath:    cfg.Proxy.ContextPath,
		Who:            a.who,
		Noise:          a.noise,
		Activity:       a.recorder,
		Work:           a.work,
		Seats:          seats,
		Hints:          hints,
		SeatPage:       seatPage,
		Metrics:        proxy.NewMetrics(a.reg),
		Log:            a.log,

		Product:          cfg.Product,
		LoginBodyTimeout: cfg.Proxy.LoginBodyTimeout,
	})
}

// listen binds both listeners, so that ":0" works in tests and addresses
// are known before Run; the App closes them at the end.
func (a *App) listen(cfg *config.Config) (err error) {
	if a.proxyLn, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	a.cleanups.push(a.proxyLn.Close)
	if a.adminLn, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
		return fmt.Errorf("admin listen %s: %w", cfg.Admin.Listen, err)
	}
	a.cleanups.push(a.adminLn.Close)
	return nil
}

// seatsDir is the seat engine's directory, nil without one.
func (a *App) seatsDir() directory.Directory {
	if a.seats == nil {
		return nil
	}
	return a.seats.dir
}

// ProxyAddr is where the proxy listens.
func (a *App) ProxyAddr() string { return a.proxyLn.Addr().String() }

// AdminAddr is where the admin port listens.
func (a *App) AdminAddr() string { return a.adminLn.Addr().String() }

// Registry exposes the metrics registry (tests read it).
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Store exposes the Redis store (tests and tools read it).
func (a *App) Store() *store.Store { return a.store }

// Run serves until ctx ends, then drains in-flight requests for up to
// proxy.shutdown_timeout and stops every loop it started.
func (a *App) Run(ctx context.Context) error {
	defer func() {
		if err := a.cleanups.run(); err != nil {
			a.log.Warn("releasing resources at shutdown", "err", err)
		}
	}()
	cfg := a.cfg() // restart-only keys: a reload cannot change them
	srv := &http.Server{
		Handler:           a.proxy,
		ReadHeaderTimeout: cfg.Proxy.ReadHeaderTimeout,
		IdleTimeout:       cfg.Proxy.IdleTimeout,
		// No WriteTimeout: downloads of large attachments may take long,
		// and a blanket write timeout would cut them.
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	adm := &http.Server{Handler: a.admin, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}

	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	goRun := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(loopCtx); err != nil {
				a.log.Error("background loop stopped", "loop", name, "err", err)
			}
		}()
	}
	goRun("activity", a.recorder.Run)
	goRun("identity", a.who.Run)
	goRun("heartbeat", a.heartbeat)
	goRun("projects", a.refreshProjects)
	if a.seats != nil {
		goRun("licence", a.seats.poller.Run)
		goRun("keeper", a.seats.keeper.Run)
		goRun("reaper", a.seats.reaper.Run)
	}

	go func() { errc <- srv.Serve(a.proxyLn) }()
	go func() { errc <- adm.Serve(a.adminLn) }()
	a.log.Info("floatseat serving", "proxy", a.ProxyAddr(), "admin", a.AdminAddr(),
		"upstream", cfg.Upstream, "mode", cfg.Mode, "replica", a.replica, "version", Version)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		a.log.Error("server stopped", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Proxy.ShutdownTimeout)
	defer cancel()
	a.log.Info("shutting down: draining in-flight requests", "deadline", cfg.Proxy.ShutdownTimeout)
	if serr := srv.Shutdown(sctx); serr != nil {
		a.log.Warn("proxy did not drain in time", "err", serr)
	}
	_ = adm.Shutdown(sctx)
	stopLoops()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// ReapNow runs the reaper once, now, on this replica (if it can take the
// lock). Tests and the demo use it; in service the reaper runs on its own.
func (a *App) ReapNow(ctx context.Context) error {
	if a.seats == nil {
		return errors.New("no directory configured: nothing to reap")
	}
	return a.seats.reaper.RunOnce(ctx)
}

// Reload applies a new configuration to the running floatseat: the noise
// rules, the exclusions (their membership re-read), the pools' reserve and
// the window (session_timeout, max_idle), the claim limits (proxy.claims).
// When the new file changes any other key, Reload refuses the whole file,
// naming the keys that need a restart, and changes nothing.
func (a *App) Reload(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	next, changed, err := config.Reloaded(a.cfg(), cfg)
	if err != nil {
		return err
	}
	if err := a.noise.reload(next); err != nil {
		return err
	}
	if a.seats != nil {
		a.seats.members.SetExclusions(membership.Exclusions{Groups: next.Exclude.Groups, Users: next.Exclude.Users,
			ServiceAccount: next.App.User})
		a.seats.reaper.SetWindow(next.SessionTimeout, next.MaxIdle)
		a.seats.keeper.SetFloor(next.SessionTimeout)
		a.seats.keeper.SetClaimLimits(claimLimits(next))
		for _, p := range next.Pools {
			a.seats.reaper.SetReserve(p.Name, p.Reserve)
		}
		a.seats.reaper.RefreshExclusions()
	}
	// What is in force (status page, API, Run's loops) is the new copy.
	a.running.p.Store(next)
	a.log.Info("configuration reloaded", "changed", strings.Join(changed, ","), "noise_rules", a.noise.count())
	return nil
}

// heartbeat tells the reaper (on any replica) that traffic flows through
// floatseat; without it the reaper revokes nobody.
func (a *App) heartbeat(ctx context.Context) error {
	// Read once: a reload cannot change the interval, the pools' names or
	// the Redis timeout.
	cfg := a.cfg()
	t := time.NewTicker(cfg.Activity.HeartbeatInterval)
	defer t.Stop()
	pools := poolNames(cfg)
	for {
		hctx, cancel := context.WithTimeout(ctx, 2*cfg.Redis.Timeout)
		if err := a.store.Heartbeat(hctx, a.replica, a.clock(), pools...); err != nil {
			a.log.Warn("heartbeat failed", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (a *App) openStore() error {
	cfg := a.cfg()
	st, err := store.Open(cfg.Redis, store.Options{Metrics: store.NewMetrics(a.reg), Log: a.log})
	if err != nil {
		return err
	}
	if cfg.Redis.Embedded() {
		a.log.Warn("using the embedded in-process store: nothing survives a restart and replicas share nothing; mode is observe", "reason", cfg.ModeForced)
	}
	a.store = st
	a.cleanups.push(st.Close)
	return nil
}

// replicaID names this process in heartbeats and audit events:
// FLOATSEAT_REPLICA if set (a pod name), else host name plus a random suffix.
func replicaID() string {
	if r := os.Getenv("FLOATSEAT_REPLICA"); r != "" {
		return r
	}
	h, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return h + "/" + hex.EncodeToString(b)
}
