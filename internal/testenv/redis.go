package testenv

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// Redis is a real redis-server started for one test.
type Redis struct {
	*Process
	Addr string
}

// StartRedis starts redis-server on a free loopback port with no
// persistence, in a temporary directory, and stops it in t.Cleanup.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := Binary(t, "redis-server")
	dir := t.TempDir()
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := StartProcess(t, dir, bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--protected-mode", "no", "--loglevel", "warning")
	r := &Redis{Process: p, Addr: addr}
	r.wait(t)
	return r
}

// Restart starts redis-server again on the same port after Stop or Kill.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.Start()
	r.wait(t)
}

func (r *Redis) wait(t testing.TB) {
	t.Helper()
	if err := WaitTCP(t.Context(), r.Addr, 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, r.Output())
	}
}
