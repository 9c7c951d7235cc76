package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestClassifyLogin(t *testing.T) {
	tests := []struct {
		product, method, path string
		want                  Route
	}{
		{"jira", "POST", "/login.jsp", RouteJiraLogin},
		{"jira", "GET", "/login.jsp", RouteNone},
		{"jira", "POST", "/rest/gadget/1.0/login", RouteGadgetLogin},
		{"jira", "POST", "/rest/auth/1/session", RouteRESTSession},
		{"jira", "DELETE", "/rest/auth/1/session", RouteNone},
		{"confluence", "POST", "/rest/tsv/1.0/authenticate", RouteTSVAuthenticate},
		{"confluence", "POST", "/dologin.action", RouteConfluenceLogin},
		{"jira", "POST", "/dologin.action", RouteNone},
		{"confluence", "POST", "/login.jsp", RouteNone},
		{"jira", "POST", "/servicedesk/customer/user/login", RouteJSMPortal},
		{"jira", "POST", "/plugins/servlet/samlconsumer", RouteSAML},
		{"jira", "GET", "/plugins/servlet/oidc/callback", RouteOIDC},
		{"jira", "GET", "/browse/FS-1", RouteNone},
	}
	for _, tc := range tests {
		if got := ClassifyLogin(tc.product, tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s %s: got %v, want %v", tc.product, tc.method, tc.path, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ClassifyLogin("jira", "GET", "/browse/FS-1") }); n != 0 {
		t.Errorf("ClassifyLogin allocates %v", n)
	}
}

func TestLoginUser(t *testing.T) {
	saml := func(xml string) string {
		return "SAMLResponse=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(base64.StdEncoding.EncodeToString([]byte(xml))) + "&RelayState=x"
	}
	tests := []struct {
		name     string
		route    Route
		ct, body string
		want     string
		remember bool
		wantErr  bool
	}{
		{"jira form", RouteJiraLogin, "application/x-www-form-urlencoded", "os_username=Alice&os_password=pw&os_cookie=true&os_destination=%2Fbrowse", "Alice", true, false},
		{"form without remember", RouteJiraLogin, "application/x-www-form-urlencoded", "os_username=bob&os_password=pw", "bob", false, false},
		{"confluence form", RouteConfluenceLogin, "application/x-www-form-urlencoded; charset=UTF-8", "os_username=carol&os_password=pw&login=Log+in", "carol", false, false},
		{"gadget form", RouteGadgetLogin, "application/x-www-form-urlencoded", "os_username=dave&os_password=pw", "dave", false, false},
		{"rest session", RouteRESTSession, "application/json", `{"username":"erin","password":"pw"}`, "erin", false, false},
		{"tsv", RouteTSVAuthenticate, "application/json;charset=UTF-8", `{"username":"frank","password":"pw","rememberMe":true,"targetUrl":"/"}`, "frank", true, false},
		{"utf-8 name", RouteJiraLogin, "application/x-www-form-urlencoded", "os_username=Zo%C3%AB&os_password=pw", "Zoë", false, false},
		{"spaces trimmed", RouteRESTSession, "application/json", `{"username":"  gina  "}`, "gina", false, false},
		{"saml nameid", RouteSAML, "application/x-www-form-urlencoded", saml(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Assertion><saml:Subject><saml:NameID>hank</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>`), "hank", false, false},
		{"saml encrypted", RouteSAML, "application/x-www-form-urlencoded", saml(`<samlp:Response xmlns:samlp="x"><EncryptedAssertion>...</EncryptedAssertion></samlp:Response>`), "", false, true},
		{"malformed json", RouteRESTSession, "application/json", `{"username":"iv`, "", false, true},
		{"truncated form", RouteJiraLogin, "application/x-www-form-urlencoded", "os_username=%E", "", false, true},
		{"non-utf8", RouteJiraLogin, "application/x-www-form-urlencoded", "os_username=%FF%FE&os_password=x", "", false, true},
		{"control char", RouteRESTSession, "application/json", `{"username":"a\u0000b"}`, "", false, true},
		{"too long", RouteRESTSession, "application/json", `{"username":"` + strings.Repeat("a", 256) + `"}`, "", false, true},
		{"empty", RouteJiraLogin, "", "", "", false, true},
		{"wrong type", RouteRESTSession, "application/json", `{"username":42}`, "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, rem, err := LoginUser(tc.route, tc.ct, []byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("got err %v, want error %v", err, tc.wantErr)
			}
			if u != tc.want || rem != tc.remember {
				t.Errorf("got %q remember=%v, want %q remember=%v", u, rem, tc.want, tc.remember)
			}
		})
	}
}

func TestReadLoginBodyRestoresEveryByte(t *testing.T) {
	for _, size := range []int{0, 10, MaxLoginBody - 1, MaxLoginBody, MaxLoginBody + 1, 3 * MaxLoginBody} {
		body := bytes.Repeat([]byte("os_username=alice&"), size/18+1)[:size]
		want := sha256.Sum256(body)
		r := httptest.NewRequest("POST", "/login.jsp", bytes.NewReader(body))
		got, complete, err := ReadLoginBody(r, MaxLoginBody)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if complete != (size <= MaxLoginBody) || len(got) > MaxLoginBody {
			t.Errorf("size %d: complete=%v len=%d", size, complete, len(got))
		}
		all, _ := io.ReadAll(r.Body)
		if sha256.Sum256(all) != want {
			t.Errorf("size %d: forwarded body differs from the original (%d bytes)", size, len(all))
		}
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("connection reset")
	}
	n := copy(p, bytes.Repeat([]byte("x"), f.n))
	f.n -= n
	return n, nil
}

func TestReadLoginBodyFailureStillRestores(t *testing.T) {
	r := httptest.NewRequest("POST", "/login.jsp", nil)
	r.Body = io.NopCloser(&failingReader{n: 100})
	if _, _, err := ReadLoginBody(r, MaxLoginBody); err == nil {
		t.Fatal("got no error from a failing body")
	}
	b, err := io.ReadAll(r.Body)
	if len(b) != 100 || err == nil {
		t.Errorf("restored body: %d bytes, err %v; want the 100 bytes read then the same error", len(b), err)
	}
}

func TestBasicAndBearer(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		h, want string
		ok      bool
	}{
		{"Basic " + enc("alice:pw:with:colons"), "alice", true},
		{"basic " + enc("Bob:"), "Bob", true},
		{"Basic " + enc(":pw"), "", false},
		{"Basic not-base64!", "", false},
		{"Bearer abc", "", false},
		{"", "", false},
	} {
		u, ok := BasicUser(tc.h)
		if u != tc.want || ok != tc.ok {
			t.Errorf("BasicUser(%q) = %q,%v want %q,%v", tc.h, u, ok, tc.want, tc.ok)
		}
	}
	if tok, ok := BearerToken("Bearer  NjM0MTY4"); !ok || tok != "NjM0MTY4" {
		t.Errorf("BearerToken: got %q %v", tok, ok)
	}
}

func TestParseCredentials(t *testing.T) {
	c := ParseCredentials([]string{
		`atlassian.xsrf.token=ABC|lin; JSESSIONID="s1"; seraph.rememberme.cookie=r1`,
		`JSESSIONID=s2; junk; =; a=b=c`,
	}, "Bearer tok")
	if c.Session != "s1" || c.RememberMe != "r1" || c.RememberMeName != CookieJiraRememberMe || c.Bearer != "tok" {
		t.Errorf("got %+v", c)
	}
	c = ParseCredentials([]string{"seraph.confluence=rc"}, "")
	if c.RememberMeName != CookieConfluenceRememberMe || c.RememberMe != "rc" {
		t.Errorf("confluence: got %+v", c)
	}
	hdr := []string{"JSESSIONID=abc; seraph.rememberme.cookie=def"}
	if n := testing.AllocsPerRun(100, func() { ParseCredentials(hdr, "") }); n != 0 {
		t.Errorf("ParseCredentials allocates %v", n)
	}
}

func TestResponseCookies(t *testing.T) {
	h := http.Header{"Set-Cookie": {
		"JSESSIONID=new1; Path=/; HttpOnly",
		"seraph.rememberme.cookie=; Max-Age=0; Path=/",
		"atlassian.xsrf.token=x; Path=/",
		"seraph.confluence=old; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
	}}
	got := ResponseCookies(h, time.Now())
	want := []CookieChange{{KindSession, "new1", false}, {KindRememberMe, "", true}, {KindRememberMe, "old", true}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] got %+v, want %+v", i, got[i], want[i])
		}
	}
}

type fakeStore struct {
	mu    sync.Mutex
	m     map[string]string
	gets  int
	err   error
	block chan struct{}
}

func (f *fakeStore) GetUser(ctx context.Context, k string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.err != nil {
		return "", f.err
	}
	return f.m[k], nil
}
func (f *fakeStore) SetUser(ctx context.Context, k, u string, ttl time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[k] = u
	return nil
}
func (f *fakeStore) DeleteUser(ctx context.Context, k string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, k)
	return nil
}

func newResolver(st MappingStore) *Resolver {
	return NewResolver(NewHasher(bytes.Repeat([]byte("k"), 32)), st, ResolverOptions{SessionTTL: time.Hour},
		prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestResolver(t *testing.T) {
	st := &fakeStore{m: map[string]string{}}
	r := newResolver(st)
	ctx := t.Context()

	// Unknown session: one Redis lookup, then the negative cache answers.
	for i := 0; i < 5; i++ {
		if u, _ := r.Lookup(ctx, Credentials{Session: "anon"}); u != "" {
			t.Fatalf("got %q for an unknown session", u)
		}
	}
	if st.gets != 1 {
		t.Errorf("Redis lookups for an anonymous session: got %d, want 1", st.gets)
	}
	// Learned on this replica: cache hit, no Redis.
	r.Learn(KindSession, "s1", "alice")
	if u, src := r.Lookup(ctx, Credentials{Session: "s1"}); u != "alice" || src != SourceSession {
		t.Errorf("got %q %v", u, src)
	}
	// Learned on another replica: found in Redis.
	r2 := newResolver(st)
	r2.Learn(KindBearer, "tok", "bob")
	drain(t, r2)
	if u, src := r.Lookup(ctx, Credentials{Bearer: "tok"}); u != "bob" || src != SourceBearer {
		t.Errorf("shared through Redis: got %q %v", u, src)
	}
	// Only the HMAC reaches Redis, never the secret.
	for k := range st.m {
		if strings.Contains(k, "tok") || len(k) != 32 {
			t.Errorf("Redis key %q is not a 16-byte hex HMAC", k)
		}
	}
	// Forgetting.
	r.Learn(KindSession, "s1", "")
	if u, _ := r.Lookup(ctx, Credentials{Session: "s1"}); u != "" {
		t.Errorf("after forgetting: got %q", u)
	}
	// Redis down: unknown, and at most one attempt a second.
	down := &fakeStore{m: map[string]string{}, err: errors.New("down")}
	r3 := newResolver(down)
	for i := 0; i < 10; i++ {
		r3.Lookup(ctx, Credentials{Session: "x" + string(rune('a'+i))})
	}
	if down.gets != 1 {
		t.Errorf("lookups against a dead Redis: got %d, want 1", down.gets)
	}
}

func drain(t *testing.T, r *Resolver) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.queue) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}

func TestIdentify(t *testing.T) {
	r := newResolver(&fakeStore{m: map[string]string{}})
	idf := &Identifier{Product: "jira", ContextPath: "/jira", Resolver: r}
	r.Learn(KindSession, "s1", "alice")

	req := httptest.NewRequest("POST", "/jira/login.jsp", strings.NewReader("os_username=Bob&os_password=pw&os_cookie=true"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "JSESSIONID=s1")
	id := idf.Identify(t.Context(), req)
	if id.User != "Bob" || id.Source != SourceLoginBody || id.Route != RouteJiraLogin || !id.RememberMe || !id.FromPassword() {
		t.Errorf("login: got %+v", id)
	}
	if b, _ := io.ReadAll(req.Body); string(b) != "os_username=Bob&os_password=pw&os_cookie=true" {
		t.Errorf("body not restored: %q", b)
	}

	req = httptest.NewRequest("GET", "/jira/browse/FS-1", nil)
	req.Header.Set("Cookie", "JSESSIONID=s1; seraph.rememberme.cookie=r")
	id = idf.Identify(t.Context(), req)
	if id.User != "alice" || id.Source != SourceSession || id.RememberMeCookie != CookieJiraRememberMe {
		t.Errorf("session: got %+v", id)
	}
	if n := testing.AllocsPerRun(200, func() { idf.Identify(t.Context(), req) }); n > 2 {
		t.Errorf("Identify of a cached session: %v allocs, want ≤ 2", n)
	}

	// Learning from a login response: the new session names the user.
	h := http.Header{"Set-Cookie": {"JSESSIONID=s2; Path=/"}}
	idf.Learn(req, Identity{Creds: Credentials{}}, h, "carol")
	if u, _ := r.Lookup(t.Context(), Credentials{Session: "s2"}); u != "carol" {
		t.Errorf("learned from Set-Cookie: got %q", u)
	}
	// The app answers anonymous for a known session: forget it.
	idf.Learn(req, Identity{Source: SourceSession, Creds: Credentials{Session: "s2"}}, http.Header{}, "")
	if u, _ := r.Lookup(t.Context(), Credentials{Session: "s2"}); u != "" {
		t.Errorf("expired session still names %q", u)
	}
}

func BenchmarkIdentifyCachedSession(b *testing.B) {
	r := newResolver(&fakeStore{m: map[string]string{}})
	idf := &Identifier{Product: "jira", Resolver: r}
	r.Learn(KindSession, "0123456789ABCDEF0123456789ABCDEF", "alice")
	req := httptest.NewRequest("GET", "/browse/FS-1", nil)
	req.Header.Set("Cookie", "atlassian.xsrf.token=B|lin; JSESSIONID=0123456789ABCDEF0123456789ABCDEF")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		idf.Identify(ctx, req)
	}
}

// A login body cut at the bound is not a complete form: a username that
// straddles the cut must not be read as its prefix, and the app still gets
// every byte.
func TestTruncatedLoginBodyNamesNobody(t *testing.T) {
	pad := strings.Repeat("x", MaxLoginBody-len("pad=&os_username=al")) // the cut falls inside "alice"
	body := "pad=" + pad + "&os_username=alice&os_password=pw"
	r := httptest.NewRequest(http.MethodPost, "/login.jsp", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	id := (&Identifier{Product: "jira"}).Identify(t.Context(), r)
	if id.User != "" || id.Source != SourceNone {
		t.Errorf("truncated body: got user %q from %v, want nobody", id.User, id.Source)
	}
	if got, _ := io.ReadAll(r.Body); string(got) != body {
		t.Errorf("forwarded body: %d bytes, want the original %d", len(got), len(body))
	}
}

// The password a claim carries never prints, however an Identity is logged.
func TestPasswordNeverPrints(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/browse/X-1", nil)
	r.SetBasicAuth("alice", "s3cret-pw")
	id := (&Identifier{Product: "jira"}).Identify(t.Context(), r)
	if id.Password.Reveal() != "s3cret-pw" {
		t.Fatalf("Basic password not carried for the backend's check: %q", id.Password.Reveal())
	}
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "id", id, "pw", id.Password)
	for _, s := range []string{fmt.Sprintf("%v", id), fmt.Sprintf("%+v", id), fmt.Sprintf("%#v", id), buf.String()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("password printed: %s", s)
		}
	}
}
