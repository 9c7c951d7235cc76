package proxy

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/noise"
)

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = io.WriteString(w, s)
	_ = w.Close()
	return b.String()
}

func TestSSORefusalDetection(t *testing.T) {
	page := "<html><h1>We can&#39;t log you in right now</h1></html>"
	tests := []struct {
		name   string
		status int
		hdr    http.Header
		body   string
		want   bool
	}{
		{"403 html", 403, http.Header{"Content-Type": {"text/html"}}, "<html>nope</html>", true},
		{"401 html", 401, http.Header{"Content-Type": {"text/html;charset=UTF-8"}}, "", true},
		{"200 with the words", 200, http.Header{"Content-Type": {"text/html"}}, page, true},
		{"200 curly apostrophe", 200, http.Header{"Content-Type": {"text/html"}}, "We can\u2019t log you in", true},
		{"200 gzip with the words", 200, http.Header{"Content-Type": {"text/html"}, "Content-Encoding": {"gzip"}}, gz(page), true},
		{"200 other page", 200, http.Header{"Content-Type": {"text/html"}}, "<html>dashboard</html>", false},
		{"redirect", 302, http.Header{"Location": {"/"}}, "", false},
		{"new session", 403, http.Header{"Content-Type": {"text/html"}, "Set-Cookie": {"JSESSIONID=abc; Path=/"}}, page, false},
		{"someone named", 403, http.Header{"Content-Type": {"text/html"}, "X-Ausername": {"alice"}}, page, false},
		{"json error", 400, http.Header{"Content-Type": {"application/json"}}, `{"message":"bad SAMLResponse"}`, false},
		{"server error", 500, http.Header{"Content-Type": {"text/html"}}, page, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: tc.hdr, Body: io.NopCloser(strings.NewReader(tc.body))}
			if got := ssoRefusal(resp); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != tc.body {
				t.Error("the body was not put back whole")
			}
		})
	}
}

// The seat page replaces the app's refusal for an SSO login naming nobody;
// its form makes a provisional grant awaiting confirmation and sends the
// browser back through the SSO login; a name with nothing to give back
// gets a pass, and the next refusal passes unchanged.
func TestSeatPage(t *testing.T) {
	refusal := "<html><title>We can't log you in right now</title></html>"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-AUSERNAME", "anonymous")
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, refusal)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	set, _ := noise.Build("jira", noise.Config{Defaults: true})
	seats := &fakeSeats{settled: make(chan Judgement, 4)}
	hs := testHints()
	p := httptest.NewServer(New(Options{Upstream: u, Transport: Transport(time.Minute, 4), Who: &fakeWho{}, Noise: set,
		Activity: &fakeRecorder{}, Seats: seats, Hints: hs, SeatPage: &SeatPage{LoginPath: "/plugins/servlet/external-login"},
		Metrics: NewMetrics(prometheus.NewRegistry()), Log: slog.New(slog.DiscardHandler), LoginBodyTimeout: time.Second}))
	defer p.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, body := get(t, p.URL+"/plugins/servlet/oidc/callback?code=x&state=y", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Your seat may have been given to someone else") || !strings.Contains(body, `action="/floatseat/seat"`) {
		t.Fatalf("refusal of an unnamed SSO login: %d %q, want the seat page", resp.StatusCode, body)
	}
	if resp, body := get(t, p.URL+"/browse/FS-1", nil); resp.StatusCode != 403 || body != refusal {
		t.Errorf("an ordinary 403 was replaced: %d %q", resp.StatusCode, body)
	}

	seats.verdict = Verdict{Granted: true, Ticket: 7}
	resp, err := client.PostForm(p.URL+SeatClaimPath, url.Values{"username": {" erin "}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/plugins/servlet/external-login" {
		t.Errorf("seat claim: %d to %q, want 303 to the SSO login", resp.StatusCode, resp.Header.Get("Location"))
	}
	if j := <-seats.settled; !j.Await {
		t.Errorf("the seat claim was settled as %+v, want awaiting confirmation", j)
	}
	if seats.ensured[len(seats.ensured)-1] != "erin" {
		t.Errorf("ensured %v, want erin", seats.ensured)
	}

	// Refused (the pool is full, or its seat-page claims hold their share
	// of the reserve): the full page, no pass, nothing to settle.
	seats.verdict = Verdict{Deny: true, Pool: "jira-software", RetryAfter: 2 * time.Minute}
	resp, err = client.PostForm(p.URL+SeatClaimPath, url.Values{"username": {"gina"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "120" || !strings.Contains(string(b), "jira-software") {
		t.Errorf("refused seat claim: %d Retry-After %q %q, want the full page", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	for _, c := range resp.Cookies() {
		if c.Name == identity.SSOPassCookie {
			t.Error("a refused seat claim got a pass")
		}
	}
	if len(seats.settled) != 0 {
		t.Error("a refused seat claim was settled")
	}

	seats.verdict = Verdict{}
	resp, err = client.PostForm(p.URL+SeatClaimPath, url.Values{"username": {"ivy"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var pass string
	for _, c := range resp.Cookies() {
		if c.Name == identity.SSOPassCookie {
			pass = c.Value
		}
	}
	if pass == "" {
		t.Fatal("nothing to give back, yet no pass")
	}
	resp, body = get(t, p.URL+"/plugins/servlet/oidc/callback?code=x", map[string]string{"Cookie": identity.SSOPassCookie + "=" + pass})
	if resp.StatusCode != 403 || body != refusal {
		t.Errorf("with a pass: %d %q, want the app's page unchanged", resp.StatusCode, body)
	}
	resp, _ = get(t, p.URL+"/plugins/servlet/oidc/callback?code=x", map[string]string{"Cookie": identity.SSOPassCookie + "=p|99999999999|00"})
	if resp.StatusCode != 200 {
		t.Errorf("a forged pass was honoured: %d", resp.StatusCode)
	}
	if resp, err := client.Get(p.URL + SeatClaimPath); err != nil || resp.StatusCode != 405 {
		t.Errorf("GET of the claim path: %v %v", resp, err)
	}
}
