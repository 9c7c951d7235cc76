package crowd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/crowd/crowdfake"
)

// seedFixture fills f with the directory the conformance suite describes:
// users alice, bob, carol, dave, Erin; jira-software-users{alice},
// jira-servicedesk-users{bob}, confluence-users{}, child-group{carol},
// parent-group{subgroup child-group}. Passwords are "<name>-pw".
func seedFixture(t *testing.T, f *crowdfake.Fake) {
	t.Helper()
	for _, u := range []string{"alice", "bob", "carol", "dave", "Erin"} {
		f.AddUser(u, strings.ToLower(u)+"-pw", true)
	}
	for _, g := range []string{"jira-software-users", "jira-servicedesk-users", "confluence-users", "child-group", "parent-group"} {
		f.AddGroup(g)
	}
	for _, m := range [][2]string{{"alice", "jira-software-users"}, {"bob", "jira-servicedesk-users"}, {"carol", "child-group"}} {
		if err := f.AddMember(m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.AddChildGroup("parent-group", "child-group"); err != nil {
		t.Fatal(err)
	}
	f.ResetCounts()
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newClient returns a client for srv with the fake's default credentials.
func newClient(t *testing.T, url string, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{URL: url, AppName: crowdfake.DefaultAppName, AppPassword: crowdfake.DefaultAppPassword, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func fixture(t *testing.T, opts crowdfake.Options) (*crowdfake.Fake, *Client) {
	t.Helper()
	f, srv := crowdfake.NewServer(t, opts)
	seedFixture(t, f)
	return f, newClient(t, srv.URL+"/crowd")
}

func TestNewValidates(t *testing.T) {
	valid := Config{URL: "https://crowd.example.com/crowd", AppName: "floatseat", AppPassword: "s3cret"}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"empty url", func(c *Config) { c.URL = "" }, "url is empty"},
		{"relative url", func(c *Config) { c.URL = "crowd.example.com" }, "not an absolute"},
		{"credentials in url", func(c *Config) { c.URL = "https://u:p@crowd.example.com" }, "must not contain credentials"},
		{"no app name", func(c *Config) { c.AppName = "" }, "app name is empty"},
		{"no app password", func(c *Config) { c.AppPassword = "" }, "app password is empty"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout is negative"},
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

func TestBaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://c.example.com/crowd", "https://c.example.com/crowd/rest/usermanagement/1"},
		{"https://c.example.com/crowd/", "https://c.example.com/crowd/rest/usermanagement/1"},
		{"https://c.example.com", "https://c.example.com/rest/usermanagement/1"},
		{"https://c.example.com/rest/usermanagement/latest", "https://c.example.com/rest/usermanagement/latest"},
		{"https://c.example.com/crowd/rest/usermanagement/1/", "https://c.example.com/crowd/rest/usermanagement/1"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c, err := New(Config{URL: tc.in, AppName: "a", AppPassword: "p"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.base.String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestErrorMapping drives every documented Crowd status and reason through
// the client and checks the typed error that comes out.
func TestErrorMapping(t *testing.T) {
	type call func(ctx context.Context, c *Client) error
	isMember := func(u, g string, nested bool, want bool) call {
		return func(ctx context.Context, c *Client) error {
			got, err := c.IsMember(ctx, u, g, nested)
			if err == nil && got != want {
				return fmt.Errorf("IsMember(%s, %s, %v): got %v, want %v", u, g, nested, got, want)
			}
			return err
		}
	}
	tests := []struct {
		name    string
		opts    crowdfake.Options
		call    call
		wantErr error // nil: success
	}{
		{"authenticate ok", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.VerifyPassword(ctx, "alice", "alice-pw") }, nil},
		{"authenticate case-insensitive name", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.VerifyPassword(ctx, "ERIN", "erin-pw") }, nil},
		{"INVALID_USER_AUTHENTICATION", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.VerifyPassword(ctx, "alice", "wrong") }, directory.ErrBadCredentials},
		{"authenticate USER_NOT_FOUND", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.VerifyPassword(ctx, "zed", "x") }, directory.ErrUserNotFound},
		{"INACTIVE_ACCOUNT", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.VerifyPassword(ctx, "inactive", "inactive-pw") }, directory.ErrBadCredentials},
		{"EXPIRED_CREDENTIAL", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.VerifyPassword(ctx, "expired", "expired-pw") }, directory.ErrBadCredentials},
		{"is member 200", crowdfake.Options{}, isMember("alice", "jira-software-users", false, true), nil},
		{"is member 404 MEMBERSHIP_NOT_FOUND", crowdfake.Options{}, isMember("bob", "jira-software-users", false, false), nil},
		{"is member nested 200", crowdfake.Options{}, isMember("carol", "parent-group", true, true), nil},
		{"is member direct through subgroup", crowdfake.Options{}, isMember("carol", "parent-group", false, false), nil},
		{"is member GROUP_NOT_FOUND", crowdfake.Options{}, isMember("alice", "nope", false, false), directory.ErrGroupNotFound},
		{"is member USER_NOT_FOUND", crowdfake.Options{}, isMember("zed", "jira-software-users", false, false), directory.ErrUserNotFound},
		{"members GROUP_NOT_FOUND", crowdfake.Options{}, func(ctx context.Context, c *Client) error { _, err := c.Members(ctx, "nope", false); return err }, directory.ErrGroupNotFound},
		{"user groups USER_NOT_FOUND", crowdfake.Options{}, func(ctx context.Context, c *Client) error { _, err := c.UserGroups(ctx, "zed", true); return err }, directory.ErrUserNotFound},
		{"add 201", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.AddMember(ctx, "bob", "jira-software-users") }, nil},
		{"add 409 already member", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.AddMember(ctx, "ALICE", "jira-software-users") }, nil},
		{"add 400 USER_NOT_FOUND", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.AddMember(ctx, "zed", "jira-software-users") }, directory.ErrUserNotFound},
		{"add 404 GROUP_NOT_FOUND", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.AddMember(ctx, "bob", "nope") }, directory.ErrGroupNotFound},
		{"add 403 APPLICATION_PERMISSION_DENIED", crowdfake.Options{ReadOnly: true}, func(ctx context.Context, c *Client) error { return c.AddMember(ctx, "bob", "jira-software-users") }, directory.ErrPermissionDenied},
		{"remove 204", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.RemoveMember(ctx, "alice", "jira-software-users") }, nil},
		{"remove 404 MEMBERSHIP_NOT_FOUND", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.RemoveMember(ctx, "bob", "jira-software-users") }, nil},
		{"remove 404 GROUP_NOT_FOUND", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.RemoveMember(ctx, "bob", "nope") }, directory.ErrGroupNotFound},
		{"remove 404 USER_NOT_FOUND", crowdfake.Options{}, func(ctx context.Context, c *Client) error { return c.RemoveMember(ctx, "zed", "jira-software-users") }, directory.ErrUserNotFound},
		{"remove 403 APPLICATION_PERMISSION_DENIED", crowdfake.Options{ReadOnly: true}, func(ctx context.Context, c *Client) error { return c.RemoveMember(ctx, "alice", "jira-software-users") }, directory.ErrPermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, c := fixture(t, tc.opts)
			f.AddUser("inactive", "inactive-pw", false)
			f.AddUser("expired", "expired-pw", true)
			f.SetPasswordExpired("expired", true)
			err := tc.call(t.Context(), c)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Errorf("got %v, want success", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), crowdfake.DefaultAppPassword) {
				t.Errorf("error %q contains the application password", err)
			}
		})
	}
}

// TestWritesReachCrowd checks add and remove change the fake's state, with
// names given in another case than stored.
func TestWritesReachCrowd(t *testing.T) {
	f, c := fixture(t, crowdfake.Options{})
	ctx := t.Context()
	if err := c.AddMember(ctx, "Bob", "JIRA-software-users"); err != nil {
		t.Fatal(err)
	}
	if got, want := f.Members("jira-software-users", false), []string{"alice", "bob"}; !slices.Equal(got, want) {
		t.Errorf("after add: got %v, want %v", got, want)
	}
	if err := c.RemoveMember(ctx, "ALICE", "jira-software-users"); err != nil {
		t.Fatal(err)
	}
	if got, want := f.Members("jira-software-users", false), []string{"bob"}; !slices.Equal(got, want) {
		t.Errorf("after remove: got %v, want %v", got, want)
	}
}

func TestApplicationRejected(t *testing.T) {
	tests := []struct {
		name    string
		opts    crowdfake.Options
		mod     func(*Config)
		wantMsg string
	}{
		{"wrong app password", crowdfake.Options{}, func(c *Config) { c.AppPassword = "wrong-password" }, "crowd rejected the application credentials"},
		{"wrong app name", crowdfake.Options{}, func(c *Config) { c.AppName = "other" }, "crowd rejected the application credentials"},
		{"address not allowed", crowdfake.Options{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, func(*Config) {}, "address not allowed by crowd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := crowdfake.NewServer(t, tc.opts)
			seedFixture(t, f)
			c := newClient(t, srv.URL, tc.mod)
			_, err := c.Members(t.Context(), "jira-software-users", false)
			if !errors.Is(err, directory.ErrPermissionDenied) {
				t.Fatalf("got %v, want ErrPermissionDenied", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("got %q, want it to say %q", err, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "wrong-password") || strings.Contains(err.Error(), crowdfake.DefaultAppPassword) {
				t.Errorf("error %q contains a password", err)
			}
			if directory.Retryable(err) {
				t.Errorf("got retryable %v, want not retryable", err)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	t.Run("503", func(t *testing.T) {
		f, c := fixture(t, crowdfake.Options{})
		f.FailNext(1, crowdfake.Fail503)
		err := c.AddMember(t.Context(), "bob", "jira-software-users")
		if !errors.Is(err, directory.ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
		if err := c.AddMember(t.Context(), "bob", "jira-software-users"); err != nil {
			t.Errorf("after the failure: got %v, want success", err)
		}
	})
	t.Run("hang until timeout", func(t *testing.T) {
		f, srv := crowdfake.NewServer(t, crowdfake.Options{})
		seedFixture(t, f)
		c := newClient(t, srv.URL, func(c *Config) { c.Timeout = 100 * time.Millisecond })
		f.FailNext(1, crowdfake.FailHang)
		_, err := c.IsMember(t.Context(), "alice", "jira-software-users", false)
		if !errors.Is(err, directory.ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close() // nothing listens there any more
		c := newClient(t, url)
		_, err := c.UserGroups(t.Context(), "alice", false)
		if !errors.Is(err, directory.ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		f, c := fixture(t, crowdfake.Options{})
		f.FailNext(1, crowdfake.FailHang)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := c.RemoveMember(ctx, "alice", "jira-software-users")
		if !errors.Is(err, directory.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want ErrUnavailable and context.Canceled", err)
		}
	})
}

// TestOddAnswers covers answers the fake never gives but a proxy or a
// misconfigured URL might, to a read whose body is decoded (Members) and
// to one whose 200 only means "yes" (IsMember).
func TestOddAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantErr   error // nil: any untyped error
		wantInMsg string
	}{
		{"500", 500, `{"reason":"OPERATION_FAILED","message":"db down"}`, directory.ErrUnavailable, "500"},
		{"502 html", 502, `<html>bad gateway</html>`, directory.ErrUnavailable, "502"},
		{"429", 429, ``, directory.ErrUnavailable, "429"},
		{"403 without reason", 403, `Client with address "10.0.0.1" is forbidden`, directory.ErrPermissionDenied, "address not allowed by crowd"},
		{"404 html", 404, `<html>not found</html>`, nil, "unexpected answer"},
		{"200 html", 200, `<html>login</html>`, nil, "not JSON"},
		{"302", 302, ``, nil, "redirected"},
	}
	ops := map[string]func(context.Context, *Client) error{
		"members": func(ctx context.Context, c *Client) error { _, err := c.Members(ctx, "g", false); return err },
		"is member": func(ctx context.Context, c *Client) error {
			_, err := c.IsMember(ctx, "u", "g", false)
			return err
		},
	}
	for _, tc := range tests {
		for op, call := range ops {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tc.status == 302 {
						w.Header().Set("Location", "/login")
					}
					w.WriteHeader(tc.status)
					fmt.Fprint(w, tc.body)
				}))
				t.Cleanup(srv.Close)
				c := newClient(t, srv.URL)
				err := call(t.Context(), c)
				if err == nil {
					t.Fatal("got success, want an error")
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("got %v, want %v", err, tc.wantErr)
				}
				if tc.wantErr == nil {
					for _, typed := range []error{directory.ErrGroupNotFound, directory.ErrUserNotFound, directory.ErrUnavailable, directory.ErrPermissionDenied} {
						if errors.Is(err, typed) {
							t.Errorf("got %v, want an untyped error", err)
						}
					}
				}
				if !strings.Contains(err.Error(), tc.wantInMsg) {
					t.Errorf("got %q, want it to mention %q", err, tc.wantInMsg)
				}
			})
		}
	}
}

func TestPagingLargeGroup(t *testing.T) {
	f, c := fixture(t, crowdfake.Options{})
	const n = 2500
	f.AddGroup("big")
	want := make([]string, 0, n)
	for i := range n {
		name := fmt.Sprintf("user%04d", i)
		f.AddUser(name, "pw", true)
		if err := f.AddMember(name, "big"); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	f.ResetCounts()
	for _, nested := range []bool{false, true} {
		got, err := c.Members(t.Context(), "big", nested)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("nested=%v: got %d members, want %d", nested, len(got), len(want))
		}
	}
	// 1000 + 1000 + 500: three pages each way.
	if got := f.Count(crowdfake.OpMembersDirect); got != 3 {
		t.Errorf("direct member pages: got %d requests, want 3", got)
	}
	if got := f.Count(crowdfake.OpMembersNested); got != 3 {
		t.Errorf("nested member pages: got %d requests, want 3", got)
	}
	// Instrumented, the listing goes a page at a time (each with its own
	// deadline and retry) and reads the same three pages.
	f.ResetCounts()
	got, err := directory.Instrument("crowd", c, nil, directory.Options{}).Members(t.Context(), "big", true)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) || f.Count(crowdfake.OpMembersNested) != 3 {
		t.Errorf("instrumented: %d members in %d requests, want %d in 3", len(got), f.Count(crowdfake.OpMembersNested), len(want))
	}
}

// TestPagingExactMultiple checks a list whose size is a multiple of the
// page size ends with one empty page rather than looping.
func TestPagingExactMultiple(t *testing.T) {
	f, c := fixture(t, crowdfake.Options{})
	c.pageSize = 2
	if err := f.AddMember("dave", "jira-software-users"); err != nil {
		t.Fatal(err)
	}
	got, err := c.Members(t.Context(), "jira-software-users", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice", "dave"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := f.Count(crowdfake.OpMembersDirect); got != 2 {
		t.Errorf("got %d requests, want 2", got)
	}
}

func TestReads(t *testing.T) {
	_, c := fixture(t, crowdfake.Options{})
	ctx := t.Context()
	tests := []struct {
		name string
		get  func() ([]string, error)
		want []string
	}{
		{"carol direct groups", func() ([]string, error) { return c.UserGroups(ctx, "carol", false) }, []string{"child-group"}},
		{"carol nested groups", func() ([]string, error) { return c.UserGroups(ctx, "CAROL", true) }, []string{"child-group", "parent-group"}},
		{"parent direct members", func() ([]string, error) { return c.Members(ctx, "parent-group", false) }, nil},
		{"parent nested members", func() ([]string, error) { return c.Members(ctx, "Parent-Group", true) }, []string{"carol"}},
		{"empty group", func() ([]string, error) { return c.Members(ctx, "confluence-users", false) }, nil},
		{"Erin keeps her case", func() ([]string, error) {
			if err := c.AddMember(ctx, "erin", "confluence-users"); err != nil {
				return nil, err
			}
			return c.Members(ctx, "confluence-users", false)
		}, []string{"Erin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.get()
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEscaping checks names with characters that mean something in a URL
// reach Crowd intact.
func TestEscaping(t *testing.T) {
	f, c := fixture(t, crowdfake.Options{})
	const user, group = "o'brien & co+1/x?y=z", "R&D #1/100%"
	f.AddUser(user, "p&w=1", true)
	f.AddGroup(group)
	ctx := t.Context()
	if err := c.AddMember(ctx, user, group); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.IsMember(ctx, user, group, false); err != nil || !ok {
		t.Errorf("IsMember: got %v, %v, want true, nil", ok, err)
	}
	if got, err := c.Members(ctx, group, false); err != nil || !slices.Equal(got, []string{user}) {
		t.Errorf("Members: got %v, %v, want [%s]", got, err, user)
	}
	if err := c.VerifyPassword(ctx, user, "p&w=1"); err != nil {
		t.Errorf("VerifyPassword: got %v, want nil", err)
	}
	if err := c.RemoveMember(ctx, user, group); err != nil {
		t.Fatal(err)
	}
	if got := f.Members(group, false); len(got) != 0 {
		t.Errorf("after remove: got %v, want none", got)
	}
}

// TestIsMemberRequests checks a "yes" costs one request and only a "no"
// pays for the look-ups that tell it from an unknown user or group.
func TestIsMemberRequests(t *testing.T) {
	f, c := fixture(t, crowdfake.Options{})
	if ok, err := c.IsMember(t.Context(), "alice", "jira-software-users", false); err != nil || !ok {
		t.Fatalf("got %v, %v, want true, nil", ok, err)
	}
	if got := f.Counts(); got[crowdfake.OpIsMemberDirect] != 1 || got[crowdfake.OpUser] != 0 || got[crowdfake.OpGroup] != 0 {
		t.Errorf("yes: got requests %v, want one is-member", got)
	}
	f.ResetCounts()
	if ok, err := c.IsMember(t.Context(), "bob", "jira-software-users", true); err != nil || ok {
		t.Fatalf("got %v, %v, want false, nil", ok, err)
	}
	if got := f.Counts(); got[crowdfake.OpIsMemberNested] != 1 || got[crowdfake.OpUser] != 1 || got[crowdfake.OpGroup] != 1 {
		t.Errorf("no: got requests %v, want is-member, user and group once each", got)
	}
}

// TestPasswordsStayOutOfLogs logs the config and runs every operation,
// including a user password check, with debug logging on.
func TestPasswordsStayOutOfLogs(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f, srv := crowdfake.NewServer(t, crowdfake.Options{})
	seedFixture(t, f)
	cfg := Config{URL: srv.URL, AppName: crowdfake.DefaultAppName, AppPassword: crowdfake.DefaultAppPassword}
	log.Info("config", "crowd", cfg)
	c, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_ = c.VerifyPassword(ctx, "alice", "alice-pw")
	_ = c.VerifyPassword(ctx, "alice", "wrong-user-pw")
	_ = c.AddMember(ctx, "bob", "confluence-users")
	_ = c.RemoveMember(ctx, "bob", "confluence-users")
	_, _ = c.IsMember(ctx, "bob", "confluence-users", true)
	_, _ = c.Members(ctx, "confluence-users", true)
	_, _ = c.UserGroups(ctx, "bob", true)
	out := buf.String()
	if !strings.Contains(out, "REDACTED") || !strings.Contains(out, "crowd request") {
		t.Fatalf("log does not look as expected:\n%s", out)
	}
	for _, secret := range []string{crowdfake.DefaultAppPassword, "alice-pw", "wrong-user-pw", "Authorization", "Basic "} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}
