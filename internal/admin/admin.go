// Package admin is floatseat's admin port: Prometheus metrics, health and
// readiness, the admin API and the status page. It listens apart from the
// proxy so that it is never exposed through nginx.
package admin

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness probe (Redis, upstream); nil means healthy.
type Check func(ctx context.Context) error

// DialCheck is the upstream's readiness probe: the app accepts a TCP
// connection at all (what it answers is its own business).
func DialCheck(u *url.URL) Check {
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host = net.JoinHostPort(u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// Options configure the admin server.
type Options struct {
	Gatherer prometheus.Gatherer
	// Checks run for /readyz, each with CheckTimeout.
	Checks       map[string]Check
	CheckTimeout time.Duration
	// ReadProtected makes every route but /metrics, /healthz and /readyz
	// (the status page, users, audit) need a Bearer token, ReadToken or
	// AdminToken: the app sets it when the port listens beyond loopback.
	ReadProtected bool
	ReadToken     string
	AdminToken    string
}

// Server routes the admin port.
type Server struct {
	opt    Options
	router *mux.Router
}

// New builds the admin router. More routes (the API, the status page) are
// added with Router().
func New(opt Options) *Server {
	if opt.CheckTimeout <= 0 {
		opt.CheckTimeout = 2 * time.Second
	}
	s := &Server{opt: opt, router: mux.NewRouter()}
	s.router.Use(s.readGuard)
	s.router.Handle("/metrics", promhttp.HandlerFor(opt.Gatherer, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	s.router.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	s.router.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)
	// One check alone: /readyz/upstream is the Kubernetes readiness probe
	// of the sidecar, so that a Redis or directory outage (which the proxy
	// survives) never takes an app pod out of its Service.
	s.router.HandleFunc("/readyz/{check}", s.readyz).Methods(http.MethodGet, http.MethodHead)
	return s
}

// Router lets other components add routes.
func (s *Server) Router() *mux.Router { return s.router }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// healthz answers 200 while the process serves: liveness only, so that a
// Redis outage (which the proxy survives) never gets the pod restarted.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz runs every check (or the one named in the path) in parallel and
// answers 503 if any fails.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	type result struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	checks := s.opt.Checks
	if one := mux.Vars(r)["check"]; one != "" {
		c, ok := s.opt.Checks[one]
		if !ok {
			http.Error(w, "no readiness check named "+one, http.StatusNotFound)
			return
		}
		checks = map[string]Check{one: c}
	}
	res := make(map[string]result, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), s.opt.CheckTimeout)
			defer cancel()
			err := c(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res[name] = result{Error: err.Error()}
			} else {
				res[name] = result{OK: true}
			}
		}()
	}
	wg.Wait()
	ok := true
	for _, v := range res {
		ok = ok && v.OK
	}
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	WriteJSON(w, code, map[string]any{"ready": ok, "checks": res})
}

// WriteJSON writes v as indented JSON with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
