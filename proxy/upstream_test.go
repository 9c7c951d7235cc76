package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter counts the connections an httptest server accepts.
func connCounter(s *httptest.Server) *atomic.Int32 {
	var n atomic.Int32
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func roundTrip(t *testing.T, tr http.RoundTripper, method, target string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, target, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s body: %v", method, target, err)
	}
	return resp, string(b)
}

// holdAtOnce starts n GETs of target and holds every response unread, so
// that each has a connection of its own.
func holdAtOnce(t *testing.T, tr http.RoundTripper, target string, n int) []*http.Response {
	t.Helper()
	resps := make([]*http.Response, 0, n)
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resps = append(resps, resp)
	}
	return resps
}

// drainAll reads each body to its end and closes it: the connections go
// back to the pool.
func drainAll(resps []*http.Response) {
	for _, r := range resps {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
}

func TestUpstreamReusesConnectionsAndReadsEveryFraming(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/cached":
			w.WriteHeader(http.StatusNotModified)
		case "/trailer":
			w.Header().Set("Trailer", "X-Checksum")
			w.Write([]byte("body"))
			w.Header().Set("X-Checksum", "abc")
		case "/early-hints":
			w.Header().Set("Link", "</app.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Write([]byte("after hints"))
		default:
			w.Header().Set("X-Path", r.URL.RequestURI())
			w.Write([]byte("hello " + r.Host))
		}
	}))
	conns := connCounter(s)
	s.Start()
	defer s.Close()
	tr := Transport(time.Minute, 4).(*upstream)

	for _, path := range []string{"/a?x=1", "/chunked", "/empty", "/cached", "/trailer", "/early-hints", "/b"} {
		resp, body := roundTrip(t, tr, http.MethodGet, s.URL+path)
		switch path {
		case "/a?x=1":
			if resp.Header.Get("X-Path") != "/a?x=1" || !strings.HasPrefix(body, "hello 127.0.0.1:") {
				t.Errorf("%s: %q %v", path, body, resp.Header)
			}
		case "/chunked":
			if body != "part one, part two" {
				t.Errorf("%s: %q", path, body)
			}
		case "/empty", "/cached":
			if body != "" || resp.StatusCode/100 == 2 && resp.StatusCode != 204 {
				t.Errorf("%s: %d %q", path, resp.StatusCode, body)
			}
		case "/trailer":
			if body != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
				t.Errorf("%s: %q trailer %v", path, body, resp.Trailer)
			}
		case "/early-hints":
			if resp.StatusCode != 200 || body != "after hints" {
				t.Errorf("%s: %d %q", path, resp.StatusCode, body)
			}
		}
	}
	resp, body := roundTrip(t, tr, http.MethodHead, s.URL+"/a")
	if resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("eight requests in turn opened %d connections, want 1 (keep-alive)", n)
	}
	if tr.fast.Load() != 8 || tr.slow.Load() != 0 {
		t.Errorf("fast %d slow %d, want every bodyless GET/HEAD on the fast path", tr.fast.Load(), tr.slow.Load())
	}
}

func TestUpstreamSendsTheRestToTheStdlib(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write([]byte(r.Method + ":" + string(b)))
	}))
	defer s.Close()
	tr := Transport(time.Minute, 4).(*upstream)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, s.URL+"/x", strings.NewReader("payload"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != m+":payload" {
			t.Errorf("%s: %q", m, b)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/ws", nil)
	req.Header.Set("Upgrade", "websocket")
	if fastPath(req) {
		t.Error("an upgrade took the fast path: 101 needs the stdlib's read-write body")
	}
	req, _ = http.NewRequest(http.MethodGet, "https://app.internal/", nil)
	if fastPath(req) {
		t.Error("TLS took the fast path")
	}
	if tr.slow.Load() != 3 || tr.fast.Load() != 0 {
		t.Errorf("fast %d slow %d, want 0 and 3", tr.fast.Load(), tr.slow.Load())
	}
}

// tcpServer serves each connection it accepts with serve, in a goroutine
// of its own, and closes the connection after; it returns the listener's
// address and the count of connections accepted. Cleanup waits for every
// serve to return.
func tcpServer(t testing.TB, serve func(c net.Conn)) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String(), &accepted
}

// rawServer answers each request on a connection with handle; it is for
// what httptest cannot do (close a kept-alive connection, never answer).
func rawServer(t testing.TB, handle func(c net.Conn, r *http.Request, n int) bool) (string, *atomic.Int32) {
	t.Helper()
	addr, accepted := tcpServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for n := 0; ; n++ {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if !handle(c, r, n) {
				return
			}
		}
	})
	return "http://" + addr, accepted
}

func TestUpstreamRetriesOnceWhenTheAppClosedAnIdleConnection(t *testing.T) {
	closed := make(chan struct{}, 4)
	target, accepted := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		closed <- struct{}{} // as Tomcat does at its keep-alive timeout: answer, then close while idle
		return false
	})
	tr := Transport(time.Minute, 4).(*upstream)
	for i := 0; i < 3; i++ {
		if _, body := roundTrip(t, tr, http.MethodGet, target+"/"); body != "ok" {
			t.Fatalf("request %d: %q", i, body)
		}
		<-closed
	}
	if n := accepted.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (each retry on a new one)", n)
	}
}

func TestUpstreamDoesNotRetryAfterAnAnswerStarted(t *testing.T) {
	target, accepted := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le") // cut mid-head
		return false
	})
	tr := Transport(time.Minute, 4)
	req, _ := http.NewRequest(http.MethodGet, target+"/", nil)
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("a head cut short was taken as a response")
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1: an answer had begun", n)
	}
}

func TestUpstreamClosesABodyClosedEarlyInsteadOfDrainingIt(t *testing.T) {
	target, accepted := rawServer(t, func(c net.Conn, r *http.Request, n int) bool {
		if r.URL.Path != "/big" {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return true
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n")
		chunk := make([]byte, 32<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				return false // the proxy hung up: what the test waits for
			}
		}
	})
	tr := Transport(time.Minute, 4).(*upstream)
	defer tr.CloseIdleConnections() // else the server's handler waits on the kept connection
	req, _ := http.NewRequest(http.MethodGet, target+"/big", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // a client gone mid-download; returns without reading 100 MB
	if _, body := roundTrip(t, tr, http.MethodGet, target+"/small"); body != "ok" {
		t.Errorf("after an early close: %q", body)
	}
	if n := accepted.Load(); n != 2 {
		t.Errorf("%d connections, want 2: a half-read connection is never reused", n)
	}
}

func TestUpstreamAbortsWhenTheClientGoesAway(t *testing.T) {
	release := make(chan struct{})
	target, _ := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		<-release // never answers while the test waits
		return false
	})
	defer close(release)
	tr := Transport(time.Hour, 4)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target+"/slow", nil)
	done := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(req)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

func TestUpstreamBoundsTheWaitForAHead(t *testing.T) {
	release := make(chan struct{})
	target, _ := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		<-release
		return false
	})
	defer close(release)
	tr := Transport(20*time.Millisecond, 4)
	req, _ := http.NewRequest(http.MethodGet, target+"/slow", nil)
	_, err := tr.RoundTrip(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err %v, want a timeout", err)
	}
}

func TestUpstreamHonoursConnectionCloseAndThePoolBound(t *testing.T) {
	target, accepted := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
		return true // keeps reading: only the client's close ends it
	})
	tr := Transport(time.Minute, 4).(*upstream)
	roundTrip(t, tr, http.MethodGet, target+"/")
	roundTrip(t, tr, http.MethodGet, target+"/")
	if n := accepted.Load(); n != 2 {
		t.Errorf("%d connections, want 2: Connection: close is honoured", n)
	}

	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }))
	defer s.Close()
	tr = Transport(time.Minute, 2).(*upstream)
	drainAll(holdAtOnce(t, tr, s.URL, 5)) // five at once: five connections
	u, _ := url.Parse(s.URL)
	tr.mu.Lock()
	idle := len(tr.idle[u.Host])
	tr.mu.Unlock()
	if idle != 2 {
		t.Errorf("%d idle connections kept, want the bound, 2", idle)
	}
}

// A header timeout is the app's answer being late, not a pooled connection
// found closed: net/http's Transport gives up, and so must the fast path.
// Sending the request again would double the wait and hand a struggling
// app the same (possibly heavy) request twice.
func TestUpstreamDoesNotRetryAHeaderTimeoutOnAPooledConnection(t *testing.T) {
	release := make(chan struct{})
	var requests atomic.Int32
	target, accepted := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		requests.Add(1)
		if n == 0 && requests.Load() == 1 {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return true
		}
		<-release // the second request on the pooled connection: never answered in time
		return false
	})
	defer close(release)
	tr := Transport(50*time.Millisecond, 4)
	roundTrip(t, tr, http.MethodGet, target+"/first")
	req, _ := http.NewRequest(http.MethodGet, target+"/slow", nil)
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %d, want a header timeout", resp.StatusCode)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err %v, want a timeout", err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("the app got %d requests, want 2: a late answer is not sent again", n)
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// gateCtx is a request context whose Err, once armed, reports the first
// caller (the watchdog) and holds it until released, then says Canceled:
// a client that went away at the worst moment, made to happen on demand.
type gateCtx struct {
	context.Context
	armed   atomic.Bool
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (c *gateCtx) Err() error {
	if !c.armed.Load() {
		return nil
	}
	c.once.Do(func() {
		close(c.entered)
		<-c.release
	})
	return context.Canceled
}

// seenCtx reports the first call to Err.
type seenCtx struct {
	context.Context
	once sync.Once
	seen chan struct{}
}

func (c *seenCtx) Err() error {
	c.once.Do(func() { close(c.seen) })
	return nil
}

// The watchdog reads a connection's request, then judges it. Between the
// two the request can end (its context is cancelled when its handler
// returns) and the connection go to the next request: the abort meant for
// the first must not fall on the second.
func TestUpstreamWatchdogNeverAbortsTheNextRequestOnAConnection(t *testing.T) {
	second, answer := make(chan struct{}), make(chan struct{})
	target, accepted := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		if n == 0 {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
			return true
		}
		close(second)
		<-answer
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
		return true
	})
	tr := Transport(time.Hour, 4).(*upstream)
	defer tr.CloseIdleConnections()

	ctxA := &gateCtx{Context: context.Background(), entered: make(chan struct{}), release: make(chan struct{})}
	reqA, _ := http.NewRequestWithContext(ctxA, http.MethodGet, target+"/a", nil)
	respA, err := tr.RoundTrip(reqA)
	if err != nil {
		t.Fatal(err)
	}
	ctxA.armed.Store(true)
	<-ctxA.entered // the watchdog holds request A and is asking about it
	if b, _ := io.ReadAll(respA.Body); string(b) != "a" {
		t.Fatalf("first body %q", b)
	}
	respA.Body.Close() // A is done; its connection is back in the pool

	ctxB := &seenCtx{Context: context.Background(), seen: make(chan struct{})}
	reqB, _ := http.NewRequestWithContext(ctxB, http.MethodGet, target+"/b", nil)
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := tr.RoundTrip(reqB)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{string(b), err}
	}()
	<-second            // B is on A's connection, awaiting its head
	close(ctxA.release) // A's client is gone, as the watchdog now learns
	var res result
	select {
	case <-ctxB.seen: // the watchdog's next round: it looked at B, so it is done with A
	case res = <-done:
	}
	close(answer)
	if res == (result{}) {
		res = <-done
	}
	if res.err != nil || res.body != "b" {
		t.Errorf("second request: %q, %v; want b, <nil>", res.body, res.err)
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1: the second request keeps the first's connection", n)
	}
}

// Tomcat closes a keep-alive connection idle past its keepAliveTimeout (20 s
// in Jira's server.xml), so after a quiet spell every pooled connection is
// closed, and a request can be written just as the app closes the one it
// took (here: the app closes each pooled connection as the next request
// arrives). The one retry must go to a new connection, not to the next
// pooled one, which is just as dead.
func TestUpstreamRetriesOnANewConnectionWhenEveryPooledOneIsClosed(t *testing.T) {
	target, accepted := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		if n > 0 {
			return false // closed without an answer
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	tr := Transport(time.Minute, 4).(*upstream)
	defer tr.CloseIdleConnections()
	// Two at once: two connections, both pooled once read.
	drainAll(holdAtOnce(t, tr, target+"/", 2))
	req, _ := http.NewRequest(http.MethodGet, target+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("with every pooled connection closing: %v, want an answer on a new connection", err)
	}
	resp.Body.Close()
	if n := accepted.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// ReverseProxy forwards an informational answer (103 Early Hints) to the
// client through httptrace's Got1xxResponse, which net/http's Transport
// calls; the fast path must too, or the hints stop at floatseat.
func TestUpstreamForwardsEarlyHintsThroughReverseProxy(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Write([]byte("page"))
	}))
	defer app.Close()
	u, _ := url.Parse(app.URL)
	tr := Transport(time.Minute, 4).(*upstream)
	defer tr.CloseIdleConnections()
	front := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport: tr,
	})
	defer front.Close()

	var hints []string
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, front.URL+"/", nil)
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "page" {
		t.Errorf("got %d %q, want 200 page", resp.StatusCode, b)
	}
	if want := "103 </app.css>; rel=preload"; len(hints) != 1 || hints[0] != want {
		t.Errorf("client saw informational answers %q, want [%q]", hints, want)
	}
	if tr.fast.Load() != 1 {
		t.Errorf("fast %d, want the request on the fast path", tr.fast.Load())
	}
}

// A client can leave before its request is forwarded (while its seat was
// granted, say). net/http's Transport checks the context first; the fast
// path must not send the app work for nobody, nor spend a pooled
// connection on it.
func TestUpstreamSendsNothingForAClientAlreadyGone(t *testing.T) {
	var requests atomic.Int32
	target, accepted := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		requests.Add(1)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	tr := Transport(time.Minute, 4).(*upstream)
	defer tr.CloseIdleConnections()
	roundTrip(t, tr, http.MethodGet, target+"/")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target+"/gone", nil)
	if resp, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		if err == nil {
			resp.Body.Close()
		}
		t.Fatalf("err %v, want context.Canceled", err)
	}
	roundTrip(t, tr, http.MethodGet, target+"/")
	if n := requests.Load(); n != 2 {
		t.Errorf("the app got %d requests, want 2: none for the client already gone", n)
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1: the pooled one is kept", n)
	}
}

// The fast path dials the app itself; the fallback must too, or with
// HTTP_PROXY set (common on corporate hosts) a node's GETs would go
// straight to the app and its POSTs (logins, with their passwords) through
// the egress proxy. net/http reads the environment once per process, so
// the test reads the transport's setting rather than setting the variable.
func TestUpstreamFallbackIgnoresTheProxyEnvironment(t *testing.T) {
	tr := Transport(time.Minute, 4).(*upstream)
	if tr.fallback.Proxy != nil {
		t.Error("the fallback transport consults a proxy; the fast path never does")
	}
}

// Through ReverseProxy, a streamed answer (an event stream, a chunked
// body) reaches the client part by part as the app flushes it: each part
// is read by the client before the app writes the next, which a buffered
// path would never deliver. Trailers follow the body.
func TestUpstreamStreamsThroughReverseProxy(t *testing.T) {
	next := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
		}
		w.Header().Set("Trailer", "X-Done")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("X-Done", "yes")
	}))
	defer app.Close()
	u, _ := url.Parse(app.URL)
	tr := Transport(time.Minute, 4).(*upstream)
	defer tr.CloseIdleConnections()
	front := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport: tr,
	})
	defer front.Close()

	for _, path := range []string{"/events", "/chunked"} {
		resp, err := front.Client().Get(front.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		for i := 0; i < 3; i++ {
			line, err := br.ReadString('\n')
			if want := fmt.Sprintf("data: %d\n", i); err != nil || line != want {
				t.Fatalf("%s: part %d: %q, %v; want %q", path, i, line, err, want)
			}
			br.ReadString('\n')
			next <- struct{}{}
		}
		if rest, _ := io.ReadAll(br); len(rest) != 0 {
			t.Errorf("%s: after the parts: %q", path, rest)
		}
		resp.Body.Close()
		if got := resp.Trailer.Get("X-Done"); got != "yes" {
			t.Errorf("%s: trailer X-Done %q, want yes", path, got)
		}
	}
	if tr.fast.Load() != 2 {
		t.Errorf("fast %d, want both streams on the fast path", tr.fast.Load())
	}
}

// headCatcher is an app that answers every request with "ok" and keeps the
// raw bytes of each request head it read.
func headCatcher(t *testing.T) (string, <-chan string) {
	t.Helper()
	heads := make(chan string, 16)
	target, _ := rawServer(t, func(c net.Conn, r *http.Request, n int) bool {
		if r.Method == http.MethodHead {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
			return true
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	// rawServer parses; a second listener in front keeps the bytes.
	addr, _ := tcpServer(t, func(c net.Conn) {
		up, err := net.Dial("tcp", strings.TrimPrefix(target, "http://"))
		if err != nil {
			return
		}
		defer up.Close()
		go io.Copy(c, up)
		br := bufio.NewReader(c)
		for {
			var head strings.Builder
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			heads <- head.String()
			io.WriteString(up, head.String())
		}
	})
	return "http://" + addr, heads
}

// What goes on the wire is what net/http's Transport writes for the same
// request out of ReverseProxy: the client's Host, no Go User-Agent when
// the client sent none, Te: trailers, X-Forwarded-*, no hop-by-hop header.
func TestUpstreamWritesWhatTheStdlibWrites(t *testing.T) {
	target, heads := headCatcher(t)
	u, _ := url.Parse(target)
	fast := Transport(time.Minute, 4).(*upstream)
	defer fast.CloseIdleConnections()
	std := StdlibTransport(time.Minute, 4)
	defer std.CloseIdleConnections()
	var got []string
	for _, tr := range []http.RoundTripper{fast, std} {
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(u)
				pr.Out.Host = pr.In.Host
				pr.SetXForwarded()
			},
			Transport: tr,
		}
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
			in := httptest.NewRequest(method, "http://jira.example.com/browse/ABC-1?x=%2F", nil)
			in.Header["User-Agent"] = nil
			delete(in.Header, "User-Agent")
			in.Header.Set("Te", "trailers")
			in.Header.Set("Connection", "keep-alive, X-Hop")
			in.Header.Set("X-Hop", "drop me")
			in.Header.Set("Keep-Alive", "timeout=5")
			in.Header.Add("Cookie", "JSESSIONID=abc")
			in.Header.Add("Accept", "text/html")
			w := httptest.NewRecorder()
			rp.ServeHTTP(w, in)
			if w.Code != 200 {
				t.Fatalf("%s: %d", method, w.Code)
			}
			got = append(got, <-heads)
		}
	}
	if fast.fast.Load() != 3 {
		t.Fatalf("fast %d, want the three requests on the fast path", fast.fast.Load())
	}
	for i := 0; i < 3; i++ {
		if got[i] != got[i+3] {
			t.Errorf("the fast path wrote\n%s\nnet/http wrote\n%s", got[i], got[i+3])
		}
	}
	if h := got[0]; strings.Contains(h, "User-Agent") || strings.Contains(h, "X-Hop") ||
		!strings.Contains(h, "Host: jira.example.com\r\n") || !strings.Contains(h, "Te: trailers\r\n") ||
		!strings.Contains(h, "X-Forwarded-For: 192.0.2.1\r\n") {
		t.Errorf("request head:\n%s", h)
	}
}

// A response head is bounded at 1 MiB, as net/http's is, informational
// answers nobody looked at included: an app (or something posing as it)
// cannot make floatseat buffer an endless head.
func TestUpstreamBoundsTheResponseHead(t *testing.T) {
	big := strings.Repeat("x", 300<<10)
	for _, tc := range []struct {
		name, head string
	}{
		{"one head", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat(big, 4) + "\r\nContent-Length: 0\r\n\r\n"},
		{"hints, then the answer", strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: "+big+"\r\n\r\n", 4) +
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, _ := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
				io.WriteString(c, tc.head)
				return false
			})
			tr := Transport(time.Minute, 4)
			req, _ := http.NewRequest(http.MethodGet, target+"/", nil)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("a head over 1 MiB was taken: %d", resp.StatusCode)
			}
			if !errors.Is(err, errHeadTooLarge) {
				t.Errorf("err %v, want %v", err, errHeadTooLarge)
			}
		})
	}
	// Under the bound, it passes.
	head := "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\nContent-Length: 2\r\n\r\nok"
	target, _ := rawServer(t, func(c net.Conn, _ *http.Request, n int) bool {
		io.WriteString(c, head)
		return false
	})
	if resp, body := roundTrip(t, Transport(time.Minute, 4), http.MethodGet, target+"/"); len(resp.Header.Get("X-Big")) != len(big) || body != "ok" {
		t.Errorf("a 300 KiB header: got %d bytes of it and %q", len(resp.Header.Get("X-Big")), body)
	}
}

// A connection idle past the timeout is closed when another one is put
// back beside it, not kept to the bound.
func TestUpstreamPutClosesConnectionsIdlePastTheTimeout(t *testing.T) {
	tr := Transport(time.Minute, 4).(*upstream)
	stale, stalePeer := net.Pipe()
	fresh, freshPeer := net.Pipe()
	defer stalePeer.Close()
	defer freshPeer.Close()
	old := &upConn{conn: stale, key: "app:80", idleAt: time.Now().Add(-2 * idleConnTimeout)}
	tr.idle["app:80"] = []*upConn{old}
	tr.open[old] = struct{}{}
	c := &upConn{conn: fresh, key: "app:80"}
	tr.open[c] = struct{}{}
	tr.put(c)
	defer tr.CloseIdleConnections()
	if l := tr.idle["app:80"]; len(l) != 1 || l[0] != c {
		t.Fatalf("idle %v, want only the connection just put", l)
	}
	if _, ok := tr.open[old]; ok {
		t.Error("the stale connection is still counted open")
	}
	if _, err := stalePeer.Write([]byte("x")); err == nil {
		t.Error("the stale connection is not closed")
	}
}

// The fast path dials what net/http's Transport dials: port 80 by default,
// and an IPv6 literal with its brackets once, not twice.
func TestDialAddr(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"http://jira:8080/x", "jira:8080"},
		{"http://jira/x", "jira:80"},
		{"http://127.0.0.1/", "127.0.0.1:80"},
		{"http://[::1]:8080/", "[::1]:8080"},
		{"http://[::1]/", "[::1]:80"},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := dialAddr(u); got != c.want {
			t.Errorf("%s: got %s, want %s", c.url, got, c.want)
		}
	}
}
