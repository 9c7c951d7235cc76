package proxy

import (
	"net/http/httputil"
	"strings"
)

// bufferPool recycles the 32 KiB copy buffers of the reverse proxy. A
// buffered channel (not sync.Pool) keeps Put free of the allocation that
// boxing a slice into an interface costs.
type bufferPool chan []byte

func newBufferPool(n int) bufferPool { return make(bufferPool, n) }

func (p bufferPool) Get() []byte {
	select {
	case b := <-p:
		return b
	default:
		return make([]byte, 32<<10)
	}
}

func (p bufferPool) Put(b []byte) {
	select {
	case p <- b:
	default:
	}
}

func stringsEqualFold(a, b string) bool { return strings.EqualFold(a, b) }

// NewBufferPool returns the copy-buffer pool floatseat's reverse proxy
// uses, holding up to n buffers; the benchmark gives a bare
// httputil.ReverseProxy the same one so the comparison is fair.
func NewBufferPool(n int) httputil.BufferPool { return newBufferPool(n) }
