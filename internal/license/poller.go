package license

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Clock is the time the poller needs: when a report was taken, and a ticker
// for the interval. Tests inject a fake; RealClock is the wall clock.
type Clock interface {
	Now() time.Time
	// NewTicker returns a channel ticking every d and a function stopping it.
	NewTicker(d time.Duration) (<-chan time.Time, func())
}

// RealClock is the wall clock.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// NewTicker implements Clock.
func (RealClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// NowClock reports the time of an injected clock (the app's accelerated
// one in end-to-end tests) and ticks in real time.
type NowClock func() time.Time

// Now implements Clock.
func (c NowClock) Now() time.Time { return c() }

// NewTicker implements Clock.
func (NowClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	return RealClock{}.NewTicker(d)
}

// Metrics are the seat gauges of every pool. The poller sets seats and
// usage; whoever computes headroom (the grant path, the reaper) sets it with
// SetHeadroom, so the three gauges live together.
type Metrics struct {
	seatsTotal  *prometheus.GaugeVec
	seatsUsed   *prometheus.GaugeVec
	headroom    *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
}

// NewMetrics registers the seat gauges on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		seatsTotal: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "floatseat", Name: "seats_total",
			Help: "Seats in the pool's licence, as the app last reported (+Inf when unlimited).",
		}, []string{"pool"}),
		seatsUsed: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "floatseat", Name: "seats_used",
			Help: "Seats the app counts as used, as it last reported.",
		}, []string{"pool"}),
		headroom: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "floatseat", Name: "seat_headroom",
			Help: "Seats a grant may still take: total - used - grants the app does not count yet (+Inf when unlimited).",
		}, []string{"pool"}),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "floatseat", Name: "license_refresh_last_success_timestamp_seconds",
			Help: "Unix time of the last licence count read from the app and stored.",
		}, []string{"pool"}),
	}
}

// unlimitedAt is the headroom from which SetHeadroom reports +Inf: the
// seats and store packages both report unlimited pools as math.MaxInt32.
const unlimitedAt = math.MaxInt32

// SetHeadroom sets floatseat_seat_headroom for pool; n ≥ math.MaxInt32 (what
// the seats and store packages report for an unlimited pool) exports +Inf.
func (m *Metrics) SetHeadroom(pool string, n int) {
	if m == nil {
		return
	}
	v := float64(n)
	if n >= unlimitedAt {
		v = math.Inf(1)
	}
	m.headroom.WithLabelValues(pool).Set(v)
}

func (m *Metrics) observe(pool string, c Count, at time.Time) {
	if m == nil {
		return
	}
	total := float64(c.Seats)
	if c.Unlimited {
		total = math.Inf(1)
	}
	m.seatsTotal.WithLabelValues(pool).Set(total)
	m.seatsUsed.WithLabelValues(pool).Set(float64(c.Used))
	m.lastSuccess.WithLabelValues(pool).Set(float64(at.UnixNano()) / 1e9)
}

// Sink receives each successful count; reportedAt is when the request to
// the app was sent, so grants made while it was in flight stay pending.
type Sink func(ctx context.Context, pool string, c Count, reportedAt time.Time) error

// Defaults of the poller.
const (
	DefaultInterval = 30 * time.Second
	// MaxAuthBackoff caps the pause after the app refused the service
	// account: every refused request is a failed login, and three make the
	// app ask for a CAPTCHA.
	MaxAuthBackoff = 15 * time.Minute
)

// Poller reads every pool's Source each Interval and hands the counts to
// Sink. One pool failing does not hold back the others.
type Poller struct {
	Sources  map[string]Source // by pool name
	Interval time.Duration     // zero means DefaultInterval
	// Timeout bounds one pool's Count, whatever the source does itself;
	// zero means DefaultTimeout.
	Timeout time.Duration
	Sink    Sink
	Clock   Clock        // nil means RealClock
	Metrics *Metrics     // nil: no metrics
	Logger  *slog.Logger // nil: slog.Default()

	mu      sync.Mutex
	backoff map[string]authBackoff
}

type authBackoff struct {
	failures int
	until    time.Time
}

func (p *Poller) clock() Clock {
	if p.Clock == nil {
		return RealClock{}
	}
	return p.Clock
}

func (p *Poller) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// Run polls at once, then every Interval, until ctx is done; it then returns
// nil. Poll errors are logged and retried at the next tick, never returned:
// a licence API that is down must not stop the proxy.
func (p *Poller) Run(ctx context.Context) error {
	if p.Sink == nil {
		return errors.New("license poller: no sink")
	}
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	tick, stop := p.clock().NewTicker(interval)
	defer stop()
	for {
		p.PollOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
	}
}

// PollOnce reads every pool once, concurrently, and returns the errors
// joined (nil when every pool succeeded or was backing off). Each pool's
// failure is also logged.
func (p *Poller) PollOnce(ctx context.Context) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for pool, src := range p.Sources {
		wg.Go(func() {
			if err := p.pollPool(ctx, pool, src); err != nil {
				p.logger().Warn("licence refresh failed", "pool", pool, "err", err)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *Poller) pollPool(ctx context.Context, pool string, src Source) error {
	now := p.clock().Now()
	p.mu.Lock()
	b := p.backoff[pool]
	p.mu.Unlock()
	if now.Before(b.until) {
		return nil
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	c, err := src.Count(cctx)
	cancel()
	p.noteAuth(pool, now, err)
	if err != nil {
		return fmt.Errorf("licence of %s: %w", pool, err)
	}
	if err := p.Sink(ctx, pool, c, now); err != nil {
		return fmt.Errorf("licence of %s: store: %w", pool, err)
	}
	p.Metrics.observe(pool, c, p.clock().Now())
	return nil
}

// noteAuth doubles the pause after each refusal of the service account
// (Interval, 2×, 4× … up to MaxAuthBackoff) and clears it on any other
// outcome.
func (p *Poller) noteAuth(pool string, now time.Time, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !errors.Is(err, ErrUnauthorized) {
		delete(p.backoff, pool)
		return
	}
	if p.backoff == nil {
		p.backoff = map[string]authBackoff{}
	}
	b := p.backoff[pool]
	b.failures++
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	pause := MaxAuthBackoff
	if b.failures < 20 {
		pause = min(interval<<(b.failures-1), MaxAuthBackoff)
	}
	b.until = now.Add(pause)
	p.backoff[pool] = b
}
