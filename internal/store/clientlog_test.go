package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/config"
)

// recordHandler is a slog handler that keeps what it is given.
type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// lines renders each record as "LEVEL msg key=value ...".
func (h *recordHandler) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		out = append(out, b.String())
	}
	return out
}

func TestClientLogForwardsOneLineAKindPerInterval(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	h := &recordHandler{}
	c := newClientLog(slog.New(h), "", func() time.Time { return now })
	dial := "redis: connection pool: failed to dial after %d attempts: %v"
	refused := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

	for i := range 50 { // an outage: every pooled connection fails to dial
		c.Printf(t.Context(), dial, i+1, refused)
	}
	c.Printf(t.Context(), "sentinel: new master=%q addr=%q", "mymaster", "10.0.0.2:6379")
	now = now.Add(clientLogEvery - time.Nanosecond)
	c.Printf(t.Context(), dial, 5, refused)
	now = now.Add(time.Nanosecond)
	c.Printf(t.Context(), dial, 5, refused)
	c.Printf(t.Context(), dial, 5, refused)

	want := []string{
		"WARN redis client detail=connection pool: failed to dial after 1 attempts: dial tcp 127.0.0.1:6379: connect: connection refused",
		`WARN redis client detail=sentinel: new master="mymaster" addr="10.0.0.2:6379"`,
		"WARN redis client detail=connection pool: failed to dial after 5 attempts: dial tcp 127.0.0.1:6379: connect: connection refused suppressed=50",
	}
	got := h.lines()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestClientLogNeverLogsThePassword(t *testing.T) {
	h := &recordHandler{}
	c := newClientLog(slog.New(h), "s3cret-pw", time.Now)
	c.Printf(t.Context(), "redis: %v", errors.New("dial redis://:s3cret-pw@10.0.0.1:6379: refused"))
	got := strings.Join(h.lines(), "\n")
	if strings.Contains(got, "s3cret-pw") || !strings.Contains(got, "REDACTED") {
		t.Errorf("got %q, want the password replaced by REDACTED", got)
	}
}

// TestOpenRoutesGoRedisLogToSlog: a store opened with a Log makes go-redis's
// own "failed to dial" line reach that logger, and not the password.
func TestOpenRoutesGoRedisLogToSlog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close() // nothing listens there now: every dial is refused

	h := &recordHandler{}
	s, err := Open(config.Redis{Addr: dead, KeyPrefix: "fs", Password: "s3cret-pw", Timeout: 200 * time.Millisecond},
		Options{Log: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err == nil {
		t.Fatalf("ping %s: no error from an address nobody listens on", dead)
	}
	got := strings.Join(h.lines(), "\n")
	if !strings.Contains(got, "WARN redis client") || !strings.Contains(got, "failed to dial") || !strings.Contains(got, dead) {
		t.Errorf("got log %q, want go-redis's failed-to-dial line for %s at Warn", got, dead)
	}
	if strings.Contains(got, "s3cret-pw") {
		t.Errorf("log %q holds the password", got)
	}
}
