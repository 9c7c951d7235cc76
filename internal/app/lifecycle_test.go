package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/floatseat/floatseat/internal/appsim"
)

func TestCleanupsRunLastAcquiredFirst(t *testing.T) {
	var got []string
	var c cleanups
	for _, name := range []string{"store", "directory", "listener"} {
		c.push(func() error { got = append(got, name); return nil })
	}
	c.push(func() error { return fmt.Errorf("close proxy listener: %w", net.ErrClosed) })
	c.push(func() error { got = append(got, "failing"); return errors.New("boom") })
	err := c.run()
	if want := "failing,listener,directory,store"; strings.Join(got, ",") != want {
		t.Errorf("order: got %s, want %s", strings.Join(got, ","), want)
	}
	if err == nil || err.Error() != "boom" {
		t.Errorf("got %v, want only boom (a listener the server closed is no error)", err)
	}
	if err := c.run(); err != nil || len(got) != 4 {
		t.Errorf("second run: got %v and %d releases, want nothing run again", err, len(got))
	}
}

// TestNewReleasesWhatItAcquiredOnError: the admin port is taken, so New
// fails after binding the proxy port; the proxy port must be free again.
func TestNewReleasesWhatItAcquiredOnError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := probe.Addr().String()
	probe.Close()
	cfg := parseTestConfig(t, fmt.Sprintf("listen: %s\nupstream: http://127.0.0.1:9\nadmin: {listen: %s}\n", proxyAddr, taken.Addr()))
	if _, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("New with the admin port taken: got no error")
	}
	l, err := net.Listen("tcp", proxyAddr)
	if err != nil {
		t.Fatalf("after New failed the proxy port %s is still held: %v", proxyAddr, err)
	}
	l.Close()
}

// TestShutdownClosesTheDirectoryBackend: the app-REST backend keeps
// connections to the app alive; when Run ends they are closed, not left
// to the server's idle timeout.
func TestShutdownClosesTheDirectoryBackend(t *testing.T) {
	sim := appsim.New(appsim.Config{Product: "jira", AdminUsers: []string{"svc"},
		Roles: []appsim.Role{{Key: "jira-software", Groups: []string{"jira-software-users"}, Seats: 5}}})
	dir := sim.InternalDirectory()
	dir.AddGroup("jira-software-users")
	dir.AddUser("svc", "svc-pw")
	dir.AddUser("alice", "pw")
	_ = dir.AddMember(t.Context(), "alice", "jira-software-users")
	srv, openConns := countedServer(t, sim)

	cfg := parseTestConfig(t, fmt.Sprintf(`
listen: 127.0.0.1:0
upstream: %s
admin: {listen: 127.0.0.1:0}
app: {user: svc}
directory: {type: jira}
pools: [{name: jira-software, license_groups: [jira-software-users], seats: 5, reserve: 1}]
log: {level: error}
`, srv.URL))
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// New primed the keeper and read the seat counts through the backend.
	if openConns() == 0 {
		t.Fatal("the backend never reached the app: nothing to test")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventually(t, "the backend's connections closed at shutdown", func() bool { return openConns() == 0 })
}

// TestShutdownClosesTheUpstreamConnections: the proxy's keep-alive
// connections to the app (and the upstream client's watchdog, which runs
// while any is open) end with Run, not 90 s later at the idle timeout.
func TestShutdownClosesTheUpstreamConnections(t *testing.T) {
	srv, openConns := countedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))

	cfg := parseTestConfig(t, fmt.Sprintf("listen: 127.0.0.1:0\nupstream: %s\nadmin: {listen: 127.0.0.1:0}\nlog: {level: error}\n", srv.URL))
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + a.ProxyAddr() + "/secure/Dashboard.jspa")
	if err != nil {
		cancel()
		<-done
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if openConns() == 0 {
		t.Fatal("the proxy kept no connection to the app: nothing to test")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventually(t, "the proxy's connections to the app closed at shutdown", func() bool { return openConns() == 0 })
}

// countedServer serves h and says how many of its connections are open.
func countedServer(t *testing.T, h http.Handler) (*httptest.Server, func() int) {
	t.Helper()
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open[c] = true
		case http.StateClosed, http.StateHijacked:
			delete(open, c)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return len(open) }
}
