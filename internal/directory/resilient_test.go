package directory

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type scripted struct {
	mu    sync.Mutex
	errs  []error // returned in order, then nil
	calls int
}

func (s *scripted) next() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if len(s.errs) == 0 {
		return nil
	}
	e := s.errs[0]
	s.errs = s.errs[1:]
	return e
}
func (s *scripted) IsMember(context.Context, string, string, bool) (bool, error) {
	return true, s.next()
}
func (s *scripted) UserGroups(context.Context, string, bool) ([]string, error) { return nil, s.next() }
func (s *scripted) Members(context.Context, string, bool) ([]string, error)    { return nil, s.next() }
func (s *scripted) AddMember(context.Context, string, string) error            { return s.next() }
func (s *scripted) RemoveMember(context.Context, string, string) error         { return s.next() }

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newR(s *scripted, c *clock) (Directory, *Metrics) {
	m := NewMetrics(prometheus.NewRegistry())
	return Instrument("test", s, m, Options{Clock: c.Now, Sleep: func(context.Context, time.Duration) error { return nil }}), m
}

func TestRetriesOnlyRetryable(t *testing.T) {
	c := &clock{now: time.Now()}
	s := &scripted{errs: []error{ErrUnavailable, ErrUnavailable}}
	d, m := newR(s, c)
	if err := d.AddMember(t.Context(), "u", "g"); err != nil || s.calls != 3 {
		t.Errorf("two unavailable then ok: err %v after %d calls, want nil after 3", err, s.calls)
	}
	s = &scripted{errs: []error{ErrUserNotFound}}
	d, m = newR(s, c)
	if err := d.AddMember(t.Context(), "u", "g"); !errors.Is(err, ErrUserNotFound) || s.calls != 1 {
		t.Errorf("not found: %v after %d calls, want no retry", err, s.calls)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("test", "add_member", "not_found")); got != 1 {
		t.Errorf("metric: %v", got)
	}
	s = &scripted{errs: []error{ErrPermissionDenied}}
	d, _ = newR(s, c)
	if err := d.RemoveMember(t.Context(), "u", "g"); !errors.Is(err, ErrPermissionDenied) || s.calls != 1 {
		t.Errorf("denied: %v after %d calls, want no retry", err, s.calls)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	c := &clock{now: time.Now()}
	down := make([]error, 100)
	for i := range down {
		down[i] = ErrUnavailable
	}
	s := &scripted{errs: down}
	d, _ := newR(s, c)
	_ = d.AddMember(t.Context(), "u", "g") // 3 attempts
	_ = d.AddMember(t.Context(), "u", "g") // 2 more: 5 failures, open
	before := s.calls
	err := d.AddMember(t.Context(), "u", "g")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrCircuitOpen) || s.calls != before {
		t.Fatalf("open breaker: %v, %d backend calls, want a fast ErrUnavailable with none", err, s.calls-before)
	}
	s.mu.Lock()
	s.errs = nil // the directory is back
	s.mu.Unlock()
	c.now = c.now.Add(11 * time.Second) // past the cooldown: one probe
	if err := d.AddMember(t.Context(), "u", "g"); err != nil {
		t.Errorf("after the cooldown: %v", err)
	}
	if _, err := d.IsMember(t.Context(), "u", "g", false); err != nil {
		t.Errorf("closed again: %v", err)
	}
}

// closing is a backend that holds something to release.
type closing struct {
	scripted
	closed int
}

func (c *closing) Close() error { c.closed++; return nil }

// verifying is a backend that checks passwords and holds something.
type verifying struct {
	closing
}

func (v *verifying) VerifyPassword(context.Context, string, string) error { return nil }

func TestInstrumentClosesTheBackend(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	for _, tc := range []struct {
		name    string
		backend Directory
	}{
		{name: "plain", backend: &closing{}},
		{name: "password verifier", backend: &verifying{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Instrument("test", tc.backend, m, Options{})
			c, ok := d.(io.Closer)
			if !ok {
				t.Fatalf("Instrument(%T) is no io.Closer: the owner cannot release the backend", tc.backend)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			var closed int
			switch b := tc.backend.(type) {
			case *closing:
				closed = b.closed
			case *verifying:
				closed = b.closed
			}
			if closed != 1 {
				t.Errorf("backend closed %d times, want 1", closed)
			}
		})
	}
	// A backend with nothing to close: Close is a no-op.
	if err := Instrument("test", &scripted{}, m, Options{}).(io.Closer).Close(); err != nil {
		t.Errorf("closing a backend without Close: got %v", err)
	}
}
