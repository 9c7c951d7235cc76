package appsim

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestBrowserThroughProxy(t *testing.T) {
	e := newEnv(t, Jira, nil)
	target, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	b := NewBrowser(newServer(t, proxy), "alice", pw, Jira)
	res := must(t)(b.Login(t.Context(), true))
	if res.Status != http.StatusFound || res.LoginReason() != ReasonOK || res.User != "alice" {
		t.Fatalf("login through proxy: got %d %q %q, want 302 OK alice", res.Status, res.LoginReason(), res.User)
	}
	if res := must(t)(b.Work(t.Context())); res.Status != 200 || res.User != "alice" {
		t.Errorf("work through proxy: got %d %q, want 200 alice", res.Status, res.User)
	}
	b.DropSession()
	if b.Cookie(SessionCookie) != "" || b.Cookie(JiraRememberMeCookie) == "" {
		t.Errorf("got session %q remember-me %q, want only remember-me kept", b.Cookie(SessionCookie), b.Cookie(JiraRememberMeCookie))
	}
	if res := must(t)(b.Poll(t.Context())); res.User != "alice" {
		t.Errorf("poll via remember-me: got %q, want alice", res.User)
	}
}

func TestSessionTimeoutThenRememberMe(t *testing.T) {
	// The common return path (DESIGN §2.6): the session died overnight and
	// the remember-me cookie logs the user in again without groups refresh.
	e := newEnv(t, Jira, nil)
	b := e.browser("alice", pw)
	must(t)(b.Login(t.Context(), true))
	e.clock.Advance(12 * time.Hour)
	res := must(t)(b.Work(t.Context()))
	if res.Status != 200 || res.User != "alice" || res.LoginReason() != ReasonOK {
		t.Errorf("got %d %q %q, want 200 alice OK", res.Status, res.User, res.LoginReason())
	}
	if got := e.sim.LoginCount("alice"); got != 2 {
		t.Errorf("got login count %d, want 2", got)
	}
	recs := e.sim.Requests()
	if last := recs[len(recs)-1]; last.Via != "cookie" || last.User != "alice" {
		t.Errorf("got last request %+v, want via cookie as alice", last)
	}
}

func TestLoginReasonOrderOnLoginRoute(t *testing.T) {
	// A failed login from a browser that still has a session: the login's
	// reason comes first (Seraph's login filter runs before its security filter).
	e := newEnv(t, Jira, nil)
	b := e.browser("alice", pw)
	must(t)(b.Login(t.Context(), false))
	b.Password = "wrong"
	res := must(t)(b.Login(t.Context(), false))
	if !slices.Equal(res.LoginReasons, []string{ReasonAuthFailed}) {
		t.Errorf("got %v, want [AUTHENTICATED_FAILED]", res.LoginReasons)
	}
}

func TestParseLoginReasons(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"OK", []string{"OK"}},
		{"OUT, OK", []string{"OUT", "OK"}},
		{" AUTHORISATION_FAILED ,OK,", []string{"AUTHORISATION_FAILED", "OK"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := ParseLoginReasons(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestXSRFCookieSuffix(t *testing.T) {
	e := newEnv(t, Jira, nil)
	b := e.browser("alice", pw)
	must(t)(b.Get(t.Context(), "/rest/api/2/serverInfo"))
	if c := b.Cookie(XSRFCookie); len(c) < 5 || c[len(c)-5:] != "_lout" {
		t.Errorf("anonymous: got %q, want …_lout", c)
	}
	must(t)(b.Login(t.Context(), false))
	if c := b.Cookie(XSRFCookie); len(c) < 4 || c[len(c)-4:] != "_lin" {
		t.Errorf("logged in: got %q, want …_lin", c)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"product", Config{Product: "bamboo"}},
		{"update mode", Config{UpdateGroupsAtLogin: "always"}},
		{"verifier without directory", Config{Verifier: NewInternalDirectory()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("got no panic, want one")
				}
			}()
			New(tc.cfg)
		})
	}
}

// hookDir runs hook once, in the middle of the next sync's directory reads.
type hookDir struct {
	plainDir
	hook func()
}

func (h *hookDir) Members(ctx context.Context, g string, n bool) ([]string, error) {
	ms, err := h.plainDir.Members(ctx, g, n)
	if f := h.hook; f != nil {
		h.hook = nil
		f()
	}
	return ms, err
}

func TestSyncDoesNotLoseAConcurrentAppChange(t *testing.T) {
	d := NewInternalDirectory()
	d.AddUser("alice", pw)
	d.AddUser("svc", adminPW)
	d.AddGroup("jira-software-users")
	hd := &hookDir{plainDir: plainDir{d}}
	sim := New(Config{Directory: hd, Verifier: hd, AdminUsers: []string{"svc"}, Clock: newFakeClock().Now})
	url := newServer(t, sim)
	if err := sim.SyncNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	adm := NewBrowser(url, "svc", adminPW, Jira)
	adm.Basic = true
	hd.hook = func() {
		mustDo(t, adm, "POST", "/rest/api/2/group/user?groupname=jira-software-users", `{"name":"alice"}`)
	}
	if err := sim.SyncNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !sim.Licensed("alice") {
		t.Errorf("got alice unlicensed after the sync, want the grant made during it kept")
	}
}
