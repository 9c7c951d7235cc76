package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/audit"
)

func newTestServer(t *testing.T, api *API) *httptest.Server {
	t.Helper()
	s := New(Options{Gatherer: prometheus.NewRegistry(), Checks: map[string]Check{
		"ok":   func(context.Context) error { return nil },
		"down": func(context.Context) error { return errors.New("connection refused") },
	}})
	api.Mount(s.Router())
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Hand-written fakes of the API's sources.
type (
	grantFunc func(ctx context.Context, user string) (any, error)
	auditFunc func(ctx context.Context, since time.Time, limit int64) ([]audit.Event, error)
	usersFunc func(ctx context.Context, pool, state string) ([]UserInfo, error)
)

func (f grantFunc) Grant(ctx context.Context, u string) (any, error) { return f(ctx, u) }
func (f grantFunc) Revoke(context.Context, string, string) (any, error) {
	return nil, errors.New("not in this test")
}
func (f auditFunc) Since(ctx context.Context, since time.Time, limit int64) ([]audit.Event, error) {
	return f(ctx, since, limit)
}
func (f usersFunc) Users(ctx context.Context, pool, state string) ([]UserInfo, error) {
	return f(ctx, pool, state)
}
func (f usersFunc) User(context.Context, string) (*UserDetail, error) {
	return nil, errors.New("not in this test")
}

func TestMutatingCallsNeedTheToken(t *testing.T) {
	granted := 0
	api := &API{Token: "s3cret", Seats: grantFunc(func(ctx context.Context, u string) (any, error) {
		granted++
		return map[string]any{"user": u, "granted": true}, nil
	})}
	srv := newTestServer(t, api)
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "guess", http.StatusUnauthorized},
		{"right token", "s3cret", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _ := do(t, http.MethodPost, srv.URL+"/api/v1/users/alice/grant", tc.token)
			if code != tc.want {
				t.Errorf("got %d, want %d", code, tc.want)
			}
		})
	}
	if granted != 1 {
		t.Errorf("grant ran %d times, want once (only with the right token)", granted)
	}
}

func TestNoTokenConfiguredForbids(t *testing.T) {
	srv := newTestServer(t, &API{Reload: ReloadFunc(func() error { return nil })})
	if code, _ := do(t, http.MethodPost, srv.URL+"/api/v1/reload", "anything"); code != http.StatusForbidden {
		t.Errorf("got %d, want 403 without admin.token_file", code)
	}
}

func TestAuditExport(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var gotSince time.Time
	api := &API{Audit: auditFunc(func(ctx context.Context, since time.Time, _ int64) ([]audit.Event, error) {
		gotSince = since
		return []audit.Event{{Time: t0, Action: audit.Revoke, User: "alice", Pool: "jira-software", Reason: "ceiling"}}, nil
	})}
	srv := newTestServer(t, api)
	code, body := do(t, http.MethodGet, srv.URL+"/api/v1/audit?format=csv&since=2026-11-01T00:00:00Z", "")
	if code != 200 || !strings.HasPrefix(body, "time,action,user") || !strings.Contains(body, "alice") {
		t.Errorf("CSV: got %d %q", code, body)
	}
	if !gotSince.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("since: got %v", gotSince)
	}
	code, body = do(t, http.MethodGet, srv.URL+"/api/v1/audit", "")
	var evs []map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &evs) != nil || evs[0]["reason"] != "ceiling" {
		t.Errorf("JSON: got %d %q", code, body)
	}
	if code, _ := do(t, http.MethodGet, srv.URL+"/api/v1/audit?since=yesterday-ish", ""); code != 400 {
		t.Errorf("bad since: got %d, want 400", code)
	}
}

func TestReadyzReportsEachCheck(t *testing.T) {
	srv := newTestServer(t, &API{})
	code, body := do(t, http.MethodGet, srv.URL+"/readyz", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Errorf("got %d %s, want 503 naming the failed check", code, body)
	}
	if code, _ := do(t, http.MethodGet, srv.URL+"/healthz", ""); code != 200 {
		t.Errorf("healthz: got %d", code)
	}
	// One check alone: the probe path does not fail with another check.
	if code, body := do(t, http.MethodGet, srv.URL+"/readyz/ok", ""); code != 200 || strings.Contains(body, "down") {
		t.Errorf("readyz/ok: got %d %s, want 200 with that check only", code, body)
	}
	if code, _ := do(t, http.MethodGet, srv.URL+"/readyz/down", ""); code != http.StatusServiceUnavailable {
		t.Errorf("readyz/down: got %d, want 503", code)
	}
	if code, _ := do(t, http.MethodGet, srv.URL+"/readyz/nope", ""); code != http.StatusNotFound {
		t.Errorf("readyz/nope: got %d, want 404", code)
	}
}

func TestUsersValidatesState(t *testing.T) {
	srv := newTestServer(t, &API{Users: usersFunc(func(ctx context.Context, pool, state string) ([]UserInfo, error) { return nil, nil })})
	if code, _ := do(t, http.MethodGet, srv.URL+"/api/v1/users?state=sleepy", ""); code != 400 {
		t.Errorf("got %d, want 400", code)
	}
	if code, body := do(t, http.MethodGet, srv.URL+"/api/v1/users?state=revoked", ""); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("got %d %q, want 200 []", code, body)
	}
}

func TestDialCheck(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler()) // any answer is ready
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	if err := DialCheck(u)(t.Context()); err != nil {
		t.Errorf("a listening upstream: got %v, want ready", err)
	}
	dead, _ := url.Parse("http://127.0.0.1:1")
	if err := DialCheck(dead)(t.Context()); err == nil {
		t.Error("a dead upstream: got ready, want an error")
	}
}

// A GET to a mutating route says the method is wrong, not that the route
// does not exist.
func TestMutatingRoutesAnswer405ToAGet(t *testing.T) {
	srv := newTestServer(t, &API{})
	for _, p := range []string{"/api/v1/users/alice/grant", "/api/v1/users/alice/revoke", "/api/v1/reload"} {
		if code, _ := do(t, http.MethodGet, srv.URL+p, ""); code != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d, want 405", p, code)
		}
	}
}
