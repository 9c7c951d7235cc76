// Package storetest gives tests a *store.Store without importing go-redis:
// one on a fresh miniredis (fast, every run) or one on a real redis-server
// started by testenv (the real semantics: Lua, transactions, pub/sub).
// Both are closed in t.Cleanup.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/testenv"
)

// New returns a Store with keyPrefix on a fresh miniredis, and the server,
// so that a test can FastForward its TTLs or make it fail.
func New(t testing.TB, keyPrefix string) (*store.Store, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	return At(t, mr.Addr(), keyPrefix), mr
}

// Real returns a Store with keyPrefix on a real redis-server of its own,
// and the server, so that a test can kill and restart it. It skips under
// -short, and where redis-server is missing (fails under CI=true).
func Real(t testing.TB, keyPrefix string) (*store.Store, *testenv.Redis) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: real redis-server")
	}
	r := testenv.StartRedis(t)
	return At(t, r.Addr, keyPrefix), r
}

// At returns a Store with keyPrefix on the Redis at addr (a test's own
// server, already running), closed in t.Cleanup.
func At(t testing.TB, addr, keyPrefix string) *store.Store {
	t.Helper()
	s, err := store.Open(config.Redis{Addr: addr, KeyPrefix: keyPrefix}, store.Options{})
	if err != nil {
		t.Fatalf("open store on %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Inspector reads raw keys of a Redis, for tests that check what the store
// wrote (a TTL, say) without importing go-redis themselves.
type Inspector struct {
	c *redis.Client
}

// Inspect returns an Inspector on the Redis at addr, closed in t.Cleanup.
func Inspect(t testing.TB, addr string) *Inspector {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return &Inspector{c: c}
}

// PTTL returns key's remaining time to live (negative: no TTL or no key,
// as Redis answers).
func (i *Inspector) PTTL(ctx context.Context, key string) (time.Duration, error) {
	return i.c.PTTL(ctx, key).Result()
}

// FlushAll empties the Redis, as a restart without persistence would.
func (i *Inspector) FlushAll(ctx context.Context) error {
	return i.c.FlushAll(ctx).Err()
}
