package license

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeClock is set by hand; its ticker fires when the test sends on tick.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	tick chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), tick: make(chan time.Time)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) NewTicker(time.Duration) (<-chan time.Time, func()) { return c.tick, func() {} }

// fakeSource returns its fields and counts its calls.
type fakeSource struct {
	mu    sync.Mutex
	count Count
	err   error
	calls int
}

func (f *fakeSource) Count(context.Context) (Count, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.count, f.err
}

func (f *fakeSource) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

type report struct {
	pool string
	c    Count
	at   time.Time
}

type recorder struct {
	mu      sync.Mutex
	reports []report
	err     error
}

func (r *recorder) sink(_ context.Context, pool string, c Count, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.reports = append(r.reports, report{pool, c, at})
	return nil
}

func (r *recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reports)
}

func TestPollOnce(t *testing.T) {
	clk := newFakeClock()
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	rec := &recorder{}
	jsw := &fakeSource{count: Count{Seats: 2000, Used: 1990}}
	conf := &fakeSource{count: Count{Unlimited: true, Used: 9000}}
	broken := &fakeSource{err: ErrUnavailable}
	p := &Poller{
		Sources: map[string]Source{"jsw": jsw, "conf": conf, "jsm": broken},
		Sink:    rec.sink, Clock: clk, Metrics: m,
	}
	err := p.PollOnce(t.Context())
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("err: got %v, want ErrUnavailable for jsm", err)
	}
	if got := rec.Len(); got != 2 {
		t.Fatalf("reports: got %d, want 2", got)
	}
	for _, r := range rec.reports {
		if !r.at.Equal(clk.Now()) {
			t.Errorf("%s reported at %v, want %v", r.pool, r.at, clk.Now())
		}
	}
	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"jsw total", testutil.ToFloat64(m.seatsTotal.WithLabelValues("jsw")), 2000},
		{"jsw used", testutil.ToFloat64(m.seatsUsed.WithLabelValues("jsw")), 1990},
		{"jsw last success", testutil.ToFloat64(m.lastSuccess.WithLabelValues("jsw")), float64(clk.Now().Unix())},
		{"conf total", testutil.ToFloat64(m.seatsTotal.WithLabelValues("conf")), math.Inf(1)},
		{"jsm last success", testutil.ToFloat64(m.lastSuccess.WithLabelValues("jsm")), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("pedantic registry: %v", err)
	}
}

func TestPollSinkErrorLeavesLastSuccess(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	rec := &recorder{err: errors.New("redis down")}
	p := &Poller{Sources: map[string]Source{"jsw": &fakeSource{count: Count{Seats: 1}}}, Sink: rec.sink, Clock: newFakeClock(), Metrics: m}
	if err := p.PollOnce(t.Context()); err == nil {
		t.Errorf("err: got nil, want the sink's error")
	}
	if got := testutil.ToFloat64(m.lastSuccess.WithLabelValues("jsw")); got != 0 {
		t.Errorf("last success: got %v, want 0", got)
	}
}

func TestPollAuthBackoff(t *testing.T) {
	clk := newFakeClock()
	src := &fakeSource{err: ErrUnauthorized}
	rec := &recorder{}
	p := &Poller{Sources: map[string]Source{"jsw": src}, Interval: time.Minute, Sink: rec.sink, Clock: clk}
	// Each step: advance the clock, poll, expected calls so far. Pauses are
	// 1, 2, 4 … minutes after successive refusals.
	steps := []struct {
		advance time.Duration
		calls   int
	}{
		{0, 1},                // refused: pause 1m
		{time.Minute, 2},      // refused: pause 2m
		{time.Minute, 2},      // within the pause
		{time.Minute, 3},      // refused: pause 4m
		{3 * time.Minute, 3},  // within the pause
		{time.Minute, 4},      // refused: pause 8m
		{time.Hour, 5},        // refused: pause 16m → capped at 15m
		{14 * time.Minute, 5}, // within the cap
		{time.Minute, 6},      // cap over
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		p.PollOnce(t.Context())
		if got := src.Calls(); got != s.calls {
			t.Fatalf("step %d: got %d calls, want %d", i, got, s.calls)
		}
	}
	// Any other outcome clears the backoff.
	src.mu.Lock()
	src.err = nil
	src.mu.Unlock()
	clk.Advance(MaxAuthBackoff)
	if err := p.PollOnce(t.Context()); err != nil {
		t.Fatalf("poll after recovery: %v", err)
	}
	if err := p.PollOnce(t.Context()); err != nil || src.Calls() != 8 {
		t.Errorf("got %d calls, err %v; want 8 calls, no pause after success", src.Calls(), err)
	}
}

func TestRun(t *testing.T) {
	clk := newFakeClock()
	got := make(chan report, 10)
	p := &Poller{
		Sources: map[string]Source{"jsw": &fakeSource{count: Count{Seats: 10, Used: 3}}},
		Sink: func(_ context.Context, pool string, c Count, at time.Time) error {
			got <- report{pool, c, at}
			return nil
		},
		Clock: clk,
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	<-got // the poll at start
	clk.tick <- clk.Now()
	if r := <-got; r.c != (Count{Seats: 10, Used: 3}) {
		t.Errorf("got %+v, want the source's count", r.c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: got %v, want nil after cancel", err)
	}
}

func TestRunNeedsSink(t *testing.T) {
	if err := (&Poller{}).Run(t.Context()); err == nil {
		t.Errorf("got nil, want an error without a sink")
	}
}

func TestSetHeadroom(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	tests := []struct {
		n    int
		want float64
	}{{5, 5}, {0, 0}, {-2, -2}, {math.MaxInt32, math.Inf(1)}}
	for _, tt := range tests {
		m.SetHeadroom("jsw", tt.n)
		if got := testutil.ToFloat64(m.headroom.WithLabelValues("jsw")); got != tt.want {
			t.Errorf("SetHeadroom(%d): got %v, want %v", tt.n, got, tt.want)
		}
	}
	var nilMetrics *Metrics
	nilMetrics.SetHeadroom("jsw", 1) // must not panic
}
