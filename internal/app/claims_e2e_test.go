package app

// End to end, nginx → floatseat → appsim with a real Redis: a claim the app
// does not confirm leaves no seat behind (DESIGN §2.9, issue 9).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/directory"
)

// faults sits in front of the app and misbehaves on request, chosen by the
// X-Test-Fault header: "hold" lets the app answer but never sends the
// answer, until the client has gone; "as:U" rewrites X-AUSERNAME to U.
type faults struct {
	next http.Handler
	held chan struct{}
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch v := r.Header.Get("X-Test-Fault"); {
	case v == "hold":
		f.next.ServeHTTP(httptest.NewRecorder(), r) // the app handles the login
		f.held <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		panic(http.ErrAbortHandler) // nothing reaches anyone
	case strings.HasPrefix(v, "as:"):
		f.next.ServeHTTP(&asUser{ResponseWriter: w, user: v[3:]}, r)
	default:
		f.next.ServeHTTP(w, r)
	}
}

type asUser struct {
	http.ResponseWriter
	user string
}

func (a *asUser) WriteHeader(code int) {
	a.Header().Set("X-AUSERNAME", a.user)
	a.ResponseWriter.WriteHeader(code)
}

// claimRoute builds a login request of one route (REFERENCE §2); for SAML
// the "password" is ignored and good says whether the IdP signed it.
type claimRoute struct {
	name string
	req  func(w *world, user, password string, good bool) *http.Request
	ok   func(res *http.Response, body []byte, user string) bool
}

func formReq(w *world, path, form string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, w.base+path, strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

var claimRoutes = []claimRoute{
	{"form", func(w *world, u, p string, _ bool) *http.Request {
		return formReq(w, "/login.jsp", url.Values{"os_username": {u}, "os_password": {p}, "os_destination": {"/browse/FS-1"}}.Encode())
	}, func(res *http.Response, _ []byte, u string) bool {
		return res.StatusCode == 302 && appsim.ParseLoginReasons(res.Header.Get("X-Seraph-LoginReason"))[0] == "OK"
	}},
	{"rest-session", func(w *world, u, p string, _ bool) *http.Request {
		b, _ := json.Marshal(map[string]string{"username": u, "password": p})
		r, _ := http.NewRequest(http.MethodPost, w.base+"/rest/auth/1/session", strings.NewReader(string(b)))
		r.Header.Set("Content-Type", "application/json")
		return r
	}, func(res *http.Response, _ []byte, _ string) bool { return res.StatusCode == 200 }},
	{"gadget", func(w *world, u, p string, _ bool) *http.Request {
		return formReq(w, "/rest/gadget/1.0/login", url.Values{"os_username": {u}, "os_password": {p}}.Encode())
	}, func(res *http.Response, body []byte, _ string) bool {
		var v struct{ LoginSucceeded bool }
		return json.Unmarshal(body, &v) == nil && v.LoginSucceeded
	}},
	{"basic", func(w *world, u, p string, _ bool) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, w.base+"/browse/FS-1", nil)
		r.SetBasicAuth(u, p)
		return r
	}, func(res *http.Response, _ []byte, _ string) bool { return res.StatusCode == 200 }},
	{"saml", func(w *world, u, _ string, good bool) *http.Request {
		resp := w.sim.SAMLResponse(u)
		if !good { // the same assertion without the IdP's signature: forged
			raw, _ := base64.StdEncoding.DecodeString(resp)
			s := string(raw)
			if i, j := strings.Index(s, "<ds:Signature"), strings.Index(s, "</ds:Signature>"); i > 0 && j > i {
				s = s[:i] + s[j+len("</ds:Signature>"):]
			}
			resp = base64.StdEncoding.EncodeToString([]byte(s))
		}
		return formReq(w, "/plugins/servlet/samlconsumer", url.Values{"SAMLResponse": {resp}, "RelayState": {"/"}}.Encode())
	}, func(res *http.Response, _ []byte, _ string) bool { return res.StatusCode == 302 }},
}

func send(t *testing.T, r *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := http.DefaultTransport.RoundTrip(r) // no redirects followed, no cookies kept
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL.Path, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, body
}

func (w *world) pendingGrants(t *testing.T) int {
	t.Helper()
	_, _, pending, _, _, err := w.apps[0].Store().PoolState(t.Context(), "jira-software")
	if err != nil {
		t.Fatal(err)
	}
	return pending
}

func (w *world) lastEvent(t *testing.T, user string) audit.Event {
	t.Helper()
	evs, _ := w.apps[0].audit.Since(t.Context(), time.Time{}, 0)
	var last audit.Event
	for _, e := range evs {
		if e.User == user {
			last = e
		}
	}
	return last
}

// knownSeatless waits until every replica would grant to user again: the
// rollback's event has reached them (milliseconds; a real user's retry
// takes longer than that).
func (w *world) owedASeat(t *testing.T, user string) {
	t.Helper()
	eventually(t, user+" owed a seat on every replica", func() bool {
		for _, a := range w.apps {
			k := a.seats.keeper
			if len(k.IsRevoked(user)) == 0 && !k.IsSeatless(user) {
				return false
			}
		}
		return true
	})
}

// For a revoked user and for a pool-group member, on every login route: a
// claim the app does not confirm leaves no licence group and no pending
// grant behind, the audit says why, and the real user's correct login then
// works on the first try.
func TestE2EUnconfirmedClaimsLeaveNoSeat(t *testing.T) {
	f := &faults{held: make(chan struct{}, 1)}
	var revoked, pool []string
	for i := 1; i <= 8; i++ {
		revoked = append(revoked, fmt.Sprintf("r%d", i))
		pool = append(pool, fmt.Sprintf("p%d", i))
	}
	w := newWorld(t, worldOpts{seats: 40, users: revoked, poolUsers: pool,
		wrap:      func(h http.Handler) http.Handler { f.next = h; return f },
		extraYAML: "proxy: {password_check: false}"}) // the provisional path, as with an app-REST backend
	w.advance(5 * time.Hour)
	for _, u := range revoked {
		if w.licensed(u, "jira-software-users") {
			t.Fatalf("%s was not revoked", u)
		}
	}
	route := func(name string) claimRoute {
		for _, r := range claimRoutes {
			if r.name == name {
				return r
			}
		}
		panic(name)
	}
	type tc struct {
		name  string
		route string
		want  string                                        // the rollback's audit reason
		claim func(t *testing.T, r claimRoute, user string) // the unconfirmed claim(s)
	}
	gone := func(t *testing.T, r claimRoute, user string) {
		req := r.req(w, user, "wrong", false)
		req.Header.Set("X-Test-Fault", "hold")
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if res, err := http.DefaultTransport.RoundTrip(req.WithContext(ctx)); err == nil {
				res.Body.Close()
			}
		}()
		<-f.held // the app has handled it; its answer is held back
		cancel() // the client closes the socket
		<-done
	}
	var cases []tc
	for _, r := range claimRoutes {
		cases = append(cases, tc{"wrong password, client gone/" + r.name, r.name, "client-gone", gone})
	}
	cases = append(cases,
		tc{"4th attempt past the CAPTCHA threshold", "form", "captcha", func(t *testing.T, r claimRoute, user string) {
			for i := 0; i < 3; i++ {
				res, _ := send(t, r.req(w, user, "wrong", false))
				if res.Header.Get("X-Seraph-LoginReason") != "AUTHENTICATED_FAILED" {
					t.Fatalf("wrong password %d: reason %q", i+1, res.Header.Get("X-Seraph-LoginReason"))
				}
				w.owedASeat(t, user)
			}
			res, _ := send(t, r.req(w, user, "pw-"+user, false)) // even the right password
			if res.Header.Get("X-Seraph-LoginReason") != "AUTHENTICATION_DENIED" {
				t.Fatalf("4th attempt: reason %q, want AUTHENTICATION_DENIED", res.Header.Get("X-Seraph-LoginReason"))
			}
		}},
		tc{"forged SAMLResponse", "saml", "status-400", func(t *testing.T, r claimRoute, user string) {
			if res, _ := send(t, r.req(w, user, "", false)); res.StatusCode != 400 {
				t.Fatalf("forged SAMLResponse: %d, want 400", res.StatusCode)
			}
		}},
		tc{"OK naming someone else", "form", "other-user", func(t *testing.T, r claimRoute, user string) {
			req := r.req(w, user, "pw-"+user, false)
			req.Header.Set("X-Test-Fault", "as:svc")
			if res, _ := send(t, req); res.Header.Get("X-AUSERNAME") != "svc" {
				t.Fatalf("X-AUSERNAME %q", res.Header.Get("X-AUSERNAME"))
			}
		}},
	)
	for i, c := range cases {
		for _, user := range []string{revoked[i], pool[i]} {
			t.Run(c.name+"/"+user, func(t *testing.T) {
				r := route(c.route)
				before := w.pendingGrants(t)
				c.claim(t, r, user)
				eventually(t, "the rollback", func() bool {
					ev := w.lastEvent(t, user)
					return ev.Action == audit.Rollback && ev.Reason == c.want
				})
				if ev := w.lastEvent(t, user); ev.Error != "" {
					t.Errorf("rollback failed: %s", ev.Error)
				}
				if w.licensed(user, "jira-software-users") {
					t.Error("the user kept the licence group")
				}
				if n := w.pendingGrants(t); n != before {
					t.Errorf("pending grants %d, want %d as before the claim", n, before)
				}
				w.owedASeat(t, user)
				// The real user, first try.
				req := r.req(w, user, "pw-"+user, true)
				if c.want == "captcha" {
					req = formReq(w, "/login.jsp", url.Values{"os_username": {user}, "os_password": {"pw-" + user},
						"os_captcha": {appsim.CaptchaAnswer}}.Encode())
				}
				res, body := send(t, req)
				if !r.ok(res, body, user) || !strings.EqualFold(res.Header.Get("X-AUSERNAME"), user) {
					t.Fatalf("the real login: %d %q as %q", res.StatusCode, res.Header.Get("X-Seraph-LoginReason"), res.Header.Get("X-AUSERNAME"))
				}
				if !w.licensed(user, "jira-software-users") {
					t.Error("the real login holds no seat")
				}
				if ev := w.lastEvent(t, user); ev.Action != audit.Grant {
					t.Errorf("last event %s %s, want the grant kept", ev.Action, ev.Reason)
				}
			})
		}
	}
}

// writeCounter counts what floatseat writes to the directory.
type writeCounter struct {
	directory.Directory // hides PasswordVerifier: like an app-REST backend, no password check
	writes              atomic.Int64
}

func (d *writeCounter) AddMember(ctx context.Context, u, g string) error {
	d.writes.Add(1)
	return d.Directory.AddMember(ctx, u, g)
}

func (d *writeCounter) RemoveMember(ctx context.Context, u, g string) error {
	d.writes.Add(1)
	return d.Directory.RemoveMember(ctx, u, g)
}

// CreateGroup lets floatseat create its parking groups as it would.
func (d *writeCounter) CreateGroup(ctx context.Context, g string) error {
	return directory.CreateGroup(ctx, d.Directory, g)
}

// clientFrom is an HTTP client whose connections come from a loopback
// address of its own, so nginx and floatseat see one client address.
func clientFrom(ip string) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}).DialContext
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// A script replaying 500 wrong-password claims for 50 pool-group users
// from one address moves a bounded number of seats, and a real user's
// login in the middle of it works.
func TestE2EClaimScriptIsBounded(t *testing.T) {
	var pool []string
	for i := 0; i < 50; i++ {
		pool = append(pool, fmt.Sprintf("pg%02d", i))
	}
	wc := &writeCounter{}
	w := newWorld(t, worldOpts{seats: 100, poolUsers: append(pool, "real"),
		wrapDir: func(d directory.Directory) directory.Directory { wc.Directory = d; return wc }})
	base := wc.writes.Load() // floatseat's own start-up (parking groups)
	attacker, person := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	var wg sync.WaitGroup
	var sent atomic.Int64
	work := make(chan int)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				u := pool[i%len(pool)]
				res, err := attacker.PostForm(w.base+"/login.jsp", url.Values{"os_username": {u}, "os_password": {"guess"}})
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				sent.Add(1)
			}
		}()
	}
	for i := 0; i < 500; i++ {
		if i == 250 { // a real login in the middle of it
			res, err := person.PostForm(w.base+"/login.jsp", url.Values{"os_username": {"real"}, "os_password": {"pw-real"}})
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 302 || res.Header.Get("X-Seraph-LoginReason") != "OK" {
				t.Errorf("the real login during the script: %d %q", res.StatusCode, res.Header.Get("X-Seraph-LoginReason"))
			}
		}
		work <- i
	}
	close(work)
	wg.Wait()
	writes := wc.writes.Load() - base
	t.Logf("%d wrong-password claims for %d pool-group users from one address: %d directory writes", sent.Load(), len(pool), writes)
	// Each replica grants and rolls back at most the address burst (30)
	// of them, on 2 replicas, plus the real login's grant. A grant of a
	// pool-group member is 2 writes (add the licence group, leave the
	// parking group), its rollback 1 (remove the licence group).
	const grantWrites, rollbackWrites = 2, 1
	if limit := int64(len(w.apps)*30*(grantWrites+rollbackWrites) + grantWrites); writes > limit {
		t.Errorf("%d directory writes, want at most %d", writes, limit)
	}
	for _, u := range pool {
		if w.licensed(u, "jira-software-users") {
			t.Errorf("%s holds a seat after the script", u)
		}
	}
	if !w.licensed("real", "jira-software-users") {
		t.Error("the real user holds no seat")
	}
	if n := w.pendingGrants(t); n > 1 {
		t.Errorf("%d pending grants after the script, want at most the real user's", n)
	}
}

// verifyingCounter counts writes and keeps the directory's password check.
type verifyingCounter struct {
	writeCounter
	v directory.PasswordVerifier
}

func (d *verifyingCounter) VerifyPassword(ctx context.Context, u, p string) error {
	return d.v.VerifyPassword(ctx, u, p)
}

// Where the backend can check a password, a wrong one costs the directory
// no write at all, whatever the route, and the audit says why.
func TestE2EPasswordCheckedBeforeAnyGrant(t *testing.T) {
	vc := &verifyingCounter{}
	w := newWorld(t, worldOpts{seats: 40, users: []string{"rc"}, poolUsers: []string{"pc"},
		wrapDir: func(d directory.Directory) directory.Directory {
			vc.Directory, vc.v = d, d.(directory.PasswordVerifier)
			return vc
		}})
	w.advance(5 * time.Hour)
	before := vc.writes.Load() // the revocation
	for _, user := range []string{"rc", "pc"} {
		for _, r := range claimRoutes[:4] { // the password routes
			if res, body := send(t, r.req(w, user, "wrong", false)); r.ok(res, body, user) {
				t.Errorf("%s: a wrong password was let in", r.name)
			}
		}
		if ev := w.lastEvent(t, user); ev.Action != audit.Deny || ev.Reason != "bad-password" {
			t.Errorf("%s: last event %s %s, want deny bad-password", user, ev.Action, ev.Reason)
		}
	}
	if n := vc.writes.Load() - before; n != 0 {
		t.Errorf("%d directory writes for wrong passwords, want 0", n)
	}
	t.Logf("8 wrong-password claims with the password check: %d directory writes", vc.writes.Load()-before)
	for _, user := range []string{"rc", "pc"} { // four failures: the app wants its CAPTCHA answered
		res, _ := send(t, formReq(w, "/login.jsp", url.Values{"os_username": {user}, "os_password": {"pw-" + user},
			"os_captcha": {appsim.CaptchaAnswer}}.Encode()))
		if res.StatusCode != 302 || !w.licensed(user, "jira-software-users") {
			t.Errorf("%s, right password: %d, licensed %v", user, res.StatusCode, w.licensed(user, "jira-software-users"))
		}
	}
}
