package directory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the directory series, shared by every instrumented backend.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers floatseat_directory_requests_total and
// floatseat_directory_request_duration_seconds on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floatseat", Name: "directory_requests_total",
			Help: "Directory calls by backend, operation and result (ok, not_found, denied, unavailable, error). A paged listing counts once as members and once per page as members_page.",
		}, []string{"backend", "op", "result"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floatseat", Name: "directory_request_duration_seconds",
			Help:    "Directory call latency by backend and operation, retries included.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"backend", "op"}),
	}
}

// Options tune Instrument.
type Options struct {
	Timeout   time.Duration // per attempt (default 5s)
	Retries   int           // extra attempts for ErrUnavailable (default 2; -1 for none)
	BaseDelay time.Duration // first backoff (default 100ms), doubled each retry, full jitter
	// The breaker opens after Threshold consecutive unavailable results and
	// fails calls at once for Cooldown; then one probe is let through.
	Threshold int           // default 5
	Cooldown  time.Duration // default 10s
	Clock     func() time.Time
	Sleep     func(ctx context.Context, d time.Duration) error
}

// ErrCircuitOpen wraps ErrUnavailable while the breaker is open.
var ErrCircuitOpen = fmt.Errorf("circuit open: %w", ErrUnavailable)

// Instrument wraps d with per-call deadlines, retries with backoff for
// retryable failures (every operation of the interface is idempotent), a
// circuit breaker so a dead directory costs microseconds instead of
// timeouts, and metrics. A PasswordVerifier stays one, and the result is
// an io.Closer that closes d if d is one (its connection pool, its idle
// HTTP connections), so the owner can release the backend it opened, and
// a GroupCreator that answers ErrNotSupported when the backend is not one.
func Instrument(backend string, d Directory, m *Metrics, o Options) Directory {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Retries == 0 {
		o.Retries = 2
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 100 * time.Millisecond
	}
	if o.Threshold <= 0 {
		o.Threshold = 5
	}
	if o.Cooldown <= 0 {
		o.Cooldown = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	r := &resilient{backend: backend, d: d, m: m, o: o}
	if v, ok := d.(PasswordVerifier); ok {
		return &resilientVerifier{resilient: r, v: v}
	}
	return r
}

type resilient struct {
	backend string
	d       Directory
	m       *Metrics
	o       Options

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool
}

func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUserNotFound), errors.Is(err, ErrGroupNotFound):
		return "not_found"
	case errors.Is(err, ErrPermissionDenied), errors.Is(err, ErrBadCredentials), errors.Is(err, ErrNotSupported):
		return "denied"
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return "unavailable"
	}
	return "error"
}

// allow reports whether a call may go to the backend now.
func (r *resilient) allow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.openUntil.IsZero() {
		return true
	}
	if r.o.Clock().Before(r.openUntil) || r.probing {
		return false
	}
	r.probing = true // half-open: one probe
	return true
}

func (r *resilient) record(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probing = false
	if result(err) == "unavailable" {
		r.failures++
		if r.failures >= r.o.Threshold {
			r.openUntil = r.o.Clock().Add(r.o.Cooldown)
		}
		return
	}
	r.failures, r.openUntil = 0, time.Time{}
}

func (r *resilient) do(ctx context.Context, op string, f func(ctx context.Context) error) error {
	start := r.o.Clock()
	var err error
	for attempt := 0; ; attempt++ {
		if !r.allow() {
			err = fmt.Errorf("%s %s: %w", r.backend, op, ErrCircuitOpen)
			break
		}
		actx, cancel := context.WithTimeout(ctx, r.o.Timeout)
		err = f(actx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%s %s: timed out after %v: %w", r.backend, op, r.o.Timeout, ErrUnavailable)
		}
		r.record(err)
		if err == nil || !Retryable(err) || attempt >= r.o.Retries || ctx.Err() != nil {
			break
		}
		backoff := r.o.BaseDelay << attempt
		if serr := r.o.Sleep(ctx, rand.N(backoff)+1); serr != nil {
			break
		}
	}
	r.observe(op, start, err)
	return err
}

func (r *resilient) IsMember(ctx context.Context, user, group string, nested bool) (ok bool, err error) {
	err = r.do(ctx, "is_member", func(ctx context.Context) (e error) { ok, e = r.d.IsMember(ctx, user, group, nested); return })
	return
}

func (r *resilient) UserGroups(ctx context.Context, user string, nested bool) (gs []string, err error) {
	err = r.do(ctx, "user_groups", func(ctx context.Context) (e error) { gs, e = r.d.UserGroups(ctx, user, nested); return })
	return
}

// Members of a paging backend are read a page at a time (op
// "members_page" in the metrics), each page under its own deadline and
// retried on its own; "members" then counts whole listings. A ConnPager
// pages itself (connPaged).
func (r *resilient) Members(ctx context.Context, group string, nested bool) (us []string, err error) {
	if cp, ok := r.d.(ConnPager); ok {
		return r.connPaged(ctx, cp, group, nested)
	}
	p, ok := r.d.(Pager)
	if !ok {
		err = r.do(ctx, "members", func(ctx context.Context) (e error) { us, e = r.d.Members(ctx, group, nested); return })
		return
	}
	start := r.o.Clock()
	defer func() { r.observe("members", start, err) }()
	return AllPages(ctx, r.backend+" members of "+group, func(ctx context.Context, cursor string) (page []string, next string, err error) {
		err = r.do(ctx, "members_page", func(ctx context.Context) (e error) {
			page, next, e = p.MembersPage(ctx, group, nested, cursor)
			return
		})
		return
	})
}

// connPaged runs the listing of a ConnPager under ctx alone (the backend
// bounds each request and resumes itself), behind the breaker, with every
// request the backend reports counted as a members_page and the listing
// as one members. A listing that asked the server something is never
// started again on top of the backend's own restarts; one that never got
// that far (no connection) is retried with backoff like any call.
func (r *resilient) connPaged(ctx context.Context, cp ConnPager, group string, nested bool) (us []string, err error) {
	start := r.o.Clock()
	defer func() { r.observe("members", start, err) }()
	for attempt := 0; ; attempt++ {
		if !r.allow() {
			return nil, fmt.Errorf("%s members of %s: %w", r.backend, group, ErrCircuitOpen)
		}
		asked := 0
		us, err = cp.MembersPaged(ctx, group, nested, func(err error, took time.Duration) {
			asked++
			if r.m != nil {
				r.m.requests.WithLabelValues(r.backend, "members_page", result(err)).Inc()
				r.m.duration.WithLabelValues(r.backend, "members_page").Observe(took.Seconds())
			}
		})
		r.record(err)
		if err == nil || asked > 0 || !Retryable(err) || attempt >= r.o.Retries || ctx.Err() != nil {
			return us, err
		}
		if serr := r.o.Sleep(ctx, rand.N(r.o.BaseDelay<<attempt)+1); serr != nil {
			return us, err
		}
	}
}

// observe counts one call of op that began at start.
func (r *resilient) observe(op string, start time.Time, err error) {
	if r.m != nil {
		r.m.requests.WithLabelValues(r.backend, op, result(err)).Inc()
		r.m.duration.WithLabelValues(r.backend, op).Observe(r.o.Clock().Sub(start).Seconds())
	}
}

func (r *resilient) AddMember(ctx context.Context, user, group string) error {
	return r.do(ctx, "add_member", func(ctx context.Context) error { return r.d.AddMember(ctx, user, group) })
}

func (r *resilient) RemoveMember(ctx context.Context, user, group string) error {
	return r.do(ctx, "remove_member", func(ctx context.Context) error { return r.d.RemoveMember(ctx, user, group) })
}

// Close closes the backend if it holds anything (io.Closer).
func (r *resilient) Close() error {
	if c, ok := r.d.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Unwrap returns the backend, for optional interfaces the wrapper does not
// carry (directory.EmailLookup).
func (r *resilient) Unwrap() Directory { return r.d }

// CreateGroup passes a group creation on to a backend that can create
// groups, with the same deadline, retries and metrics as every call.
func (r *resilient) CreateGroup(ctx context.Context, group string) error {
	c, ok := r.d.(GroupCreator)
	if !ok {
		return fmt.Errorf("%s create group %s: %w", r.backend, group, ErrNotSupported)
	}
	return r.do(ctx, "create_group", func(ctx context.Context) error { return c.CreateGroup(ctx, group) })
}

type resilientVerifier struct {
	*resilient
	v PasswordVerifier
}

func (r *resilientVerifier) VerifyPassword(ctx context.Context, user, password string) error {
	return r.do(ctx, "verify_password", func(ctx context.Context) error { return r.v.VerifyPassword(ctx, user, password) })
}

var (
	_ Directory        = (*resilient)(nil)
	_ io.Closer        = (*resilient)(nil)
	_ PasswordVerifier = (*resilientVerifier)(nil)
	_ GroupCreator     = (*resilient)(nil)
)
