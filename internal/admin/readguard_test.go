package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/store"
)

type userFake struct{}

func (userFake) Users(context.Context, string, string) ([]UserInfo, error) {
	return []UserInfo{{User: "carol", Pool: "jira-software", State: "licensed"}}, nil
}
func (userFake) User(_ context.Context, name string) (*UserDetail, error) {
	return &UserDetail{}, nil
}

// emptyStore and emptyAudit are a Redis that holds nothing, for the
// status page.
type (
	emptyStore struct{}
	emptyAudit struct{}
)

func (emptyStore) ObservedSince(context.Context) (time.Time, error) { return time.Time{}, nil }
func (emptyStore) LastHeartbeat(context.Context) (time.Time, error) { return time.Time{}, nil }
func (emptyStore) LastActivity(context.Context, []string) (map[string]time.Time, error) {
	return nil, nil
}
func (emptyStore) PoolState(context.Context, string) (int, int, int, bool, time.Time, error) {
	return 0, 0, 0, false, time.Time{}, nil
}
func (emptyStore) PendingRevocations(context.Context, string) (int, error) { return 0, nil }
func (emptyStore) RevokedUsers(context.Context, string) (map[string]store.Revoked, error) {
	return nil, nil
}
func (emptyStore) RevokedCount(context.Context, string) (int, error) { return 0, nil }
func (emptyStore) Samples(context.Context, string, time.Time) ([]store.Sample, error) {
	return nil, nil
}
func (emptyAudit) Since(context.Context, time.Time, int64) ([]audit.Event, error) { return nil, nil }
func (emptyAudit) Recent(context.Context, int64) ([]audit.Event, error)           { return nil, nil }

// newGuardedServer is the admin port with the API and the status page.
func newGuardedServer(t *testing.T, protected bool) *httptest.Server {
	t.Helper()
	s := New(Options{
		Gatherer:      prometheus.NewRegistry(),
		Checks:        map[string]Check{"upstream": func(context.Context) error { return nil }},
		ReadProtected: protected, ReadToken: "read-tok", AdminToken: "admin-tok",
	})
	api := &API{Token: "admin-tok", Users: userFake{}, Audit: auditFunc(func(context.Context, time.Time, int64) ([]audit.Event, error) {
		return nil, nil
	})}
	api.Mount(s.Router())
	m, err := NewModel(ModelOptions{Running: fixedConfig{&config.Config{Product: config.ProductJira, Mode: config.ModeObserve}},
		Store: emptyStore{}, Audit: emptyAudit{}})
	if err != nil {
		t.Fatal(err)
	}
	m.MountStatusPage(s.Router())
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

func TestReadsNeedATokenBeyondLoopback(t *testing.T) {
	guarded := newGuardedServer(t, true)
	open := newGuardedServer(t, false)
	reads := []string{"/", "/api/v1/users", "/api/v1/users/carol", "/api/v1/audit", "/api/v1/audit?format=csv"}
	for _, tc := range []struct {
		name  string
		srv   *httptest.Server
		paths []string
		token string
		want  int
	}{
		{"protected, no token", guarded, reads, "", http.StatusUnauthorized},
		{"protected, wrong token", guarded, reads, "guess", http.StatusUnauthorized},
		{"protected, read token", guarded, reads, "read-tok", http.StatusOK},
		{"protected, admin token", guarded, reads, "admin-tok", http.StatusOK},
		{"protected, probes and metrics open", guarded, []string{"/metrics", "/healthz", "/readyz", "/readyz/upstream"}, "", http.StatusOK},
		{"loopback, no token", open, reads, "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.paths {
				if code, body := do(t, http.MethodGet, tc.srv.URL+p, tc.token); code != tc.want {
					t.Errorf("GET %s with token %q: got %d (%s), want %d", p, tc.token, code, body, tc.want)
				} else if p == "/" && code == http.StatusOK && !strings.Contains(body, "<html") {
					t.Errorf("GET / with token %q: got %q, want the status page", tc.token, body)
				}
			}
		})
	}
}

func TestReadGuardKeepsMutatingChecks(t *testing.T) {
	srv := newGuardedServer(t, true)
	// The read token reads but does not mutate.
	if code, _ := do(t, http.MethodPost, srv.URL+"/api/v1/reload", "read-tok"); code != http.StatusUnauthorized {
		t.Errorf("POST /api/v1/reload with the read token: got %d, want 401", code)
	}
	// A GET to a mutating route with a token still answers 405.
	if code, _ := do(t, http.MethodGet, srv.URL+"/api/v1/reload", "read-tok"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/v1/reload with the read token: got %d, want 405", code)
	}
}

func TestReadGuardWithoutTokensRefusesAll(t *testing.T) {
	s := New(Options{Gatherer: prometheus.NewRegistry(), ReadProtected: true})
	s.Router().HandleFunc("/", func(http.ResponseWriter, *http.Request) {})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	// An empty configured token must not match an empty Bearer value.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer ")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET / with an empty Bearer and no tokens configured: got %d, want 401", resp.StatusCode)
	}
}

// fixedConfig is a configuration in force that no reload changes.
type fixedConfig struct{ cfg *config.Config }

func (f fixedConfig) Config() *config.Config { return f.cfg }
