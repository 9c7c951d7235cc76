package proxy

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkUpstreamRoundTrip is one bodyless GET on a pooled connection to
// a loopback app that answers at once: the fast path's own cost, system
// calls included.
func BenchmarkUpstreamRoundTrip(b *testing.B) {
	target, _ := rawServer(b, func(c net.Conn, _ *http.Request, _ int) bool {
		_, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return err == nil
	})
	tr := Transport(time.Minute, 4)
	defer tr.(*upstream).CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, target+"/", nil)
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}

// BenchmarkUpstreamIdleProbe is the look into a pooled connection that
// each reuse pays.
func BenchmarkUpstreamIdleProbe(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := newIdleProbe(c)
	b.ReportAllocs()
	for b.Loop() {
		if !p.quiet() {
			b.Fatal("an idle connection was not quiet")
		}
	}
}
