package proxy

// The upstream client. Nearly every request floatseat forwards is a GET
// with no body to a plain-HTTP app on the same host; net/http's Transport
// serves each of them through two goroutines per connection (a reader and
// a writer) and hands the request and the response between them and the
// handler, and on two cores those hand-offs (scheduler wake-ups) cost more
// CPU than floatseat's own work. upstream writes such a request and reads
// the response head in the handler's own goroutine over a pool of
// keep-alive connections. Everything else (a body, an upgrade, a method
// that may not be retried, TLS) goes to the stdlib Transport unchanged.
// docs/benchmarks.md has the numbers.
//
// Where it knowingly falls short of net/http's Transport, and why that is
// accepted:
//   - The watchdog ticks (every 250 ms, or a quarter of the header timeout
//     if that is shorter). A client that went away has its app connection
//     cut up to a tick late, and the header timeout is honoured to within a
//     tick: the price of a lock per request instead of a context
//     registration and two deadline changes.
//   - Nothing reads an idle connection. One the app closed (Tomcat's
//     keepAliveTimeout) stays open on our side until it is popped, when the
//     probe finds it closed, or until the 90 s idle timeout: at most
//     max_idle_conns_per_host sockets in CLOSE_WAIT. Bytes the app sends
//     between the probe and the request being written are taken as the
//     answer, the same window net/http has. Off unix there is no probe: a
//     closed pooled connection costs the retry, stray bytes are not seen.
//     floatseat ships for Linux.
//   - A failure on a pooled connection before any byte of an answer is
//     retried once, on a new connection; net/http goes on through its other
//     pooled connections, which it knows to be open.
//   - Busy connections are not bounded (nor are they with net/http's
//     default MaxConnsPerHost): a burst opens as many as there are requests
//     in flight, and only max_idle_conns_per_host are kept after it.
//   - An HTTP/1.0 answer is never kept alive, even with Keep-Alive.
//   - Of httptrace only Got1xxResponse is served, the one ReverseProxy uses.
//   - A body cut by the watchdog reads as an i/o timeout, not as
//     context.Canceled; ReverseProxy then aborts the response (the client
//     is gone) and logs it at debug level through floatseat's ErrorLog.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Transport returns the upstream transport floatseat recommends: keep-alive
// pools sized for a busy Jira node, a bound on waiting for response headers,
// and no transparent compression so bodies pass through untouched. The
// common request is served in the caller's goroutine; the rest by
// StdlibTransport.
func Transport(responseHeaderTimeout time.Duration, maxIdlePerHost int) http.RoundTripper {
	return &upstream{
		fallback:      StdlibTransport(responseHeaderTimeout, maxIdlePerHost),
		dial:          dialer.DialContext,
		headerTimeout: responseHeaderTimeout,
		maxIdle:       maxIdlePerHost,
		idle:          map[string][]*upConn{},
		open:          map[*upConn]struct{}{},
	}
}

var dialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

// StdlibTransport is the same transport built on net/http alone: what
// Transport falls back to, and the benchmark's reference row. It reaches
// the app directly, as the fast path does: an HTTP_PROXY meant for the
// host's outbound traffic must not carry the app's logins.
func StdlibTransport(responseHeaderTimeout time.Duration, maxIdlePerHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.MaxIdleConns = 4 * maxIdlePerHost
	t.MaxIdleConnsPerHost = maxIdlePerHost
	t.IdleConnTimeout = idleConnTimeout
	t.ResponseHeaderTimeout = responseHeaderTimeout
	t.ExpectContinueTimeout = time.Second
	t.DisableCompression = true
	t.ForceAttemptHTTP2 = false
	t.DialContext = dialer.DialContext
	return t
}

const (
	idleConnTimeout = 90 * time.Second
	// maxResponseHeader bounds a response head, as the stdlib's default.
	maxResponseHeader = 1 << 20
	// max1xx bounds the informational responses (103 Early Hints) before
	// the final one, as the stdlib does.
	max1xx = 5
)

// upstream is an http.RoundTripper: the fast path for what it can serve
// alone, fallback for the rest.
type upstream struct {
	fallback      *http.Transport
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	headerTimeout time.Duration
	maxIdle       int

	mu       sync.Mutex
	idle     map[string][]*upConn // per host:port, most recently used last
	open     map[*upConn]struct{} // every connection, idle or busy
	watching bool                 // the watchdog runs (while open is not empty)

	fast, slow atomic.Uint64 // requests served by each path (tests)
}

// upConn is one keep-alive connection to the app.
type upConn struct {
	conn   net.Conn
	lr     io.LimitedReader // conn, bounded while a head is read
	br     *bufio.Reader
	bw     *bufio.Writer
	key    string
	idleAt time.Time // under upstream.mu
	probe  *idleProbe

	// What the watchdog judges, under mu: the request in flight (nil when
	// idle), since when its head is awaited (0 before it is sent and once
	// it has arrived), and whether the watchdog cut the connection. The
	// watchdog decides and aborts under mu, so an abort meant for one
	// request can never fall on the next one the connection serves.
	mu        sync.Mutex
	req       *http.Request
	waitSince int64
	aborted   bool
}

// begin attaches r to c.
func (c *upConn) begin(r *http.Request) {
	c.mu.Lock()
	c.req = r
	c.mu.Unlock()
}

// awaitHead starts the header timeout.
func (c *upConn) awaitHead() {
	now := time.Now().UnixNano()
	c.mu.Lock()
	c.waitSince = now
	c.mu.Unlock()
}

// headArrived stops the header timeout; false if the watchdog cut the
// connection first.
func (c *upConn) headArrived() bool {
	c.mu.Lock()
	c.waitSince = 0
	ok := !c.aborted
	c.mu.Unlock()
	return ok
}

// end detaches the request; it reports whether the watchdog cut the
// connection (its deadline is in the past: it is not reused).
func (c *upConn) end() (aborted bool) {
	c.mu.Lock()
	c.req, c.waitSince = nil, 0
	aborted = c.aborted
	c.mu.Unlock()
	return aborted
}

// fastPath reports whether the request can be served in the caller's
// goroutine: no body to stream (and no 100-continue to wait for), a method
// that may be sent again if a pooled connection turns out to be closed,
// plain HTTP, and not a protocol upgrade (101 needs the stdlib's
// read-write body).
func fastPath(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	return r.URL.Scheme == "http" &&
		(r.Body == nil || r.Body == http.NoBody) && r.ContentLength == 0 &&
		len(r.TransferEncoding) == 0 && len(r.Trailer) == 0 &&
		r.Header["Upgrade"] == nil && r.Header["Expect"] == nil
}

// RoundTrip implements http.RoundTripper.
func (t *upstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if !fastPath(r) {
		t.slow.Add(1)
		return t.fallback.RoundTrip(r)
	}
	t.fast.Add(1)
	key := dialAddr(r.URL)
	for attempt := 0; ; attempt++ {
		// A client gone before its request is sent (while its seat was
		// granted, say) costs the app nothing, as with net/http.
		if err := r.Context().Err(); err != nil {
			return nil, err
		}
		c, reused, err := t.get(r.Context(), key, attempt > 0)
		if err != nil {
			return nil, err
		}
		resp, sent, err := t.exchange(c, r)
		if err == nil {
			return resp, nil
		}
		aborted := c.end()
		t.close(c)
		if ctxErr := r.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		// The watchdog cut a head that was late: the app is slow, not gone.
		// As with net/http's ResponseHeaderTimeout the request fails; sent
		// again it would double the wait and the app's work.
		if aborted {
			return nil, errHeaderTimeout
		}
		// A pooled connection the app closed while it sat idle fails
		// before any byte of an answer: the request is sent again, once,
		// on a new connection (the method is one that may be). Not on the
		// next pooled one: after a quiet spell the app has closed them all.
		if reused && !sent && attempt == 0 {
			continue
		}
		return nil, err
	}
}

// dialAddr is the host:port to dial for u, an http URL, as net/http's
// Transport forms it: port 80 when none is given. An IPv6 literal keeps
// its one pair of brackets ("[::1]" dials "[::1]:80").
func dialAddr(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// errNoAnswer marks a connection that gave no byte of a response.
var errNoAnswer = errors.New("upstream closed the connection before answering")

// errHeadTooLarge is a response head over maxResponseHeader.
var errHeadTooLarge = fmt.Errorf("the response head exceeds %d bytes", maxResponseHeader)

// errHeaderTimeout is a response head later than the header timeout, like
// net/http's "timeout awaiting response headers": a net.Error whose
// Timeout is true.
var errHeaderTimeout error = headerTimeoutError{}

type headerTimeoutError struct{}

func (headerTimeoutError) Error() string   { return "timeout awaiting the app's response headers" }
func (headerTimeoutError) Timeout() bool   { return true }
func (headerTimeoutError) Temporary() bool { return true }

// exchange writes r on c and reads the response head. sent reports whether
// any byte of a response arrived (the request cannot be retried then).
func (t *upstream) exchange(c *upConn, r *http.Request) (resp *http.Response, sent bool, err error) {
	// The watchdog aborts the I/O of a request whose client went away (or
	// whose head is late): an uncontended lock here instead of a context
	// registration and two deadline changes per request. On failure the
	// caller ends the exchange and closes c.
	c.begin(r)
	if err := r.Write(c.bw); err != nil {
		return nil, sent, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, sent, err
	}
	c.awaitHead()
	c.lr.N = maxResponseHeader
	if _, err := c.br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			err = errNoAnswer
		}
		return nil, sent, err
	}
	sent = true
	for n := 0; ; n++ {
		resp, err = http.ReadResponse(c.br, r)
		if err != nil {
			if c.lr.N <= 0 {
				err = errHeadTooLarge
			}
			return nil, sent, fmt.Errorf("reading the app's response: %w", err)
		}
		code := resp.StatusCode
		if code >= 200 || code == http.StatusSwitchingProtocols {
			break
		}
		if n == max1xx {
			return nil, sent, errors.New("too many informational responses from the app")
		}
		// As net/http's Transport: an informational answer goes to the
		// trace, through which ReverseProxy forwards it to the client; one
		// delivered restarts the bound on the head.
		if trace := httptrace.ContextClientTrace(r.Context()); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, sent, err
			}
			c.lr.N = maxResponseHeader
		}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return nil, sent, errors.New("the app switched protocols on a request that asked for no upgrade")
	}
	if !c.headArrived() {
		return nil, sent, errHeaderTimeout // cut as the head came: its body would fail
	}
	c.lr.N = math.MaxInt64
	keep := !resp.Close && !r.Close && resp.ProtoAtLeast(1, 1)
	resp.Body = &upBody{rc: resp.Body, c: c, t: t, keep: keep}
	return resp, true, nil
}

// upBody gives the connection back to the pool once the body has been read
// to its end, and closes it if the body is closed before: a body is never
// drained on close, since a client gone mid-download would otherwise make
// floatseat read the rest of the file.
type upBody struct {
	rc   io.ReadCloser
	c    *upConn
	t    *upstream
	keep bool
	done atomic.Bool
}

func (b *upBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	}
	return n, err
}

func (b *upBody) Close() error {
	b.finish(false)
	return nil
}

func (b *upBody) finish(eof bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	// A connection the watchdog aborted has its deadline in the past: it
	// is not reused.
	aborted := b.c.end()
	if eof && b.keep && !aborted && b.c.br.Buffered() == 0 {
		b.t.put(b.c)
		return
	}
	b.t.close(b.c)
}

// get pops the most recently used idle connection to key, or dials one
// (always when fresh). A pooled connection is looked into first: one the
// app closed while it sat idle is not written to, and one holding bytes
// that no request asked for (a 408 some servers send before closing an
// idle connection, the excess of a wrong Content-Length) must not have
// them taken for the next request's answer.
func (t *upstream) get(ctx context.Context, key string, fresh bool) (*upConn, bool, error) {
	for !fresh {
		c := t.pop(key)
		if c == nil {
			break
		}
		if c.probe.quiet() {
			return c, true, nil
		}
		t.close(c)
	}
	conn, err := t.dial(ctx, "tcp", key)
	if err != nil {
		return nil, false, err
	}
	c := &upConn{conn: conn, key: key, probe: newIdleProbe(conn)}
	c.lr = io.LimitedReader{R: conn, N: math.MaxInt64}
	c.br = bufio.NewReaderSize(&c.lr, 4<<10)
	c.bw = bufio.NewWriterSize(conn, 4<<10)
	t.mu.Lock()
	t.open[c] = struct{}{}
	if !t.watching {
		t.watching = true
		go t.watch()
	}
	t.mu.Unlock()
	return c, false, nil
}

// pop takes the most recently used idle connection to key, nil for none,
// closing those idle past the timeout on the way.
func (t *upstream) pop(key string) *upConn {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for l := t.idle[key]; len(l) > 0; l = t.idle[key] {
		c := l[len(l)-1]
		l[len(l)-1] = nil
		t.idle[key] = l[:len(l)-1]
		if now.Sub(c.idleAt) < idleConnTimeout {
			return c
		}
		t.closeLocked(c)
	}
	return nil
}

func (t *upstream) close(c *upConn) {
	t.mu.Lock()
	t.closeLocked(c)
	t.mu.Unlock()
}

func (t *upstream) closeLocked(c *upConn) {
	delete(t.open, c)
	c.conn.Close()
}

// watch aborts the I/O of connections whose request's client went away or
// whose response head is later than the header timeout, and closes idle
// connections past the idle timeout. It runs while any connection is open.
func (t *upstream) watch() {
	tick := 250 * time.Millisecond
	if t.headerTimeout > 0 && t.headerTimeout/4 < tick {
		tick = max(t.headerTimeout/4, time.Millisecond)
	}
	tk := time.NewTicker(tick)
	defer tk.Stop()
	var busy []*upConn
	for now := range tk.C {
		t.mu.Lock()
		if len(t.open) == 0 {
			t.watching = false
			t.mu.Unlock()
			return
		}
		for k := range t.idle {
			t.expireLocked(k, now)
		}
		busy = busy[:0]
		for c := range t.open {
			busy = append(busy, c)
		}
		t.mu.Unlock()
		for _, c := range busy {
			t.judge(c, now.UnixNano())
		}
	}
}

// judge aborts c's I/O if its request's head is late or its client went
// away. The context is asked outside c.mu (a context's Err takes a lock of
// its own, and may be anyone's); the abort is then made under c.mu only if
// c still serves that request and, for lateness, still awaits that head:
// meanwhile the request may have ended and c gone on to the next one.
func (t *upstream) judge(c *upConn, now int64) {
	c.mu.Lock()
	r, w, aborted := c.req, c.waitSince, c.aborted
	c.mu.Unlock()
	if r == nil || aborted {
		return
	}
	late := w != 0 && t.headerTimeout > 0 && now-w > int64(t.headerTimeout)
	if !late && r.Context().Err() == nil {
		return
	}
	c.mu.Lock()
	if c.req == r && !c.aborted && (!late || c.waitSince == w) {
		c.aborted = true
		_ = c.conn.SetDeadline(aLongTimeAgo)
	}
	c.mu.Unlock()
}

// put returns c to the pool, closing it if the pool is full; connections
// idle past the timeout at the cold end are closed on the way.
func (t *upstream) put(c *upConn) {
	now := time.Now()
	c.idleAt = now
	t.mu.Lock()
	l := t.expireLocked(c.key, now)
	if len(l) >= t.maxIdle {
		t.closeLocked(c)
		t.mu.Unlock()
		return
	}
	t.idle[c.key] = append(l, c)
	t.mu.Unlock()
}

// expireLocked closes the connections to key idle past the timeout, at
// the cold end of its list, and returns what is left.
func (t *upstream) expireLocked(key string, now time.Time) []*upConn {
	l := t.idle[key]
	for len(l) > 0 && now.Sub(l[0].idleAt) >= idleConnTimeout {
		t.closeLocked(l[0])
		l[0] = nil
		l = l[1:]
	}
	t.idle[key] = l
	return l
}

// CloseIdleConnections closes every idle connection, of both paths.
func (t *upstream) CloseIdleConnections() {
	t.mu.Lock()
	for k, l := range t.idle {
		for _, c := range l {
			t.closeLocked(c)
		}
		delete(t.idle, k)
	}
	t.mu.Unlock()
	t.fallback.CloseIdleConnections()
}

// aLongTimeAgo is a deadline that has passed: it makes blocked I/O return.
var aLongTimeAgo = time.Unix(1, 0)
