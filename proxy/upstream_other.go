//go:build !unix

package proxy

import "net"

// idleProbe is the unix pool's look into an idle socket; elsewhere a
// pooled connection is taken on trust (see upstream.go's limitations).
type idleProbe struct{}

func newIdleProbe(net.Conn) *idleProbe { return nil }

func (*idleProbe) quiet() bool { return true }
