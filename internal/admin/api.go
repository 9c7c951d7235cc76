package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/floatseat/floatseat/internal/audit"
)

// UserInfo is one user as the admin API shows it.
type UserInfo struct {
	User       string     `json:"user"`
	Pool       string     `json:"pool"`
	State      string     `json:"state"`  // licensed | revoked | excluded
	Groups     []string   `json:"groups"` // held (licensed) or removed (revoked)
	LastActive *time.Time `json:"last_active,omitempty"`
	IdleSec    float64    `json:"idle_seconds"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Reason     string     `json:"reason,omitempty"`
}

// What the API serves, one small interface per concern. *Model is the
// status, user and seat source; a nil one answers 501.
type (
	// StatusSource answers /api/v1/status.
	StatusSource interface {
		Status(ctx context.Context) (*Status, error)
	}
	// UserSource answers /api/v1/users and /api/v1/users/{name}.
	UserSource interface {
		Users(ctx context.Context, pool, state string) ([]UserInfo, error)
		User(ctx context.Context, name string) (*UserDetail, error)
	}
	// SeatChanger grants and revokes by hand.
	SeatChanger interface {
		Grant(ctx context.Context, user string) (any, error)
		Revoke(ctx context.Context, user, pool string) (any, error)
	}
	// AuditSource answers /api/v1/audit; *audit.Log is one.
	AuditSource interface {
		Since(ctx context.Context, since time.Time, limit int64) ([]audit.Event, error)
	}
	// Reloader re-reads the configuration file.
	Reloader interface{ Reload() error }
	// NoiseExplainer says which noise rule matches a request, if any.
	NoiseExplainer interface {
		Explain(method, path string) string
	}
)

// ReloadFunc adapts a function to Reloader.
type ReloadFunc func() error

// Reload calls f.
func (f ReloadFunc) Reload() error { return f() }

// API is the backend of /api/v1. The app sets what this configuration
// has; a nil source answers 501.
type API struct {
	Token  string // empty: mutating calls answer 403
	Status StatusSource
	Users  UserSource  // nil without a directory
	Seats  SeatChanger // nil without a directory
	Audit  AuditSource
	Reload Reloader
	Noise  NoiseExplainer
}

// ErrNotFound makes a handler answer 404.
var ErrNotFound = errors.New("not found")

// ErrConflict makes a handler answer 409 (e.g. every seat in use).
var ErrConflict = errors.New("conflict")

// Mount adds /api/v1 to the router.
func (a *API) Mount(r *mux.Router) {
	v1 := r.PathPrefix("/api/v1").Subrouter()
	v1.HandleFunc("/status", a.get(func(r *http.Request) (any, error) {
		if a.Status == nil {
			return nil, errNotImplemented
		}
		return a.Status.Status(r.Context())
	})).Methods(http.MethodGet)
	v1.HandleFunc("/users", a.users).Methods(http.MethodGet)
	v1.HandleFunc("/users/{name}", a.get(func(r *http.Request) (any, error) {
		if a.Users == nil {
			return nil, errNotImplemented
		}
		return a.Users.User(r.Context(), mux.Vars(r)["name"])
	})).Methods(http.MethodGet)
	v1.HandleFunc("/users/{name}/grant", a.mutating(func(r *http.Request) (any, error) {
		if a.Seats == nil {
			return nil, errNotImplemented
		}
		return a.Seats.Grant(r.Context(), mux.Vars(r)["name"])
	})).Methods(http.MethodPost)
	v1.HandleFunc("/users/{name}/revoke", a.mutating(func(r *http.Request) (any, error) {
		if a.Seats == nil {
			return nil, errNotImplemented
		}
		return a.Seats.Revoke(r.Context(), mux.Vars(r)["name"], r.URL.Query().Get("pool"))
	})).Methods(http.MethodPost)
	v1.HandleFunc("/audit", a.audit).Methods(http.MethodGet)
	v1.HandleFunc("/reload", a.mutating(func(r *http.Request) (any, error) {
		if a.Reload == nil {
			return nil, errNotImplemented
		}
		if err := a.Reload.Reload(); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadRequest, err)
		}
		return map[string]string{"result": "reloaded"}, nil
	})).Methods(http.MethodPost)
	// Any other method on a mutating route: 405 with Allow, not 404 (a
	// subrouter alone answers 404 for a method mismatch).
	for _, p := range []string{"/users/{name}/grant", "/users/{name}/revoke", "/reload"} {
		v1.HandleFunc(p, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", http.MethodPost)
			WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
		})
	}
	v1.HandleFunc("/noise/test", a.get(func(r *http.Request) (any, error) {
		if a.Noise == nil {
			return nil, errNotImplemented
		}
		q := r.URL.Query()
		m, p := strings.ToUpper(q.Get("method")), q.Get("path")
		if m == "" {
			m = http.MethodGet
		}
		if p == "" {
			return nil, fmt.Errorf("%w: path is required", errBadRequest)
		}
		return map[string]string{"method": m, "path": p, "result": a.Noise.Explain(m, p)}, nil
	})).Methods(http.MethodGet)
}

var (
	errNotImplemented = errors.New("not available in this configuration")
	errBadRequest     = errors.New("bad request")
)

func (a *API) get(f func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r)
		if err != nil {
			writeErr(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, v)
	}
}

// mutating checks the Bearer token in constant time first.
func (a *API) mutating(f func(r *http.Request) (any, error)) http.HandlerFunc {
	inner := a.get(f)
	return func(w http.ResponseWriter, r *http.Request) {
		if a.Token == "" {
			WriteJSON(w, http.StatusForbidden, map[string]string{"error": "mutating calls are disabled: set admin.token_file"})
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="floatseat"`)
			WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong Bearer token"})
			return
		}
		inner(w, r)
	}
}

func (a *API) users(w http.ResponseWriter, r *http.Request) {
	if a.Users == nil {
		writeErr(w, errNotImplemented)
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	switch state {
	case "", "licensed", "revoked", "excluded":
	default:
		writeErr(w, fmt.Errorf("%w: state must be licensed, revoked or excluded", errBadRequest))
		return
	}
	us, err := a.Users.Users(r.Context(), q.Get("pool"), state)
	if err != nil {
		writeErr(w, err)
		return
	}
	if us == nil {
		us = []UserInfo{}
	}
	WriteJSON(w, http.StatusOK, us)
}

func (a *API) audit(w http.ResponseWriter, r *http.Request) {
	if a.Audit == nil {
		writeErr(w, errNotImplemented)
		return
	}
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("since"); s != "" {
		var err error
		if since, err = parseSince(s, time.Now()); err != nil {
			writeErr(w, fmt.Errorf("%w: since: %v", errBadRequest, err))
			return
		}
	}
	evs, err := a.Audit.Since(r.Context(), since, 0)
	if err != nil {
		writeErr(w, err)
		return
	}
	switch q.Get("format") {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="floatseat-audit.csv"`)
		_ = audit.WriteCSV(w, evs)
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		_ = audit.WriteJSON(w, evs)
	default:
		writeErr(w, fmt.Errorf("%w: format must be csv or json", errBadRequest))
	}
}

// parseSince accepts RFC 3339 times and durations back from now ("24h").
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time, a date nor a duration", s)
}

func writeErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, errBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, errNotImplemented):
		code = http.StatusNotImplemented
	}
	WriteJSON(w, code, map[string]string{"error": err.Error()})
}
