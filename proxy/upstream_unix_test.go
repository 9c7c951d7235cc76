//go:build unix

package proxy

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// unread reports whether bytes wait in c's socket, unread.
func unread(t *testing.T, c net.Conn) bool {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	buf := make([]byte, 1)
	raw.Read(func(fd uintptr) bool {
		n, _, _ = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	return n > 0
}

// What an app sends on a connection while no request is on it is nobody's
// answer: a 408 some servers write before closing an idle connection, the
// excess of a wrong Content-Length. Taken as the answer to the next request
// sent on that connection, it reaches a client that asked something else,
// perhaps another user. net/http's Transport reads idle connections and
// closes them on such bytes; so must the pool.
func TestUpstreamNeverTakesBytesSentOnAnIdleConnectionAsTheNextAnswer(t *testing.T) {
	read, strayed := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	target, accepted := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		switch {
		case n == 0 && first.CompareAndSwap(false, true):
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			<-read
			io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
			close(strayed)
			return true
		case n == 0:
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
			return true
		}
		return false // a request on the connection that sent the 408: never answered
	})
	tr := Transport(time.Minute, 4).(*upstream)
	defer tr.CloseIdleConnections()
	roundTrip(t, tr, http.MethodGet, target+"/first")
	close(read)
	<-strayed
	tr.mu.Lock()
	var idle net.Conn
	for _, l := range tr.idle {
		for _, c := range l {
			idle = c.conn
		}
	}
	tr.mu.Unlock()
	if idle == nil {
		t.Fatal("no pooled connection after the first answer")
	}
	for deadline := time.Now().Add(10 * time.Second); !unread(t, idle); {
		if time.Now().After(deadline) {
			t.Fatal("the stray answer never reached the pooled connection")
		}
		time.Sleep(time.Millisecond)
	}
	resp, body := roundTrip(t, tr, http.MethodGet, target+"/second")
	if resp.StatusCode != http.StatusOK || body != "fresh" {
		t.Errorf("second request got %d %q, want 200 fresh from a new connection", resp.StatusCode, body)
	}
	if n := accepted.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}
