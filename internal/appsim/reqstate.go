package appsim

// Per-request state, and the response writer that records what was answered.

import (
	"fmt"
	"net/http"
	"strings"
)

// reqState is what the simulator knows about one request while serving it.
type reqState struct {
	id        string
	user      string // stored case; "" is anonymous
	via       string // session, basic, cookie, pat, login
	reasons   []string
	xsrfIn    string
	sessionID string // the live or new session, for logout and the REST login answer
}

func (rs *reqState) reason(r string) { rs.reasons = append(rs.reasons, r) }

type ctxKey struct{}

func state(r *http.Request) *reqState { return r.Context().Value(ctxKey{}).(*reqState) }

// respWriter stamps the Seraph and identity headers when the status is
// written, because login handlers change who the request runs as.
type respWriter struct {
	http.ResponseWriter
	s      *Sim
	rs     *reqState
	status int
}

func (w *respWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	h := w.Header()
	// REFERENCE §1: X-AUSERNAME on every response, "anonymous" for nobody.
	if w.rs.user != "" {
		h.Set(HeaderUser, w.rs.user)
	} else {
		h.Set(HeaderUser, "anonymous")
	}
	// REFERENCE §1: several values possible, the first stamped wins.
	if len(w.rs.reasons) > 0 {
		h.Set(HeaderLoginReason, strings.Join(w.rs.reasons, ", "))
	}
	if w.s.cfg.Product == Jira {
		h.Set(HeaderJiraRequestID, w.rs.id)
	} else {
		h.Set(HeaderConfluenceRequestTime, fmt.Sprint(w.s.cfg.Clock().UnixMilli()))
	}
	// The xsrf cookie ends in "lin" logged in, "lout" not (REFERENCE §1).
	suffix := "lout"
	if w.rs.user != "" {
		suffix = "lin"
	}
	if !strings.HasSuffix(w.rs.xsrfIn, "_"+suffix) {
		http.SetCookie(w, &http.Cookie{Name: XSRFCookie, Value: "SIM-" + w.rs.id + "_" + suffix, Path: "/"})
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
