package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// clientLogEvery is how often one kind of go-redis line is let through.
// During an outage every dial of every pooled connection logs "failed to
// dial": one line per kind per interval tells on-call that Redis is down
// without drowning the rest of the log.
const clientLogEvery = 10 * time.Second

// clientLogKinds bounds the kinds remembered. go-redis logs from a few
// hundred fixed format strings, so the bound is never reached in practice;
// it is there so that the map cannot grow without limit if that changes.
const clientLogKinds = 1024

// clientLog is go-redis's logger (the Printf interface redis.SetLogger
// takes): it sends the library's own lines (dial failures, Sentinel and
// Cluster changes) to slog at Warn instead of to stderr, each kind at most
// once per clientLogEvery, with the number of lines of that kind left out
// since the last one.
//
// A kind is the format string, not the formatted line: the same failure
// carries a different attempt count or connection id on every line, and
// keying on the text would let all of them through.
//
// go-redis formats addresses, Sentinel master names and errors into its
// lines, never the options' credentials (checked in v9.23.0's sources);
// and Redis' own errors (WRONGPASS, NOAUTH) do not echo the password. As a
// guard if either changes, the configured password is replaced by
// REDACTED in every line before it is logged.
type clientLog struct {
	log    *slog.Logger
	secret string // the redis password, never logged
	every  time.Duration
	clock  func() time.Time

	mu   sync.Mutex
	seen map[string]*clientLogKind
}

type clientLogKind struct {
	last       time.Time // when a line of this kind was last logged
	suppressed int       // lines of this kind left out since then
}

func newClientLog(log *slog.Logger, secret string, clock func() time.Time) *clientLog {
	return &clientLog{log: log, secret: secret, every: clientLogEvery, clock: clock, seen: map[string]*clientLogKind{}}
}

// Printf is go-redis's logging interface (internal.Logging).
func (c *clientLog) Printf(ctx context.Context, format string, v ...any) {
	now := c.clock()
	c.mu.Lock()
	k := c.seen[format]
	if k != nil && now.Sub(k.last) < c.every {
		k.suppressed++
		c.mu.Unlock()
		return
	}
	if k == nil {
		if len(c.seen) >= clientLogKinds {
			clear(c.seen)
		}
		k = &clientLogKind{}
		c.seen[format] = k
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	c.mu.Unlock()

	line := strings.TrimSpace(fmt.Sprintf(format, v...))
	line = strings.TrimPrefix(line, "redis: ")
	if c.secret != "" {
		line = strings.ReplaceAll(line, c.secret, "REDACTED")
	}
	attrs := []slog.Attr{slog.String("detail", line)}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "redis client", attrs...)
}

// routeClientLog makes go-redis log through log. go-redis has one logger
// per process, so the last store opened with a logger receives the lines
// of every client; floatseat opens one per process.
func routeClientLog(log *slog.Logger, secret string) {
	redis.SetLogger(newClientLog(log, secret, time.Now))
}
