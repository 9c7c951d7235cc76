package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/store"
)

// CheckRedis sends the configured Redis one PING (floatseat check). A
// server that answered and refused floatseat is an error, named in terms
// of the redis: section (store.Check); a Redis that nothing answered for
// is a warning, since check may run where Redis cannot be reached (a build
// host, a laptop). The embedded store has nothing to check.
func CheckRedis(cfg *config.Config) (warning string, err error) {
	if cfg.Redis.Embedded() {
		return "", nil
	}
	// go-redis's own lines (a dial that failed) would repeat the answer
	// below in another form.
	st, err := store.Open(cfg.Redis, store.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return "", fmt.Errorf("redis: %w", err)
	}
	defer st.Close()
	// A few times redis.timeout: the dial, a TLS handshake and the PING
	// are each bounded by it, as they are when floatseat serves.
	ctx, cancel := context.WithTimeout(context.Background(), 4*cfg.Redis.Timeout)
	defer cancel()
	where := redisWhere(cfg.Redis)
	switch err := st.Check(ctx); {
	case err == nil:
		return "", nil
	case errors.Is(err, store.ErrUnreachable):
		return fmt.Sprintf("redis: %s not reachable from here, so TLS, credentials and topology were not checked: %v", where, err), nil
	default:
		return "", fmt.Errorf("redis: %s: %w", where, err)
	}
}

// redisWhere names the Redis of cfg for a message.
func redisWhere(r config.Redis) string {
	switch {
	case r.SentinelMaster != "":
		return fmt.Sprintf("master %s through sentinels %s", r.SentinelMaster, strings.Join(r.Addrs, ", "))
	case r.Addr != "":
		return r.Addr
	}
	return strings.Join(r.Addrs, ", ")
}
