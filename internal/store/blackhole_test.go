package store_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/store"
)

// blackHole accepts connections and never answers: a frozen Redis.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// Against a Redis that accepts and never answers, a command waits no longer
// than its caller's deadline (identity.lookup_timeout, 50 ms, for an
// uncached cookie) or redis.timeout (a revoked user's login), once: no
// retry doubles it. The bounds are asserted with a wide margin; the
// measured waits are logged.
func TestBlackHoleRedisBoundsEveryWait(t *testing.T) {
	const timeout = 300 * time.Millisecond
	st, err := store.Open(config.Redis{Addr: blackHole(t), KeyPrefix: "floatseat:test", Timeout: timeout}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })

	for i := range 2 { // a fresh connection, then whatever the pool holds
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		_, err := st.GetUser(ctx, "cookie-hmac")
		took := time.Since(start)
		cancel()
		t.Logf("uncached cookie lookup #%d (lookup_timeout 50ms): %v after %v", i+1, err, took)
		if err == nil || took >= timeout {
			t.Errorf("lookup #%d: %v after %v; want an error before redis.timeout (%v): the context deadline must bound it", i+1, err, took, timeout)
		}
	}
	start := time.Now()
	_, _, err = st.TakeSeat(context.Background(), "jira-software", "alice", time.Now(), time.Now())
	took := time.Since(start)
	t.Logf("revoked user's seat (redis.timeout %v): %v after %v", timeout, err, took)
	if err == nil || took >= 2*timeout {
		t.Errorf("take seat: %v after %v; want an error within one redis.timeout (%v), not two", err, took, timeout)
	}
}
