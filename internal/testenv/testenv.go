// Package testenv starts the real services floatseat's integration tests use
// (redis-server, slapd, nginx) on free loopback ports in temporary
// directories, and stops them in t.Cleanup. Redis also comes as a 3-master
// Cluster and as a Sentinel group, both from the redis-server binary
// (`redis-server sentinel.conf --sentinel` is what redis-sentinel runs),
// and as a TLS-only server whose certificates come from a CA made at test
// time (NewCA), with or without client certificates.
// Services that take seconds to start are shared by a package's tests
// through Shared and stopped by Main; a *Scope lets a program (the
// benchmark) start them outside a test.
//
// A missing binary skips the test with a loud message, except under CI=true,
// where it fails: CI must never pass because a service was not there.
// `make test` installs the Debian packages first, so a skip means someone ran
// `go test` by hand on a machine without them.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// searchDirs are tried after $PATH: Debian puts slapd and nginx in sbin,
// which is not on every user's PATH.
var searchDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// Binary returns the path of the named program, or skips (fails under CI=true).
func Binary(t TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range searchDirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	missing(t, fmt.Sprintf("testenv: %s not found: run `make test` (it installs it) or apt-get install it", name))
	return ""
}

// missing skips the test for a service or capability this machine lacks,
// loudly, and fails it under CI=true.
func missing(t TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing service is a failure)")
	}
	t.Skip("SKIPPING INTEGRATION TEST: " + msg)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitTCP waits until addr accepts a connection or the deadline passes.
func WaitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: %s did not accept connections within %v: %w", addr, timeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
