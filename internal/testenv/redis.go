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
	r := launchRedis(t, bin, func(port int) []string { return []string{"--port", strconv.Itoa(port)} }, extra...)
	r.wait(t)
	return r
}

// launchRedis starts redis-server with no persistence in a temporary
// directory, listening on a free port as listen says (the plain port, or
// the TLS port with the plain one off), without waiting for it.
func launchRedis(t TB, bin string, listen func(port int) []string, extra ...string) *Redis {
	t.Helper()
	dir := t.TempDir()
	port := FreePort(t)
	args := append([]string{"--bind", "127.0.0.1"}, listen(port)...)
	args = append(append(args, "--save", "", "--appendonly", "no", "--dir", dir,
		"--protected-mode", "no", "--loglevel", "warning"), extra...)
	return &Redis{Process: StartProcess(t, dir, bin, args...), Addr: fmt.Sprintf("127.0.0.1:%d", port)}
}
