// Package reaper takes seats away from idle users. It runs on one replica at
// a time (a Redis lock with a TTL and a fencing token), applies the pure
// policy of internal/seats to what Redis and the directory say, and revokes
// through the keeper, which records an intent before every directory change.
//
// It fails closed: without Redis, the directory, a fresh proxy heartbeat or
// the lock, it revokes nobody.
package reaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/floatseat/floatseat/internal/keeper"
	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/seats"
	"github.com/floatseat/floatseat/internal/store"
)

// Pool is one licence as the reaper needs it.
type Pool struct {
	Name          string
	LicenseGroups []string
	Reserve       int
}

// Virtual is the part of observe mode's virtual revoked set the reaper
// reads; *store.Store is one.
type Virtual interface {
	ObserveRevoked(ctx context.Context, pool string) (map[string]time.Time, error)
	ObserveNote(ctx context.Context, pool, figure string, n int) error
}

// Keeper performs revocations and reconciles.
type Keeper interface {
	Revoke(ctx context.Context, rq keeper.RevokeRequest) error
	// Reconcile calls allowed as it goes (renewing the reaper's lock) and
	// stops when it reports false.
	Reconcile(ctx context.Context, allowed func(context.Context) bool) error
}

// Options configure a Reaper.
type Options struct {
	Pools []Pool
	// Store is Redis; the reaper keeps it as its roles (store.go).
	Store Store
	// Members is the membership view shared with the keeper and the admin
	// read model (required): the pools' members and the one exclusion set.
	Members         *membership.View
	Keeper          Keeper
	Replica         string
	Interval        time.Duration
	LockTTL         time.Duration
	HeartbeatMaxAge time.Duration
	Floor, Ceiling  time.Duration
	MaxRevocations  int
	Observe         bool
	// Virtual is observe mode's virtual revoked set (keeper.Virtual):
	// with it, observe mode plans as if its would-revokes had happened.
	Virtual Virtual
	Clock   func() time.Time
	Log     *slog.Logger
	Reg     prometheus.Registerer
	// OnHeadroom reports a pool's headroom after each run (a gauge).
	OnHeadroom func(pool string, headroom int)
}

// Reaper is the revocation loop.
type Reaper struct {
	opt   Options
	roles // the store, by role: each step uses only its own

	runMu sync.Mutex // one run at a time in this process; guards lock
	lock  *store.Lock

	mu         sync.Mutex
	last       map[string]PoolReport
	lastRun    time.Time
	lastRunErr error

	// pressure: the last pressure revocation per pool (its window, when).
	pressure map[string]pressureMark

	runs     *prometheus.CounterVec
	lastOK   prometheus.Gauge
	window   *prometheus.GaugeVec
	licensed *prometheus.GaugeVec
	progress prometheus.Gauge
	duration prometheus.Histogram
}

// PoolReport is what the last run saw and did for one pool.
type PoolReport struct {
	Pool            string        `json:"pool"`
	Licensed        int           `json:"licensed"`
	Active          int           `json:"active"`
	Idle            int           `json:"idle"`
	Excluded        int           `json:"excluded"`
	Headroom        int           `json:"headroom"`
	EffectiveWindow time.Duration `json:"effective_window"`
	Revoked         []string      `json:"revoked"`
	Skipped         string        `json:"skipped,omitempty"`
	Users           []seats.User  `json:"-"`
	PoolState       seats.Pool    `json:"-"`
}

// ErrNoMembers: Options.Members is nil. Who holds a seat and who is
// excluded come only from the view shared with the keeper and the admin
// read model; a view of its own would drift from theirs.
var ErrNoMembers = errors.New("reaper: Options.Members (the shared membership view) is required")

// New returns a Reaper.
func New(opt Options) (*Reaper, error) {
	if opt.Members == nil {
		return nil, ErrNoMembers
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	f := promauto.With(opt.Reg)
	r := &Reaper{opt: opt, roles: rolesOf(opt.Store), last: map[string]PoolReport{}, pressure: map[string]pressureMark{}}
	r.runs = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "reaper_runs_total",
		Help: "Reaper runs by result: ok, skipped (not the lock holder, or a safety rail), error.",
	}, []string{"result"})
	r.lastOK = f.NewGauge(prometheus.GaugeOpts{
		Namespace: "floatseat", Name: "reaper_last_success_timestamp_seconds",
		Help: "When a reaper run last completed on this replica (Unix time).",
	})
	r.window = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "floatseat", Name: "effective_idle_window_seconds",
		Help: "The inactivity window in force: max_idle, or less under seat pressure (never below session_timeout).",
	}, []string{"pool"})
	r.licensed = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "floatseat", Name: "licensed_users",
		Help: "Users holding a licence group of the pool, by state: active (within the session timeout), idle, excluded.",
	}, []string{"pool", "state"})
	r.progress = f.NewGauge(prometheus.GaugeOpts{
		Namespace: "floatseat", Name: "reaper_progress_ratio",
		Help: "How far the current reaper run is through its pools (0–1).",
	})
	r.duration = f.NewHistogram(prometheus.HistogramOpts{
		Namespace: "floatseat", Name: "reaper_run_duration_seconds",
		Help:    "How long a reaper run took (lock held: reconcile, membership, policy and revocations).",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
	})
	return r, nil
}

// Run runs the reaper every Interval until ctx ends.
func (r *Reaper) Run(ctx context.Context) error {
	t := time.NewTicker(r.opt.Interval)
	defer t.Stop()
	defer func() {
		r.runMu.Lock()
		defer r.runMu.Unlock()
		if r.lock != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = r.lock.Release(rctx)
			cancel()
		}
	}()
	for {
		if err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.opt.Log.Warn("reaper run failed; nobody revoked this time", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SkippedStaleMembership is PoolReport.Skipped when the last membership
// refresh failed: revocations wait for a good one.
const SkippedStaleMembership = "membership view stale (last refresh failed)"

// errSkipped marks a run that did nothing by design.
var errSkipped = errors.New("skipped")

// RunOnce is one run: lock, safety rails, reconcile, then each pool.
func (r *Reaper) RunOnce(ctx context.Context) (err error) {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	defer func() {
		switch {
		case errors.Is(err, errSkipped):
			r.runs.WithLabelValues("skipped").Inc()
			err = nil
		case err != nil:
			r.runs.WithLabelValues("error").Inc()
		default:
			r.runs.WithLabelValues("ok").Inc()
			r.lastOK.Set(float64(r.opt.Clock().Unix()))
		}
		r.mu.Lock()
		r.lastRun, r.lastRunErr = r.opt.Clock(), err
		r.mu.Unlock()
	}()
	if !r.holdLock(ctx) {
		return errSkipped
	}
	began := time.Now()
	defer func() { r.duration.Observe(time.Since(began).Seconds()) }()
	now := r.opt.Clock()
	hb, err := r.beats.LastHeartbeat(ctx)
	if err != nil {
		return err
	}
	obs, err := r.beats.ObservedSince(ctx)
	if err != nil {
		return err
	}
	if obs.IsZero() {
		obs = now
	}
	alive := !hb.IsZero() && now.Sub(hb) <= r.opt.HeartbeatMaxAge
	if err := r.opt.Keeper.Reconcile(ctx, r.stillHeld); err != nil {
		r.opt.Log.Warn("reconcile incomplete; will retry next run", "err", err)
	}
	// A failed refresh keeps the last good view: the pools are still
	// judged and reported, but nobody is revoked on a stale view.
	if err := r.opt.Members.Ensure(ctx); err != nil {
		if _, ok := r.opt.Members.Members(); !ok {
			return fmt.Errorf("membership: %w", err)
		}
		r.opt.Log.Warn("membership refresh failed; keeping the last view and revoking nobody", "err", err)
	}
	fresh := r.opt.Members.Fresh()
	excluded := r.opt.Members.Excluded()
	var errs []error
	for i, p := range r.opt.Pools {
		r.progress.Set(float64(i) / float64(len(r.opt.Pools)))
		rep, err := r.runPool(ctx, now, p, obs, alive && fresh, excluded, fresh)
		if err != nil {
			errs = append(errs, fmt.Errorf("pool %s: %w", p.Name, err))
			continue
		}
		r.mu.Lock()
		r.last[p.Name] = rep
		r.mu.Unlock()
	}
	r.progress.Set(1)
	return errors.Join(errs...)
}

// RefreshExclusions forces the next run to re-read exclusions (reload).
func (r *Reaper) RefreshExclusions() { r.opt.Members.Invalidate() }

// SetWindow changes the floor (session_timeout) and ceiling (max_idle)
// from the next run on (reload).
func (r *Reaper) SetWindow(floor, ceiling time.Duration) {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	r.opt.Floor, r.opt.Ceiling = floor, ceiling
}

// Settings returns the window and the reserves in force.
func (r *Reaper) Settings() (floor, ceiling time.Duration, reserves map[string]int) {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	reserves = make(map[string]int, len(r.opt.Pools))
	for _, p := range r.opt.Pools {
		reserves[p.Name] = p.Reserve
	}
	return r.opt.Floor, r.opt.Ceiling, reserves
}

// SetReserve changes a pool's reserve from the next run on (reload); it
// reports whether the pool exists.
func (r *Reaper) SetReserve(pool string, reserve int) bool {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	for i := range r.opt.Pools {
		if r.opt.Pools[i].Name == pool {
			r.opt.Pools[i].Reserve = reserve
			return true
		}
	}
	return false
}

func (r *Reaper) holdLock(ctx context.Context) bool {
	if r.lock != nil {
		if held, err := r.lock.Held(ctx, r.opt.LockTTL); err == nil && held {
			return true
		}
		r.lock = nil
	}
	l, ok, err := r.locker.TryLock(ctx, "reaper", r.opt.Replica, r.opt.LockTTL)
	if err != nil || !ok {
		return false
	}
	r.lock = l
	r.opt.Log.Info("this replica runs the reaper", "fence", l.Fence)
	return true
}

func (r *Reaper) stillHeld(ctx context.Context) bool {
	if r.lock == nil {
		return false
	}
	held, err := r.lock.Held(ctx, r.opt.LockTTL)
	return err == nil && held
}

// Report returns what the last run saw, per pool, and when it ran.
func (r *Reaper) Report() (map[string]PoolReport, time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]PoolReport, len(r.last))
	for k, v := range r.last {
		out[k] = v
	}
	return out, r.lastRun, r.lastRunErr
}
