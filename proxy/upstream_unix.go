//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// idleProbe looks into a pooled connection's socket without reading it
// and without blocking: one recv(MSG_PEEK|MSG_DONTWAIT) system call, where
// net/http's Transport keeps a goroutine reading every idle connection.
type idleProbe struct {
	raw syscall.RawConn
	fn  func(fd uintptr) bool // built once per connection: no allocation per probe
	n   int
	err error
	buf [1]byte
}

func newIdleProbe(conn net.Conn) *idleProbe {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &idleProbe{raw: raw}
	p.fn = func(fd uintptr) bool {
		p.n, _, p.err = syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	}
	return p
}

// quiet reports a connection with nothing to read: neither closed by the
// app (a read would give EOF or an error) nor holding bytes no request
// asked for. Only the goroutine that popped the connection calls it.
func (p *idleProbe) quiet() bool {
	if p == nil {
		return true
	}
	if err := p.raw.Read(p.fn); err != nil {
		return false
	}
	return p.err == syscall.EAGAIN || p.err == syscall.EWOULDBLOCK
}
