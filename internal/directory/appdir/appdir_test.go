package appdir

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
)

var products = []string{Jira, Confluence}

// seedFixture fills f with the conformance suite's directory: users alice,
// bob, carol, dave, Erin; jira-software-users{alice},
// jira-servicedesk-users{bob}, confluence-users{}, child-group{carol},
// parent-group{subgroup child-group}.
func seedFixture(f *appFake) {
	for _, u := range []string{"alice", "bob", "carol", "dave", "Erin"} {
		f.addUser(u)
	}
	for _, g := range []string{"jira-software-users", "jira-servicedesk-users", "confluence-users", "child-group", "parent-group"} {
		f.addGroup(g)
	}
	f.addMember("alice", "jira-software-users")
	f.addMember("bob", "jira-servicedesk-users")
	f.addMember("carol", "child-group")
	f.addChild("parent-group", "child-group")
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newDir(t *testing.T, product, url string, mod ...func(*Config)) *Dir {
	t.Helper()
	cfg := Config{Product: product, URL: url, User: "svc-floatseat", Password: "svc-pw", Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	d, err := New(cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func fixture(t *testing.T, product string) (*appFake, *Dir) {
	t.Helper()
	f, srv := newAppFake(t, product)
	seedFixture(f)
	return f, newDir(t, product, srv.URL)
}

func TestNewValidates(t *testing.T) {
	valid := Config{Product: Jira, URL: "https://jira.example.com/jira", User: "svc", Password: "s3cret"}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"valid jira", func(*Config) {}, ""},
		{"valid confluence", func(c *Config) { c.Product = Confluence }, ""},
		{"unknown product", func(c *Config) { c.Product = "bamboo" }, `product "bamboo"`},
		{"empty url", func(c *Config) { c.URL = "" }, "url is empty"},
		{"relative url", func(c *Config) { c.URL = "/jira" }, "not an absolute"},
		{"credentials in url", func(c *Config) { c.URL = "https://svc:s3cret@jira.example.com" }, "must not contain credentials"},
		{"no user", func(c *Config) { c.User = "" }, "user is empty"},
		{"no password", func(c *Config) { c.Password = "" }, "password is empty"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.mod(&cfg)
			_, err := New(cfg, nil)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// TestErrorMapping runs each outcome against both products' fakes.
func TestErrorMapping(t *testing.T) {
	type call func(ctx context.Context, d *Dir) error
	isMember := func(u, g string, want bool) call {
		return func(ctx context.Context, d *Dir) error {
			got, err := d.IsMember(ctx, u, g, true)
			if err == nil && got != want {
				return fmt.Errorf("IsMember(%s, %s): got %v, want %v", u, g, got, want)
			}
			return err
		}
	}
	tests := []struct {
		name    string
		call    call
		wantErr error
	}{
		{"add", func(ctx context.Context, d *Dir) error { return d.AddMember(ctx, "bob", "jira-software-users") }, nil},
		{"add already member", func(ctx context.Context, d *Dir) error { return d.AddMember(ctx, "ALICE", "Jira-Software-Users") }, nil},
		{"add unknown user", func(ctx context.Context, d *Dir) error { return d.AddMember(ctx, "zed", "jira-software-users") }, directory.ErrUserNotFound},
		{"add unknown group", func(ctx context.Context, d *Dir) error { return d.AddMember(ctx, "bob", "nope") }, directory.ErrGroupNotFound},
		{"remove", func(ctx context.Context, d *Dir) error { return d.RemoveMember(ctx, "alice", "jira-software-users") }, nil},
		{"remove not member", func(ctx context.Context, d *Dir) error { return d.RemoveMember(ctx, "bob", "jira-software-users") }, nil},
		{"remove unknown user", func(ctx context.Context, d *Dir) error { return d.RemoveMember(ctx, "zed", "jira-software-users") }, directory.ErrUserNotFound},
		{"remove unknown group", func(ctx context.Context, d *Dir) error { return d.RemoveMember(ctx, "bob", "nope") }, directory.ErrGroupNotFound},
		{"is member", isMember("Alice", "JIRA-software-users", true), nil},
		{"is member no", isMember("bob", "jira-software-users", false), nil},
		{"is member through subgroup", isMember("carol", "parent-group", true), nil},
		{"is member unknown user", isMember("zed", "jira-software-users", false), directory.ErrUserNotFound},
		{"is member unknown group", isMember("bob", "nope", false), directory.ErrGroupNotFound},
		{"members unknown group", func(ctx context.Context, d *Dir) error { _, err := d.Members(ctx, "nope", true); return err }, directory.ErrGroupNotFound},
		{"user groups unknown user", func(ctx context.Context, d *Dir) error { _, err := d.UserGroups(ctx, "zed", true); return err }, directory.ErrUserNotFound},
	}
	for _, product := range products {
		for _, tc := range tests {
			t.Run(product+"/"+tc.name, func(t *testing.T) {
				_, d := fixture(t, product)
				err := tc.call(t.Context(), d)
				switch {
				case tc.wantErr == nil && err != nil:
					t.Errorf("got %v, want success", err)
				case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
					t.Errorf("got %v, want %v", err, tc.wantErr)
				}
			})
		}
	}
}

func TestWritesReachApp(t *testing.T) {
	for _, product := range products {
		t.Run(product, func(t *testing.T) {
			f, d := fixture(t, product)
			ctx := t.Context()
			if err := d.AddMember(ctx, "Erin", "confluence-users"); err != nil {
				t.Fatal(err)
			}
			if err := d.AddMember(ctx, "dave", "confluence-users"); err != nil {
				t.Fatal(err)
			}
			if got, want := f.directMembers("confluence-users"), []string{"Erin", "dave"}; !slices.Equal(got, want) {
				t.Errorf("after add: got %v, want %v", got, want)
			}
			if err := d.RemoveMember(ctx, "erin", "CONFLUENCE-users"); err != nil {
				t.Fatal(err)
			}
			if got, want := f.directMembers("confluence-users"), []string{"dave"}; !slices.Equal(got, want) {
				t.Errorf("after remove: got %v, want %v", got, want)
			}
			got, err := d.Members(ctx, "confluence-users", false)
			if err != nil || !slices.Equal(got, []string{"dave"}) {
				t.Errorf("Members: got %v, %v, want [dave]", got, err)
			}
			groups, err := d.UserGroups(ctx, "carol", true)
			if want := []string{"child-group", "parent-group"}; err != nil || !slices.Equal(groups, want) {
				t.Errorf("UserGroups(carol): got %v, %v, want %v", groups, err, want)
			}
		})
	}
}

func TestAccountRejected(t *testing.T) {
	for _, product := range products {
		t.Run(product+"/wrong password", func(t *testing.T) {
			f, srv := newAppFake(t, product)
			seedFixture(f)
			d := newDir(t, product, srv.URL, func(c *Config) { c.Password = "wrong-password" })
			err := d.AddMember(t.Context(), "bob", "jira-software-users")
			if !errors.Is(err, directory.ErrPermissionDenied) {
				t.Fatalf("got %v, want ErrPermissionDenied", err)
			}
			if !strings.Contains(err.Error(), "rejected the service account credentials") {
				t.Errorf("got %q, want it to say the credentials were rejected", err)
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Errorf("error %q contains the password", err)
			}
		})
		t.Run(product+"/not admin", func(t *testing.T) {
			f, d := fixture(t, product)
			f.set(func(f *appFake) { f.forbid = true })
			_, err := d.Members(t.Context(), "jira-software-users", true)
			if !errors.Is(err, directory.ErrPermissionDenied) {
				t.Fatalf("got %v, want ErrPermissionDenied", err)
			}
			if !strings.Contains(err.Error(), "Administrator privileges") {
				t.Errorf("got %q, want the app's reason in it", err)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	for _, product := range products {
		t.Run(product+"/503", func(t *testing.T) {
			f, d := fixture(t, product)
			f.set(func(f *appFake) { f.fail503 = 1 })
			err := d.AddMember(t.Context(), "bob", "jira-software-users")
			if !errors.Is(err, directory.ErrUnavailable) {
				t.Fatalf("got %v, want ErrUnavailable", err)
			}
			if err := d.AddMember(t.Context(), "bob", "jira-software-users"); err != nil {
				t.Errorf("after the failure: got %v, want success", err)
			}
		})
		t.Run(product+"/timeout", func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			}))
			t.Cleanup(srv.Close)
			t.Cleanup(func() { close(release) })
			d := newDir(t, product, srv.URL, func(c *Config) { c.Timeout = 100 * time.Millisecond })
			_, err := d.UserGroups(t.Context(), "alice", true)
			if !errors.Is(err, directory.ErrUnavailable) {
				t.Fatalf("got %v, want ErrUnavailable", err)
			}
		})
		t.Run(product+"/connection refused", func(t *testing.T) {
			srv := httptest.NewServer(http.NotFoundHandler())
			url := srv.URL
			srv.Close()
			d := newDir(t, product, url)
			err := d.RemoveMember(t.Context(), "alice", "g")
			if !errors.Is(err, directory.ErrUnavailable) {
				t.Fatalf("got %v, want ErrUnavailable", err)
			}
		})
	}
}

// TestOddAnswers covers a login page or redirect in front of the API, to a
// read whose body is decoded (Members) and to a write whose 200 only means
// "done" (RemoveMember).
func TestOddAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantInMsg string
	}{
		{"200 html", 200, "<html>log in</html>", "not JSON"},
		{"302", 302, "", "redirected"},
		{"418", 418, `{"errorMessages":["teapot"]}`, "teapot"},
	}
	ops := map[string]func(context.Context, *Dir) error{
		"members":       func(ctx context.Context, d *Dir) error { _, err := d.Members(ctx, "g", true); return err },
		"remove member": func(ctx context.Context, d *Dir) error { return d.RemoveMember(ctx, "u", "g") },
	}
	for _, product := range products {
		for _, tc := range tests {
			for op, call := range ops {
				t.Run(product+"/"+op+"/"+tc.name, func(t *testing.T) {
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if tc.status == 302 {
							w.Header().Set("Location", "/login.jsp")
						}
						w.WriteHeader(tc.status)
						fmt.Fprint(w, tc.body)
					}))
					t.Cleanup(srv.Close)
					d := newDir(t, product, srv.URL)
					err := call(t.Context(), d)
					if err == nil || !strings.Contains(err.Error(), tc.wantInMsg) {
						t.Fatalf("got %v, want an error mentioning %q", err, tc.wantInMsg)
					}
					if directory.Retryable(err) || errors.Is(err, directory.ErrGroupNotFound) {
						t.Errorf("got typed %v, want an untyped error", err)
					}
				})
			}
		}
	}
}

func TestPaging(t *testing.T) {
	tests := []struct {
		product   string
		n         int
		maxLimit  int // Confluence's cap on limit= (0: 200, what floatseat asks)
		path      string
		wantPages int
	}{
		{Jira, 120, 0, "GET /rest/api/2/group/member", 3},         // 50 + 50 + 20
		{Confluence, 450, 0, "GET /rest/api/group/big/member", 3}, // 200 + 200 + 50
		{Confluence, 400, 0, "GET /rest/api/group/big/member", 2}, // next link absent on the last full page
		// A Confluence that caps limit below what floatseat asks: its
		// answer's limit says so, and a page of that many is not the last.
		{Confluence, 250, 100, "GET /rest/api/group/big/member", 3}, // 100 + 100 + 50
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d/limit%d", tc.product, tc.n, tc.maxLimit), func(t *testing.T) {
			f, d := fixture(t, tc.product)
			f.maxLimit = tc.maxLimit
			f.addGroup("big")
			var want []string
			for i := range tc.n {
				name := fmt.Sprintf("user%04d", i)
				f.addUser(name)
				f.addMember(name, "big")
				want = append(want, name)
			}
			got, err := d.Members(t.Context(), "big", true)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("got %d members, want %d", len(got), len(want))
			}
			if got := f.count(tc.path); got != tc.wantPages {
				t.Errorf("got %d requests, want %d", got, tc.wantPages)
			}
			// Instrumented, the listing goes a page at a time (its own
			// deadline each) and reads the same pages.
			inst := directory.Instrument(tc.product, d, nil, directory.Options{})
			got, err = inst.Members(t.Context(), "big", true)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) || f.count(tc.path) != 2*tc.wantPages {
				t.Errorf("instrumented: %d members in %d requests, want %d in %d", len(got), f.count(tc.path)-tc.wantPages, len(want), tc.wantPages)
			}
		})
	}
}

// TestEscaping checks names that mean something in a URL reach the app intact.
func TestEscaping(t *testing.T) {
	const user, group = "o'brien & co+1", "R&D #1/100% ?x=y"
	for _, product := range products {
		t.Run(product, func(t *testing.T) {
			f, d := fixture(t, product)
			f.addUser(user)
			f.addGroup(group)
			ctx := t.Context()
			if err := d.AddMember(ctx, user, group); err != nil {
				t.Fatal(err)
			}
			if got := f.directMembers(group); !slices.Equal(got, []string{user}) {
				t.Errorf("after add: got %v, want [%s]", got, user)
			}
			if ok, err := d.IsMember(ctx, user, group, false); err != nil || !ok {
				t.Errorf("IsMember: got %v, %v, want true, nil", ok, err)
			}
			if got, err := d.Members(ctx, group, false); err != nil || !slices.Equal(got, []string{user}) {
				t.Errorf("Members: got %v, %v, want [%s]", got, err, user)
			}
			if err := d.RemoveMember(ctx, user, group); err != nil {
				t.Fatal(err)
			}
			if got := f.directMembers(group); len(got) != 0 {
				t.Errorf("after remove: got %v, want none", got)
			}
		})
	}
}

func TestPasswordStaysOutOfLogs(t *testing.T) {
	for _, product := range products {
		t.Run(product, func(t *testing.T) {
			var buf strings.Builder
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			f, srv := newAppFake(t, product)
			seedFixture(f)
			cfg := Config{Product: product, URL: srv.URL, User: "svc-floatseat", Password: "svc-pw"}
			log.Info("config", "dir", cfg)
			d, err := New(cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			_ = d.AddMember(ctx, "bob", "confluence-users")
			_ = d.AddMember(ctx, "zed", "confluence-users")
			_ = d.RemoveMember(ctx, "bob", "confluence-users")
			_, _ = d.IsMember(ctx, "bob", "confluence-users", true)
			_, _ = d.Members(ctx, "confluence-users", true)
			out := buf.String()
			if !strings.Contains(out, "REDACTED") || !strings.Contains(out, product+" request") {
				t.Fatalf("log does not look as expected:\n%s", out)
			}
			for _, secret := range []string{"svc-pw", "Authorization", "Basic "} {
				if strings.Contains(out, secret) {
					t.Errorf("log contains %q:\n%s", secret, out)
				}
			}
		})
	}
}
