package appsim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
)

// fakeClock is the injected clock: tests move time, never sleep.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	sim   *Sim
	srv   *httptest.Server
	clock *fakeClock
	dir   *InternalDirectory
}

const (
	pw      = "secret"
	adminPW = "admin-pw"
)

// newEnv starts a simulator with alice (licensed), bob (unlicensed) and the
// service account "svc" (admin), synced into the app's cache.
func newEnv(t *testing.T, product string, mutate func(*Config)) *env {
	t.Helper()
	clock := newFakeClock()
	cfg := Config{Product: product, Clock: clock.Now, AdminUsers: []string{"svc"}}
	if mutate != nil {
		mutate(&cfg)
	}
	sim := New(cfg)
	dir := sim.InternalDirectory()
	if dir == nil {
		t.Fatal("got no internal directory, want one")
	}
	lic := sim.cfg.Roles[0].Groups[0]
	dir.AddUser("alice", pw)
	dir.AddUser("bob", pw)
	dir.AddUser("svc", adminPW)
	if err := dir.AddMember(t.Context(), "alice", lic); err != nil {
		t.Fatal(err)
	}
	if err := sim.SyncNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{sim: sim, srv: srv, clock: clock, dir: dir}
}

func (e *env) browser(user, password string) *Browser {
	return NewBrowser(e.srv.URL, user, password, e.sim.Product())
}

func (e *env) admin() *Browser {
	b := e.browser("svc", adminPW)
	b.Basic = true
	return b
}

func (e *env) licenceGroup() string { return e.sim.cfg.Roles[0].Groups[0] }

func mustDo(t *testing.T, b *Browser, method, path, body string) Result {
	t.Helper()
	var rd io.Reader
	ct := ""
	if body != "" {
		rd = strings.NewReader(body)
		ct = "application/json"
	}
	res, err := b.Do(t.Context(), method, path, ct, rd)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// must(t)(b.Login(…)) fails the test on a transport error.
func must(t *testing.T) func(Result, error) Result {
	return func(res Result, err error) Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
}

func decode(t *testing.T, res Result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(res.Body), v); err != nil {
		t.Fatalf("decode %q: %v", res.Body, err)
	}
}

func expectStatus(t *testing.T, what string, res Result, want int) {
	t.Helper()
	if res.Status != want {
		t.Fatalf("%s: got status %d, want %d (body %s)", what, res.Status, want, res.Body)
	}
}

// plainDir hides the InternalDirectory's optional extras, so a Sim built on
// it behaves as with an external LDAP or Crowd backend.
type plainDir struct{ d *InternalDirectory }

func (p plainDir) IsMember(ctx context.Context, u, g string, n bool) (bool, error) {
	return p.d.IsMember(ctx, u, g, n)
}
func (p plainDir) UserGroups(ctx context.Context, u string, n bool) ([]string, error) {
	return p.d.UserGroups(ctx, u, n)
}
func (p plainDir) Members(ctx context.Context, g string, n bool) ([]string, error) {
	return p.d.Members(ctx, g, n)
}
func (p plainDir) AddMember(ctx context.Context, u, g string) error { return p.d.AddMember(ctx, u, g) }
func (p plainDir) RemoveMember(ctx context.Context, u, g string) error {
	return p.d.RemoveMember(ctx, u, g)
}
func (p plainDir) VerifyPassword(ctx context.Context, u, pw string) error {
	return p.d.VerifyPassword(ctx, u, pw)
}

var _ directory.Directory = plainDir{}

func postForm(t *testing.T, b *Browser, path string, form string) Result {
	t.Helper()
	return must(t)(b.Do(t.Context(), http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form)))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// chanTime is a ticker the test drives by hand.
type chanTime chan time.Time

func (c chanTime) newTicker(time.Duration) (<-chan time.Time, func()) { return c, func() {} }

func (c chanTime) send(clock *fakeClock) { c <- clock.Now() }
