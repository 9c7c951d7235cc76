package proxy

// Forwarding to the app (upstream.go has the client): the client address behind
// trusted proxies, the rewrite of the outgoing request, the 502 page.

import (
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
	"time"
)

// clientAddr is the client's address as trusted_proxies resolves it: the
// peer, or, behind trusted proxies, the nearest X-Forwarded-For entry that
// is not one of them.
func (p *Proxy) clientAddr(r *http.Request) netip.Addr {
	peer := remoteIP(r.RemoteAddr)
	if !p.trusted(peer) {
		return peer
	}
	// Walked right to left in place: a claim must not pay an allocation
	// per entry of a header the client writes.
	var leftmost netip.Addr
	vals := r.Header["X-Forwarded-For"]
chain:
	for v := len(vals) - 1; v >= 0; v-- {
		line := vals[v]
		for {
			i := strings.LastIndexByte(line, ',')
			a, err := netip.ParseAddr(strings.TrimSpace(line[i+1:]))
			if err != nil {
				break chain // a garbled entry: nothing left of it can be trusted
			}
			a = a.Unmap()
			if !p.trusted(a) {
				return a
			}
			leftmost = a
			if i < 0 {
				break
			}
			line = line[:i]
		}
	}
	if leftmost.IsValid() {
		return leftmost
	}
	return peer
}

// rewrite prepares the outbound request. The Host header is kept, as Jira
// and Confluence build links from it; X-Forwarded-* are trusted only from
// the configured proxies, so a client cannot spoof its address.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.opt.Upstream)
	pr.Out.Host = pr.In.Host
	peer := remoteIP(pr.In.RemoteAddr)
	in := pr.In.Header
	if p.trusted(peer) {
		xff := peer.String()
		if prior := in["X-Forwarded-For"]; len(prior) > 0 {
			xff = strings.Join(prior, ", ") + ", " + xff
		}
		pr.Out.Header.Set("X-Forwarded-For", xff)
		if v := in.Get("X-Forwarded-Proto"); v != "" {
			pr.Out.Header.Set("X-Forwarded-Proto", v)
		} else {
			pr.Out.Header.Set("X-Forwarded-Proto", scheme(pr.In))
		}
		if v := in.Get("X-Forwarded-Host"); v != "" {
			pr.Out.Header.Set("X-Forwarded-Host", v)
		} else {
			pr.Out.Header.Set("X-Forwarded-Host", pr.In.Host)
		}
		return
	}
	if peer.IsValid() {
		pr.Out.Header.Set("X-Forwarded-For", peer.String())
	}
	pr.Out.Header.Set("X-Forwarded-Proto", scheme(pr.In))
	pr.Out.Header.Set("X-Forwarded-Host", pr.In.Host)
	pr.Out.Header.Del("X-Real-Ip")
	pr.Out.Header.Del("Forwarded")
}

func (p *Proxy) trusted(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, pfx := range p.opt.TrustedProxies {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

func remoteIP(addr string) netip.Addr {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		a, _ := netip.ParseAddr(addr)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// upstreamError answers 502 with a plain page when the app cannot be
// reached. A client that went away gets nothing: there is nobody to tell.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	p.opt.Metrics.upstreamError()
	if r.Context().Err() != nil {
		return
	}
	// One log line a second at most: a dead upstream under load would
	// otherwise flood the log.
	now := time.Now().Unix()
	if last := p.lastLog.Load(); now > last && p.lastLog.CompareAndSwap(last, now) {
		p.opt.Log.Warn("upstream request failed", "err", err, "method", r.Method, "path", r.URL.Path)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = w.Write([]byte("502 Bad Gateway: the application behind floatseat did not answer.\n"))
}
