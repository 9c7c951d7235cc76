package testenv

import (
	"fmt"
	"strconv"
	"time"
)

// Redis is a real redis-server started for one test.
type Redis struct {
	*Process
	Addr string
}

// StartRedis starts redis-server on a free loopback port with no
// persistence, in a temporary directory, and stops it in t.Cleanup.
func StartRedis(t TB) *Redis {
	t.Helper()
	return startRedisNode(t, Binary(t, "redis-server"))
}

// Restart starts redis-server again on the same port after Stop or Kill.
func (r *Redis) Restart(t TB) {
	t.Helper()
	r.Start()
	r.wait(t)
}

func (r *Redis) wait(t TB) {
	t.Helper()
	if err := WaitTCP(t.Context(), r.Addr, 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, r.Output())
	}
}

// startRedisNode starts one redis-server with no persistence on a free port.
func startRedisNode(t TB, bin string, extra ...string) *Redis {
	t.Helper()
	dir := t.TempDir()
	port := FreePort(t)
	args := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--protected-mode", "no", "--loglevel", "warning"}, extra...)
	r := &Redis{Process: StartProcess(t, dir, bin, args...), Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	r.wait(t)
	return r
}
