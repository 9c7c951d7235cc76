package appsim

// The request log: what the simulator served, for tests to assert on.

import (
	"net/http"
	"strings"
	"time"
)

// RequestRecord is one served request, for tests.
type RequestRecord struct {
	Time   time.Time
	Method string
	Path   string
	User   string // "" for anonymous
	Via    string // session, basic, cookie, pat, login, or ""
	Status int
}

const maxRequestLog = 10000

func (s *Sim) record(r *http.Request, rs *reqState, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= maxRequestLog {
		s.requests = append(s.requests[:0], s.requests[len(s.requests)/2:]...)
	}
	s.requests = append(s.requests, RequestRecord{
		Time: s.cfg.Clock(), Method: r.Method, Path: r.URL.Path,
		User: rs.user, Via: rs.via, Status: status,
	})
}

// Requests returns a copy of the request log (the most recent 5,000–10,000).
func (s *Sim) Requests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestRecord(nil), s.requests...)
}

// RequestCount counts logged requests with this method ("" any) whose path
// starts with pathPrefix.
func (s *Sim) RequestCount(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.requests {
		if (method == "" || q.Method == method) && strings.HasPrefix(q.Path, pathPrefix) {
			n++
		}
	}
	return n
}
