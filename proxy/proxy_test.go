package proxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/noise"
	"github.com/floatseat/floatseat/internal/testenv"
)

// fakeWho names the user of a "user" cookie, like a learned session.
type fakeWho struct {
	mu      sync.Mutex
	learned []string
}

func (f *fakeWho) Identify(ctx context.Context, r *http.Request) identity.Identity {
	id := identity.Identity{Route: identity.ClassifyLogin("jira", r.Method, r.URL.Path)}
	id.Creds = identity.ParseCredentials(r.Header["Cookie"], r.Header.Get("Authorization"))
	if c, err := r.Cookie("user"); err == nil {
		id.User, id.Source = c.Value, identity.SourceSession
	}
	if u, ok := identity.BasicUser(r.Header.Get("Authorization")); ok {
		id.User, id.Source = u, identity.SourceBasic
	}
	if _, err := r.Cookie(identity.CookieJiraRememberMe); err == nil {
		id.RememberMeCookie = identity.CookieJiraRememberMe
	}
	return id
}

func (f *fakeWho) Learn(r *http.Request, id identity.Identity, h http.Header, user string) {
	f.mu.Lock()
	f.learned = append(f.learned, user)
	f.mu.Unlock()
}

type fakeRecorder struct {
	mu    sync.Mutex
	users []string
}

func (f *fakeRecorder) Record(u string, _ uint64) {
	f.mu.Lock()
	f.users = append(f.users, u)
	f.mu.Unlock()
}
func (f *fakeRecorder) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.users...)
}

type fakeSeats struct {
	mu       sync.Mutex
	verdict  Verdict
	ensured  []string
	results  []string
	answered []string
	settled  chan Judgement
}

func (f *fakeSeats) Ensure(ctx context.Context, id identity.Identity, r *http.Request) Verdict {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensured = append(f.ensured, id.User)
	return f.verdict
}

func (f *fakeSeats) Settle(id identity.Identity, v Verdict, j Judgement) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := j.Why
	if j.Confirmed {
		r = "confirmed"
	}
	f.results = append(f.results, r)
	if f.settled != nil {
		f.settled <- j
	}
}

func (f *fakeSeats) AnsweredAs(user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answered = append(f.answered, user)
}

type harness struct {
	proxy    *httptest.Server
	rec      *fakeRecorder
	who      *fakeWho
	seats    *fakeSeats
	metrics  *Metrics
	upstream *httptest.Server
	lastReq  chan *http.Request
}

func newHarness(t *testing.T, trusted []string, withSeats bool) *harness {
	t.Helper()
	return newHarnessWith(t, trusted, withSeats, nil)
}

// newHarnessWith is newHarness with a last say on the proxy's options.
func newHarnessWith(t *testing.T, trusted []string, withSeats bool, mutate func(*Options)) *harness {
	t.Helper()
	h := &harness{rec: &fakeRecorder{}, who: &fakeWho{}, lastReq: make(chan *http.Request, 100)}
	h.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.lastReq <- r.Clone(context.Background())
		if c, err := r.Cookie("user"); err == nil {
			w.Header().Set("X-AUSERNAME", c.Value)
		} else {
			w.Header().Set("X-AUSERNAME", "anonymous")
		}
		if r.URL.Path == "/login.jsp" {
			w.Header().Set("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")
		}
		_, _ = io.WriteString(w, "hello from the app")
	}))
	t.Cleanup(h.upstream.Close)
	u, _ := url.Parse(h.upstream.URL)
	var pfx []netip.Prefix
	for _, s := range trusted {
		pfx = append(pfx, netip.MustParsePrefix(s))
	}
	set, errs := noise.Build("jira", noise.Config{Defaults: true})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	h.metrics = NewMetrics(prometheus.NewRegistry())
	opt := Options{Upstream: u, TrustedProxies: pfx, Transport: Transport(time.Minute, 16), Who: h.who,
		Noise: set, Activity: h.rec, Metrics: h.metrics, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if withSeats {
		h.seats = &fakeSeats{}
		opt.Seats = h.seats
	}
	if mutate != nil {
		mutate(&opt)
	}
	h.proxy = httptest.NewServer(New(opt))
	t.Cleanup(h.proxy.Close)
	return h
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestActivityAndClasses(t *testing.T) {
	h := newHarness(t, nil, false)
	get(t, h.proxy.URL+"/browse/FS-1", map[string]string{"Cookie": "user=alice"})
	get(t, h.proxy.URL+"/rest/menu/latest/appswitcher", map[string]string{"Cookie": "user=bob"})
	get(t, h.proxy.URL+"/s/abc/_/download/batch/x.js", map[string]string{"Cookie": "user=carol"})
	get(t, h.proxy.URL+"/secure/Dashboard.jspa", nil)
	if got := h.rec.got(); len(got) != 1 || got[0] != "alice" {
		t.Errorf("recorded activity: got %v, want only alice (noise and static are not activity)", got)
	}
	for class, want := range map[class]float64{classActivity: 1, classNoise: 2, classAnonymous: 1} {
		if got := testutil.ToFloat64(h.metrics.requests[class]); got != want {
			t.Errorf("class %s: got %v, want %v", classNames[class], got, want)
		}
	}
}

func TestForwardedHeaders(t *testing.T) {
	t.Run("untrusted peer cannot spoof", func(t *testing.T) {
		h := newHarness(t, nil, false)
		get(t, h.proxy.URL+"/x", map[string]string{"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https",
			"X-Real-IP": "6.6.6.6", "Host": "jira.example.com"})
		r := <-h.lastReq
		if got := r.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("X-Forwarded-For: got %q, want the peer only", got)
		}
		if got := r.Header.Get("X-Forwarded-Proto"); got != "http" {
			t.Errorf("X-Forwarded-Proto: got %q, want http", got)
		}
		if r.Header.Get("X-Real-Ip") != "" {
			t.Error("X-Real-IP from an untrusted peer was forwarded")
		}
		if r.Host != "jira.example.com" {
			t.Errorf("Host: got %q, want it kept", r.Host)
		}
	})
	t.Run("trusted proxy chain is kept", func(t *testing.T) {
		h := newHarness(t, []string{"127.0.0.1/32"}, false)
		get(t, h.proxy.URL+"/x", map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
			"X-Forwarded-Host": "jira.example.com"})
		r := <-h.lastReq
		if got := r.Header.Get("X-Forwarded-For"); got != "203.0.113.7, 127.0.0.1" {
			t.Errorf("X-Forwarded-For: got %q", got)
		}
		if got := r.Header.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("X-Forwarded-Proto: got %q", got)
		}
		if got := r.Header.Get("X-Forwarded-Host"); got != "jira.example.com" {
			t.Errorf("X-Forwarded-Host: got %q", got)
		}
	})
}

func TestUpstreamDownIs502(t *testing.T) {
	h := newHarness(t, nil, false)
	h.upstream.Close() // a guaranteed-dead address
	resp, body := get(t, h.proxy.URL+"/browse/FS-1", map[string]string{"Cookie": "user=alice"})
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "did not answer") {
		t.Errorf("got %d %q, want 502 with a plain page", resp.StatusCode, body)
	}
	if len(h.rec.got()) != 0 {
		t.Error("activity recorded for a request the app never saw")
	}
}

func TestFullAnswers503WithoutForwarding(t *testing.T) {
	h := newHarness(t, nil, true)
	h.seats.verdict = Verdict{Deny: true, Pool: "jira-software", RetryAfter: 7 * time.Minute}
	resp, body := get(t, h.proxy.URL+"/browse/FS-1", map[string]string{"Cookie": "user=alice", "Accept": "text/html"})
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "420" || !strings.Contains(body, "about <strong>7 minutes") {
		t.Errorf("browser: got %d Retry-After %q body %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = get(t, h.proxy.URL+"/rest/api/2/myself", map[string]string{"Cookie": "user=alice"})
	var js map[string]any
	if resp.StatusCode != 503 || json.Unmarshal([]byte(body), &js) != nil || js["retryAfterSeconds"].(float64) != 420 {
		t.Errorf("REST: got %d %q", resp.StatusCode, body)
	}
	select {
	case <-h.lastReq:
		t.Error("a denied request reached the app")
	default:
	}
	if got := testutil.ToFloat64(h.metrics.requests[classDenied]); got != 2 {
		t.Errorf("denied: got %v, want 2", got)
	}
}

func TestSeatsSeeNoNoiseAndLoginResults(t *testing.T) {
	h := newHarness(t, nil, true)
	h.seats.verdict = Verdict{Granted: true, DropRememberMe: true}
	get(t, h.proxy.URL+"/rest/servicedesk/1/servicedesk/SD/queues/poll", map[string]string{"Cookie": "user=alice"})
	get(t, h.proxy.URL+"/browse/FS-1", map[string]string{"Cookie": "user=alice; seraph.rememberme.cookie=r1; other=1"})
	<-h.lastReq
	r := <-h.lastReq
	if strings.Contains(r.Header.Get("Cookie"), "seraph.rememberme.cookie") || !strings.Contains(r.Header.Get("Cookie"), "other=1") {
		t.Errorf("forwarded Cookie: %q, want the remember-me cookie dropped and the rest kept", r.Header.Get("Cookie"))
	}
	req, _ := http.NewRequest("POST", h.proxy.URL+"/login.jsp", strings.NewReader("os_username=alice"))
	req.SetBasicAuth("alice", "wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h.seats.mu.Lock()
	defer h.seats.mu.Unlock()
	if len(h.seats.ensured) != 2 {
		t.Errorf("Ensure calls: got %v, want 2 (noise never asks for a seat)", h.seats.ensured)
	}
	if len(h.seats.results) != 1 || h.seats.results[0] != WhyBadCredentials {
		t.Errorf("Settle: got %v", h.seats.results)
	}
}

func TestWebSocketUpgradePasses(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-AUSERNAME: alice\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(conn, brw) // echo
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	rec := &fakeRecorder{}
	p := httptest.NewServer(New(Options{Upstream: u, Transport: Transport(time.Minute, 4), Who: &fakeWho{},
		Noise: &noise.Set{}, Activity: rec, Metrics: NewMetrics(prometheus.NewRegistry()),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer p.Close()
	if got := testenv.WebSocketEcho(t, strings.TrimPrefix(p.URL, "http://"), "/synchrony/v1/bayeux-sync1", "ping over the upgraded connection"); got != "ping over the upgraded connection" {
		t.Errorf("echo: got %q", got)
	}
}

func TestDropCookie(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header["Cookie"] = []string{"a=1; seraph.rememberme.cookie=x; b=2", "seraph.rememberme.cookie=y"}
	dropCookie(r, "seraph.rememberme.cookie")
	if got := r.Header["Cookie"]; len(got) != 1 || got[0] != "a=1; b=2" {
		t.Errorf("got %q", got)
	}
}

// TestPortalNeedsNoSeat: the JSM customer portal, login included, never
// meets the seat engine (not even a full pool) and is nobody's activity.
func TestPortalNeedsNoSeat(t *testing.T) {
	h := newHarness(t, nil, true)
	h.seats.verdict = Verdict{Deny: true, Pool: "jsm", RetryAfter: time.Minute}
	for _, path := range []string{"/servicedesk/customer/portals", "/servicedesk/customer/portal/1/create/10"} {
		resp, body := get(t, h.proxy.URL+path, map[string]string{"Cookie": "user=carol"})
		if resp.StatusCode != 200 || body != "hello from the app" {
			t.Errorf("%s: %d %q, want the app's answer", path, resp.StatusCode, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, h.proxy.URL+"/servicedesk/customer/user/login",
		strings.NewReader("os_username=carol&os_password=pw"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "user=carol")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("portal login: %d, want the app's answer", resp.StatusCode)
	}
	h.seats.mu.Lock()
	ensured, results := len(h.seats.ensured), len(h.seats.results)
	h.seats.mu.Unlock()
	if ensured != 0 || results != 0 {
		t.Errorf("the seat engine was asked %d times and heard %d login results, want none", ensured, results)
	}
	if got := h.rec.got(); len(got) != 0 {
		t.Errorf("portal requests recorded as activity of %v", got)
	}
	// An ordinary page of the same user does meet the seat engine.
	if resp, _ := get(t, h.proxy.URL+"/browse/FS-1", map[string]string{"Cookie": "user=carol"}); resp.StatusCode != 503 {
		t.Errorf("ordinary page with a full pool: %d, want 503", resp.StatusCode)
	}
}
