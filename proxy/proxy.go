// Package proxy is floatseat's request path: classify each request, resolve
// who it is before forwarding, make sure a returning user has a seat, stream
// it to the Jira or Confluence node, and learn from the response who the
// request ran as. It declares the small interfaces it needs and imports no
// backend: the wiring in internal/app plugs the real parts in.
package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/noise"
)

// Who resolves the user of a request before it is forwarded, and learns
// session, remember-me and token mappings from the app's answer.
type Who interface {
	Identify(ctx context.Context, r *http.Request) identity.Identity
	Learn(r *http.Request, id identity.Identity, respHeader http.Header, user string)
}

// Hints is floatseat's browser hint cookie (identity.Hints): the last user
// the app confirmed for a browser, signed.
type Hints interface {
	// Fresh reports whether the request's hint names user and needs no
	// refresh. It must not allocate.
	Fresh(value, user string) bool
	// SetCookie is the Set-Cookie line naming user.
	SetCookie(user string, secure bool) string
	// PassCookie is the Set-Cookie line of a short SSO pass (seat page).
	PassCookie(secure bool) string
	// PassValid reports a signed, unexpired SSO pass.
	PassValid(value string) bool
}

// Noise tells background polling from real work.
type Noise interface {
	Match(method, path, rawQuery string) (rule int, ok bool)
}

// Recorder notes a user's real activity in a set of pools (bit i = pool i
// of the configuration); it must never block.
type Recorder interface {
	Record(user string, pools uint64)
}

// Work says which pools a real request counts as activity for (DESIGN
// §2.11); it must not allocate.
type Work interface {
	Activity(method, path string) uint64
}

// Seats makes sure a returning user holds a seat before the request is
// forwarded, and hears how a claim ended; internal/keeper is the one.
//
// Provisional grants (DESIGN §2.9). A grant made for a claim (a login body,
// a Basic header, a SAML NameID: id.IsClaim()) comes back with a non-zero
// Verdict.Ticket. The proxy then settles it exactly once, with Judge's
// reading of the app's answer (REFERENCE §12):
//   - when the response headers are known, before they reach the client
//     (the gadget login's answer, whose signal is in its JSON body, is held
//     back, bounded, until it is judged), so a rollback is done before the
//     client can retry;
//   - when the request ends with nothing written (the client went away, the
//     upstream failed with nobody left to tell): Judgement.Why client-gone
//     or upstream-error.
//
// Confirmed keeps the grant; Await (an SSO redirect that set a new session
// but names nobody yet) keeps it until a later response the app answers as
// that user reaches AnsweredAs, or the seat engine's wait ends; anything
// else rolls it back at once, audited with Why. A route added later (an
// OIDC callback named by a hint cookie) needs only an Identity whose
// IsClaim is true and a case in Judge.
type Seats interface {
	// Ensure runs before forwarding a non-noise request of a known user.
	Ensure(ctx context.Context, id identity.Identity, r *http.Request) Verdict
	// Settle runs once for every request that carried a claim or got a
	// ticket, with the judgement of its outcome.
	Settle(id identity.Identity, v Verdict, j Judgement)
	// AnsweredAs hears that the app answered a request as user
	// (X-AUSERNAME). It runs on every such response and must cost nothing
	// when no grant awaits confirmation.
	AnsweredAs(user string)
}

// Verdict is what the seat engine decided before forwarding.
type Verdict struct {
	// Deny answers 503 "all seats are in use" instead of forwarding.
	Deny bool
	// RetryAfter is when a seat is expected to free (Deny only).
	RetryAfter time.Duration
	// Never: no seat of the pool can free by itself (every holder is
	// excluded); the page says so instead of a time (Deny only).
	Never bool
	// Pool names the pool that was full (Deny only).
	Pool string
	// DropRememberMe removes the remember-me cookie from the forwarded
	// request: the app cannot see the grant yet and would count a failed
	// login and delete the cookie (DESIGN §2.6).
	DropRememberMe bool
	// DropSession removes the session cookie (JSESSIONID) likewise: a live
	// session does not re-read groups, so the app would refuse the work
	// (403) of a user whose grant it cannot see yet; without the session
	// it asks for a login, which does (DESIGN §2.6).
	DropSession bool
	// Granted is set when a seat was taken for this request.
	Granted bool
	// Ticket names a provisional grant made for this request's claim; the
	// proxy settles it (Seats.Settle). 0 for none.
	Ticket uint64
}

// Options configure a Proxy.
type Options struct {
	Upstream       *url.URL
	TrustedProxies []netip.Prefix
	Transport      http.RoundTripper
	ContextPath    string
	Who            Who
	Noise          Noise
	Activity       Recorder
	Work           Work      // nil: every request counts for every pool
	Seats          Seats     // nil until the seat engine is configured
	Hints          Hints     // nil: no hint cookie
	SeatPage       *SeatPage // nil: the app's SSO refusal passes unchanged
	Metrics        *Metrics
	Log            *slog.Logger
	// Product (jira, confluence) tells login routes apart, so that the
	// bounded read of a login body gets a deadline.
	Product string
	// LoginBodyTimeout bounds the read of a login body (default 10s): a
	// client that stalls part-way gets 408 and the connection is closed.
	LoginBodyTimeout time.Duration
}

// Proxy is an http.Handler.
type Proxy struct {
	opt     Options
	rp      *httputil.ReverseProxy
	obsPool sync.Pool
	lastLog atomic.Int64
}

// New builds the proxy.
func New(opt Options) *Proxy {
	if opt.LoginBodyTimeout <= 0 {
		opt.LoginBodyTimeout = 10 * time.Second
	}
	p := &Proxy{opt: opt}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      opt.Transport,
		BufferPool:     newBufferPool(256),
		ErrorHandler:   p.upstreamError,
		ModifyResponse: p.modifyResponse,
		// The stdlib logs to the global logger otherwise; errors reach us
		// through ErrorHandler and are logged there, rate limited.
		ErrorLog: slog.NewLogLogger(opt.Log.Handler(), slog.LevelDebug),
	}
	p.obsPool.New = func() any { return new(observer) }
	return p
}

// class of a request, for metrics.
type class uint8

const (
	classLogin class = iota
	classActivity
	classNoise
	classAnonymous
	classDenied
	numClasses
)

var classNames = [numClasses]string{"login", "activity", "noise", "anonymous", "denied"}

// ServeHTTP handles one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	o := p.obsPool.Get().(*observer)
	*o = observer{ResponseWriter: w, p: p, r: r}
	defer func() {
		o.finish()
		p.opt.Metrics.observe(o.class, time.Since(start))
		*o = observer{}
		p.obsPool.Put(o)
	}()

	path := strings.TrimPrefix(r.URL.Path, p.opt.ContextPath)
	o.path = path
	if path == SeatClaimPath && p.opt.SeatPage != nil && p.opt.Seats != nil && p.opt.Hints != nil {
		p.serveSeatClaim(w, r, o)
		return
	}
	if !p.identify(w, r, o, path) {
		return
	}
	switch {
	case isPortal(path):
		// JSM customers need no licence: the portal (its login included)
		// never takes, needs or keeps a seat, whoever browses it.
		o.class = classAnonymous
		if o.id.Route != identity.RouteNone {
			o.class = classLogin
		}
		o.quiet = true
		o.portal = true
	case o.id.Route != identity.RouteNone:
		o.class = classLogin
	case isStatic(path):
		o.class = classNoise
		o.quiet = true
	default:
		if rule, ok := p.opt.Noise.Match(r.Method, path, r.URL.RawQuery); ok {
			_ = rule // counted by the matcher
			o.class = classNoise
			o.quiet = true
		} else {
			o.class = classAnonymous // until the app names a user
		}
	}

	if p.opt.Seats != nil && o.id.IsClaim() && !o.portal {
		o.id.Client = p.clientAddr(r)
		o.settle = true
	}
	if p.opt.Seats != nil && !o.quiet && o.id.User != "" {
		o.verdict = p.opt.Seats.Ensure(r.Context(), o.id, r)
		o.settle = o.settle || o.verdict.Ticket != 0
		o.hold = o.verdict.Ticket != 0 && o.id.Route == identity.RouteGadgetLogin
		if o.verdict.Deny {
			o.class = classDenied
			p.opt.Metrics.denied(o.verdict.Pool)
			writeFull(w, r, o.verdict)
			return
		}
		if o.verdict.DropRememberMe {
			dropCookie(r, o.id.RememberMeCookie)
		}
		if o.verdict.DropSession {
			dropCookie(r, identity.CookieSession)
		}
	}
	if o.id.Creds.Hint != "" {
		// floatseat's own cookies are never the app's business.
		stripCookie(r, identity.HintCookie)
	}
	if o.id.Creds.SSOPass != "" {
		stripCookie(r, identity.SSOPassCookie)
	}
	if o.id.IsSSO() {
		r = p.markSeatPage(r, o)
	}
	p.rp.ServeHTTP(o, r)
}

// identify resolves who the request is. A login body is read with a
// deadline: a client that stalls part-way is answered 408 and its
// connection closed, not held open (false: the request is done).
func (p *Proxy) identify(w http.ResponseWriter, r *http.Request, o *observer, path string) bool {
	if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody ||
		!identity.ClassifyLogin(p.opt.Product, r.Method, path).ReadsBody() {
		o.id = p.opt.Who.Identify(r.Context(), r)
		return true
	}
	rc := http.NewResponseController(w)
	deadline := rc.SetReadDeadline(time.Now().Add(p.opt.LoginBodyTimeout)) == nil
	tb := &trackedBody{ReadCloser: r.Body}
	r.Body = tb
	o.id = p.opt.Who.Identify(r.Context(), r)
	if deadline && !tb.timedOut {
		// The rest of the body streams to the app with no deadline, like
		// any upload. After a timeout the deadline stays: the server must
		// not wait for the rest of the body before closing.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if tb.timedOut {
		o.class = classLogin
		w.Header().Set("Connection", "close")
		http.Error(w, "408 Request Timeout: the login form was not sent in time.", http.StatusRequestTimeout)
		return false
	}
	return true
}

// trackedBody notes a read that hit the login-body deadline.
type trackedBody struct {
	io.ReadCloser
	timedOut bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.timedOut = true
	}
	return n, err
}

// isStatic reports web resources that the app serves for a page already
// being viewed (noise.Static, shared with replay).
func isStatic(path string) bool { return noise.Static(path) }

// isPortal reports the JSM customer portal, /servicedesk/customer/…
// (REFERENCE §11).
func isPortal(path string) bool {
	return strings.HasPrefix(path, "/servicedesk/customer/") || path == "/servicedesk/customer"
}
