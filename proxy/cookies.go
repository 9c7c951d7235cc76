package proxy

// Removing one cookie from a request before it is forwarded.

import (
	"net/http"
	"strings"
)

// stripCookie removes one cookie by name from the request's Cookie
// headers. When the cookie comes first or last on its line (as a browser
// orders a cookie set after the app's) the line is resliced: no allocation.
// Every copy goes: a client may send the cookie twice, and the app must
// see none of them.
func stripCookie(r *http.Request, name string) {
	vals := r.Header["Cookie"]
	for i := 0; i < len(vals); i++ {
		start := cookieStart(vals[i], name)
		if start < 0 {
			continue
		}
		line := vals[i]
		end := strings.IndexByte(line[start:], ';')
		switch {
		case end < 0 && start == 0:
			dropCookie(r, name)
			return
		case end < 0: // last: cut back to the previous ';'
			prev := strings.LastIndexByte(line[:start], ';')
			vals[i] = strings.TrimRight(line[:max(prev, 0)], " ")
		case start == 0: // first
			vals[i] = strings.TrimLeft(line[end+1:], " ")
		default:
			dropCookie(r, name)
			return
		}
		i-- // the resliced line may hold another copy
	}
}

// cookieStart is where "name=" starts as a cookie of line, or -1.
func cookieStart(line, name string) int {
	off := 0
	for {
		i := strings.Index(line[off:], name)
		if i < 0 {
			return -1
		}
		i += off
		before := i == 0 || line[i-1] == ' ' || line[i-1] == ';'
		if before && i+len(name) < len(line) && line[i+len(name)] == '=' {
			return i
		}
		off = i + len(name)
	}
}

// dropCookie removes one cookie by name from the request's Cookie headers.
func dropCookie(r *http.Request, name string) {
	if name == "" {
		return
	}
	vals := r.Header["Cookie"]
	out := vals[:0]
	for _, line := range vals {
		parts := strings.Split(line, ";")
		kept := parts[:0]
		for _, c := range parts {
			n, _, _ := strings.Cut(strings.TrimSpace(c), "=")
			if n != name {
				kept = append(kept, c)
			}
		}
		if len(kept) > 0 {
			out = append(out, strings.TrimSpace(strings.Join(kept, ";")))
		}
	}
	if len(out) == 0 {
		r.Header.Del("Cookie")
		return
	}
	r.Header["Cookie"] = out
}
