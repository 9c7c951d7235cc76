package admin

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// openPath reports whether a path stays readable without a token on a
// read-protected port: metrics and the probes, which carry no names.
func openPath(p string) bool {
	switch p {
	case "/metrics", "/healthz", "/readyz":
		return true
	}
	return strings.HasPrefix(p, "/readyz/")
}

// readGuard asks for the read or the admin token on every route but the
// open ones when Options.ReadProtected is set. It denies by default, so a
// route added later is protected too. Mutating routes check the admin
// token again on their own.
func (s *Server) readGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.opt.ReadProtected || openPath(r.URL.Path) || s.readAllowed(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="floatseat"`)
		WriteJSON(w, http.StatusUnauthorized, map[string]string{
			"error": "the admin port listens beyond loopback: reads need a Bearer token (admin.read_token_file or admin.token_file)",
		})
	})
}

// readAllowed compares the Bearer token with each configured token in
// constant time; an empty configured token never matches.
func (s *Server) readAllowed(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return false
	}
	match := 0
	for _, want := range []string{s.opt.ReadToken, s.opt.AdminToken} {
		if want != "" {
			match |= subtle.ConstantTimeCompare([]byte(got), []byte(want))
		}
	}
	return match == 1
}
