package proxy

import "strings"

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
