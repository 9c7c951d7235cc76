package proxy

import (
	"bytes"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/identity"
)

func testHints() *identity.Hints {
	return identity.NewHints(identity.NewHasher(bytes.Repeat([]byte("k"), 32)), 8*24*time.Hour, "/", nil)
}

func hintSet(resp *http.Response) string {
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, identity.HintCookie+"=") {
			return c
		}
	}
	return ""
}

// The hint is set when the app confirms a user to a browser, kept while it
// names that user, replaced when it names someone else, never set for
// scripts, Secure over HTTPS, and never forwarded to the app.
func TestHintCookie(t *testing.T) {
	hs := testHints()
	h := newHarnessWith(t, []string{"127.0.0.1/32"}, false, func(o *Options) { o.Hints = hs })
	resp, _ := get(t, h.proxy.URL+"/browse/FS-1", map[string]string{"Cookie": "user=alice"})
	<-h.lastReq
	set := hintSet(resp)
	if !strings.Contains(set, "; HttpOnly") || !strings.HasSuffix(set, "SameSite=Lax") {
		t.Fatalf("first confirmed response: hint %q, want an HttpOnly Lax cookie", set)
	}
	val := strings.TrimPrefix(strings.SplitN(set, ";", 2)[0], identity.HintCookie+"=")
	if u, ok := hs.User(val); !ok || u != "alice" {
		t.Fatalf("hint names %q %v, want alice", u, ok)
	}

	for name, cookie := range map[string]string{
		"hint last":  "user=alice; " + identity.HintCookie + "=" + val,
		"hint first": identity.HintCookie + "=" + val + "; user=alice",
		"hint mid":   "a=1; " + identity.HintCookie + "=" + val + "; user=alice",
	} {
		resp, _ = get(t, h.proxy.URL+"/browse/FS-1", map[string]string{"Cookie": cookie})
		r := <-h.lastReq
		if got := strings.Join(r.Header.Values("Cookie"), "; "); strings.Contains(got, identity.HintCookie) || !strings.Contains(got, "user=alice") {
			t.Errorf("%s: forwarded Cookie %q, want the hint stripped and the rest kept", name, got)
		}
		if s := hintSet(resp); s != "" {
			t.Errorf("%s: a fresh hint naming the same user was set again: %q", name, s)
		}
	}

	resp, _ = get(t, h.proxy.URL+"/browse/FS-1", map[string]string{"Cookie": "user=bob; " + identity.HintCookie + "=" + val})
	<-h.lastReq
	if s := hintSet(resp); !strings.Contains(s, "|bob|") {
		t.Errorf("another user on the browser: hint %q, want one naming bob", s)
	}
	resp, _ = get(t, h.proxy.URL+"/browse/FS-1", map[string]string{"Authorization": basic("carol", "pw"), "Cookie": "user=carol"})
	<-h.lastReq
	if s := hintSet(resp); s != "" {
		t.Errorf("a script with credentials got a hint: %q", s)
	}
	resp, _ = get(t, h.proxy.URL+"/browse/FS-1", map[string]string{"Cookie": "user=dana", "X-Forwarded-Proto": "https"})
	<-h.lastReq
	if s := hintSet(resp); !strings.HasSuffix(s, "; Secure; SameSite=None") {
		t.Errorf("over HTTPS: hint %q, want Secure; SameSite=None", s)
	}
	resp, _ = get(t, h.proxy.URL+"/browse/FS-1", nil)
	<-h.lastReq
	if s := hintSet(resp); s != "" {
		t.Errorf("anonymous response set a hint: %q", s)
	}
}

func TestStripCookieAllocations(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	for _, line := range []string{"JSESSIONID=1; " + identity.HintCookie + "=v", identity.HintCookie + "=v; JSESSIONID=1"} {
		vals := make([]string, 1)
		r.Header["Cookie"] = vals
		if n := testing.AllocsPerRun(100, func() {
			vals[0] = line
			stripCookie(r, identity.HintCookie)
		}); n != 0 {
			t.Errorf("%q: %v allocations, want 0", line, n)
		}
		vals[0] = line
		stripCookie(r, identity.HintCookie)
		if got := r.Header["Cookie"]; len(got) != 1 || got[0] != "JSESSIONID=1" {
			t.Errorf("%q: stripped to %q", line, got)
		}
	}
}

// A client that sends the hint twice gets neither copy to the app.
func TestStripCookieRepeated(t *testing.T) {
	h := identity.HintCookie
	for _, lines := range [][]string{
		{h + "=a; " + h + "=b; JSESSIONID=1"},
		{"JSESSIONID=1; " + h + "=a; " + h + "=b"},
		{h + "=a; JSESSIONID=1; " + h + "=b"},
		{h + "=a; JSESSIONID=1", h + "=b; JSESSIONID=1"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header["Cookie"] = append([]string(nil), lines...)
		stripCookie(r, h)
		for _, got := range r.Header["Cookie"] {
			if strings.Contains(got, h) {
				t.Errorf("%q: stripped to %q", lines, r.Header["Cookie"])
			}
		}
		if got := strings.Join(r.Header["Cookie"], "; "); !strings.Contains(got, "JSESSIONID=1") {
			t.Errorf("%q: stripped to %q, want JSESSIONID=1 kept", lines, r.Header["Cookie"])
		}
	}
}

func basic(user, pw string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pw)
	return r.Header.Get("Authorization")
}

// The client address behind trusted proxies is the nearest untrusted
// X-Forwarded-For entry, read without allocating (unless garbled).
func TestClientAddr(t *testing.T) {
	p := &Proxy{opt: Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	for _, c := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"192.0.2.1:5", []string{"6.6.6.6"}, "192.0.2.1"},
		{"10.0.0.1:5", nil, "10.0.0.1"},
		{"10.0.0.1:5", []string{"6.6.6.6, 203.0.113.7"}, "203.0.113.7"},
		{"10.0.0.1:5", []string{"6.6.6.6, 203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"10.0.0.1:5", []string{"6.6.6.6", "203.0.113.7,10.0.0.2"}, "203.0.113.7"},
		{"10.0.0.1:5", []string{"6.6.6.6", "10.0.0.3, 10.0.0.2"}, "6.6.6.6"},
		{"10.0.0.1:5", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"10.0.0.1:5", []string{"6.6.6.6, junk, 10.0.0.2"}, "10.0.0.2"},
		{"10.0.0.1:5", []string{"junk"}, "10.0.0.1"},
		{"10.0.0.1:5", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != nil {
			r.Header["X-Forwarded-For"] = c.xff
		}
		if got := p.clientAddr(r).String(); got != c.want {
			t.Errorf("%s %q: got %s, want %s", c.peer, c.xff, got, c.want)
		}
		if strings.Contains(strings.Join(c.xff, ","), "junk") {
			continue // the parse error of a garbled entry allocates
		}
		if n := testing.AllocsPerRun(50, func() { p.clientAddr(r) }); n != 0 {
			t.Errorf("%s %q: %v allocations, want 0", c.peer, c.xff, n)
		}
	}
}
