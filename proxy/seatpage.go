package proxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"html/template"
	"io"
	"net/http"
	"strings"

	"github.com/floatseat/floatseat/internal/identity"
)

// The seat page (DESIGN §2.9, docs/sso.md). An SSO login of a browser
// floatseat cannot name (no hint: a new browser, cleared cookies) that ends
// on the app's "We can't log you in" page may be a user whose seat
// floatseat gave to someone else. floatseat answers instead with a small
// page asking for the username; the name typed there is a claim like a
// login form: it gets a provisional, rate-limited grant that only the app's
// answers as that user keep, and the browser goes back through the SSO
// login. A name floatseat holds no seat for gets a short pass, so the next
// SSO failure of that browser shows the app's own page unchanged.

// SeatPage configures the seat page; nil in Options switches it off.
type SeatPage struct {
	// LoginPath starts an SSO login at the app (under the context path).
	LoginPath string
}

// SeatClaimPath is where the seat page posts, under the context path.
const SeatClaimPath = "/floatseat/seat"

// maxFailurePage bounds what is read of the app's answer to find its
// "We can't log you in" markers.
const maxFailurePage = 64 << 10

type seatPageKey struct{}

var seatPageTmpl = template.Must(template.New("seat").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Get your seat back</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#172b4d}
h1{font-size:1.4rem}p{line-height:1.5}input{font-size:1rem;padding:.4rem}button{font-size:1rem;padding:.4rem 1rem}
.hint{color:#5e6c84;font-size:.9rem}</style></head>
<body><h1>Your seat may have been given to someone else while you were away</h1>
<p>Enter your username to get it back. You will then be signed in again through single sign-on.</p>
<form method="post" action="{{.Action}}"><p><label>Username <input name="username" autocomplete="username" autofocus required></label>
<button type="submit">Get my seat back</button></p></form>
<p class="hint">Only your own username helps: the seat is kept only if single sign-on then logs you in as that user.</p>
</body></html>
`))

// markSeatPage tags an SSO request that names nobody, so the response
// hook may replace the app's refusal with the seat page.
func (p *Proxy) markSeatPage(r *http.Request, o *observer) *http.Request {
	if p.opt.SeatPage == nil || p.opt.Hints == nil || p.opt.Seats == nil || !o.id.IsSSO() || o.id.User != "" {
		return r
	}
	if o.id.Creds.SSOPass != "" && p.opt.Hints.PassValid(o.id.Creds.SSOPass) {
		return r // the app's own page, as asked
	}
	return r.WithContext(context.WithValue(r.Context(), seatPageKey{}, true))
}

// modifyResponse replaces the app's "We can't log you in" answer to a
// marked SSO request with the seat page.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if resp.Request == nil || resp.Request.Context().Value(seatPageKey{}) == nil || !ssoRefusal(resp) {
		return nil
	}
	p.opt.Metrics.seatPage()
	resp.Body.Close()
	var b bytes.Buffer
	_ = seatPageTmpl.Execute(&b, struct{ Action string }{p.opt.ContextPath + SeatClaimPath})
	h := resp.Header
	for _, k := range []string{"Content-Length", "Content-Encoding", "Etag", "Last-Modified", "X-Seraph-Loginreason"} {
		h.Del(k)
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
	resp.ContentLength = int64(b.Len())
	resp.Body = io.NopCloser(&b)
	return nil
}

// ssoRefusal recognises the app's "We can't log you in" page on an SSO
// route (REFERENCE §2): no redirect, no new session, nobody named, and
// either a 401/403 HTML page or the page's own words. A body read to look
// for the words is put back.
func ssoRefusal(resp *http.Response) bool {
	if resp.StatusCode >= 300 && resp.StatusCode < 400 || resp.StatusCode >= 500 {
		return false
	}
	if appUser(resp.Header) != "" || newSession(resp.Header) {
		return false
	}
	html := strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "html")
	if (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) && html {
		return true
	}
	if resp.StatusCode != http.StatusOK || !html {
		return false
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxFailurePage))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(raw), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	text := raw
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return false
		}
		text, _ = io.ReadAll(io.LimitReader(zr, maxFailurePage))
	}
	return refusalWords(text)
}

// refusalWords finds "We can't log you in" in its spellings: straight or
// curly apostrophe, HTML-escaped, or "cannot".
func refusalWords(b []byte) bool {
	s := strings.ToLower(string(b))
	for _, m := range []string{"can't log you in", "can&#39;t log you in", "can&#x27;t log you in",
		"can\u2019t log you in", "can&rsquo;t log you in", "cannot log you in"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// serveSeatClaim handles the seat page's form: a provisional grant for the
// typed user, then back through the SSO login.
func (p *Proxy) serveSeatClaim(w http.ResponseWriter, r *http.Request, o *observer) {
	o.class = classLogin
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "400 Bad Request: the form could not be read.", http.StatusBadRequest)
		return
	}
	secure := o.secure()
	login := p.opt.ContextPath + p.opt.SeatPage.LoginPath
	user, err := identity.CleanUser(r.PostForm.Get("username"))
	if err != nil {
		http.Redirect(w, r, login, http.StatusSeeOther)
		return
	}
	id := identity.Identity{User: user, Source: identity.SourceSeatPage, Client: p.clientAddr(r)}
	v := p.opt.Seats.Ensure(r.Context(), id, r)
	if v.Deny {
		o.class = classDenied
		p.opt.Metrics.denied(v.Pool)
		writeFull(w, r, v)
		return
	}
	if v.Ticket != 0 {
		// Kept only if the SSO login that follows makes the app answer as
		// this user (AnsweredAs) within the wait; else rolled back.
		p.opt.Seats.Settle(id, v, Judgement{Await: true})
	}
	if !v.Granted {
		// Nothing of floatseat's to give back (or not now): the next SSO
		// failure shows the app's own page.
		w.Header().Add("Set-Cookie", p.opt.Hints.PassCookie(secure))
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, login, http.StatusSeeOther)
}
