package proxy

import (
	"net/http"
	"strings"

	"github.com/floatseat/floatseat/internal/identity"
)

// maxHeldBody bounds what is held back of a response whose success signal
// is in its body (the gadget login answers with a small JSON).
const maxHeldBody = 16 << 10

// observer wraps the client's ResponseWriter for one request. It sees the
// app's response headers the moment they are written, learns who the
// request ran as, and records activity, without buffering the body. It is
// pooled: one request costs no allocation for it.
type observer struct {
	http.ResponseWriter
	p       *Proxy
	r       *http.Request
	path    string // without the context path
	id      identity.Identity
	verdict Verdict
	class   class
	quiet   bool // noise, static or portal: learn identities, record no activity
	portal  bool // JSM customer portal: no seat, no login result
	wrote   bool
	// settle: the request carried a claim or got a provisional grant, so
	// the seat engine hears how it ended, exactly once (settled).
	settle  bool
	settled bool
	// hold: the success signal is in the body; the response is held back
	// (bounded) until it can be judged, so a rollback happens before the
	// client sees the answer.
	hold     bool
	status   int
	held     []byte
	released bool
}

// Unwrap lets http.ResponseController reach Hijack (WebSocket upgrades) and
// deadlines on the real writer.
func (o *observer) Unwrap() http.ResponseWriter { return o.ResponseWriter }

// FlushError flushes the real writer, except while a response is held.
func (o *observer) FlushError() error {
	if o.hold && !o.released {
		return nil
	}
	return http.NewResponseController(o.ResponseWriter).Flush()
}

func (o *observer) WriteHeader(code int) {
	if !o.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		o.wrote = true
		o.status = code
		if o.hold {
			return // written by release
		}
		o.seen(o.ResponseWriter.Header())
	}
	o.ResponseWriter.WriteHeader(code)
}

func (o *observer) Write(b []byte) (int, error) {
	if !o.wrote {
		o.WriteHeader(http.StatusOK)
	}
	if o.hold && !o.released {
		if len(o.held)+len(b) <= maxHeldBody {
			o.held = append(o.held, b...)
			return len(b), nil
		}
		o.release()
	}
	return o.ResponseWriter.Write(b)
}

// release judges a held response and then writes it out.
func (o *observer) release() {
	if o.released {
		return
	}
	o.released = true
	o.seen(o.ResponseWriter.Header())
	o.ResponseWriter.WriteHeader(o.status)
	if len(o.held) > 0 {
		_, _ = o.ResponseWriter.Write(o.held)
	}
	o.held = nil
}

// finish runs when the request ends, whatever happened: a held response is
// judged and written, and a claim that never got an answer (the client
// went away, the upstream failed with nobody left to tell) is settled as
// such, so its provisional grant is rolled back.
func (o *observer) finish() {
	if o.hold && o.wrote && !o.released {
		o.release()
	}
	if o.settle && !o.settled {
		o.settled = true
		o.p.opt.Seats.Settle(o.id, o.verdict, Judge(o.id, Outcome{ClientGone: o.r.Context().Err() != nil}))
	}
}

// seen runs once per request with the app's response headers.
func (o *observer) seen(h http.Header) {
	user := appUser(h)
	p := o.p
	if o.settle && !o.settled {
		o.settled = true
		out := Outcome{Status: o.status, Header: h}
		if o.hold {
			out.Body = o.held
		}
		p.opt.Seats.Settle(o.id, o.verdict, Judge(o.id, out))
	}
	if o.id.IsSSO() && !o.settle && user != "" && p.opt.Seats != nil && newSession(h) {
		// An SSO login floatseat could not name (a new browser): the app
		// re-read the user's groups, which is what the keeper waits for
		// before it forwards their sessions again.
		p.opt.Seats.Settle(identity.Identity{User: user, Route: o.id.Route}, Verdict{}, Judgement{Await: true})
	}
	if user != "" && p.opt.Seats != nil && !(o.settle && o.id.IsSSO()) {
		// An SSO claim's own redirect does not confirm it; the requests as
		// the user that follow do (REFERENCE §12).
		p.opt.Seats.AnsweredAs(user)
	}
	if user == "" {
		if o.class == classActivity {
			o.class = classAnonymous
		}
		// A response that deletes a session or remember-me cookie still
		// teaches something: the mapping must be forgotten.
		if len(h["Set-Cookie"]) > 0 {
			p.opt.Who.Learn(o.r, o.forwarded(), h, "")
		}
		return
	}
	// Learning is skipped when the pre-request answer already named this
	// user and no cookie changes: the common case costs nothing.
	if len(h["Set-Cookie"]) > 0 || o.id.User == "" || !equalFold(o.id.User, user) || o.id.FromPassword() || o.id.Stale {
		p.opt.Who.Learn(o.r, o.forwarded(), h, user)
	}
	if p.opt.Hints != nil && o.browser() && !p.opt.Hints.Fresh(o.id.Creds.Hint, user) {
		h["Set-Cookie"] = append(h["Set-Cookie"], p.opt.Hints.SetCookie(user, o.secure()))
	}
	if o.quiet || o.settle && o.id.IsSSO() {
		// An SSO claim's own redirect is not activity, nor the confirmation
		// (which, recorded as activity, any replica can see).
		return
	}
	if o.class == classAnonymous {
		o.class = classActivity
	}
	pools := ^uint64(0)
	if p.opt.Work != nil {
		pools = p.opt.Work.Activity(o.r.Method, o.path)
	}
	p.opt.Activity.Record(user, pools)
}

// forwarded is the identity as far as the app was shown it: a session or
// remember-me cookie floatseat kept from the app taught it nothing about
// that cookie, so the answer must not make floatseat forget (or relearn) it.
func (o *observer) forwarded() identity.Identity {
	id := o.id
	if o.verdict.DropSession {
		id.Creds.Session = ""
		if id.Source == identity.SourceSession {
			id.Source = identity.SourceNone
		}
	}
	if o.verdict.DropRememberMe {
		id.Creds.RememberMe = ""
		if id.Source == identity.SourceRememberMe {
			id.Source = identity.SourceNone
		}
	}
	return id
}

// browser: a request that carries no Authorization header (scripts with a
// token or Basic credentials do not keep cookies).
func (o *observer) browser() bool {
	return len(o.r.Header["Authorization"]) == 0
}

// secure: the browser reached us over HTTPS, directly or through a trusted
// proxy that says so.
func (o *observer) secure() bool {
	if o.r.TLS != nil {
		return true
	}
	if v := o.r.Header["X-Forwarded-Proto"]; len(v) > 0 && o.p.trusted(remoteIP(o.r.RemoteAddr)) {
		return strings.EqualFold(strings.TrimSpace(v[0]), "https")
	}
	return false
}

// appUser is X-AUSERNAME, the app's own word on who the request ran as;
// "anonymous" and empty mean nobody (REFERENCE §1).
func appUser(h http.Header) string {
	v := firstValue(h, "X-Ausername")
	if v == "" || v == "anonymous" {
		return ""
	}
	return v
}

// firstValue reads a canonical header key without the allocation of
// Header.Get's canonicalisation.
func firstValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x >= 0x80 || y >= 0x80 {
			return stringsEqualFold(a, b)
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
