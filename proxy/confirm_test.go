package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
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

func TestJudge(t *testing.T) {
	login := func(r identity.Route) identity.Identity {
		return identity.Identity{User: "Bob", Source: identity.SourceLoginBody, Route: r}
	}
	basic := identity.Identity{User: "bob", Source: identity.SourceBasic}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	const session = "JSESSIONID=abc; Path=/"
	for _, c := range []struct {
		name string
		id   identity.Identity
		o    Outcome
		want Judgement
	}{
		{"form ok", login(identity.RouteJiraLogin), Outcome{Status: 302, Header: hdr("X-Seraph-Loginreason", "OK", "X-Ausername", "bob")}, Judgement{Confirmed: true}},
		{"form ok other case", login(identity.RouteConfluenceLogin), Outcome{Status: 302, Header: hdr("X-Seraph-Loginreason", "OK", "X-Ausername", "BOB")}, Judgement{Confirmed: true}},
		{"form wrong password", login(identity.RouteJiraLogin), Outcome{Status: 200, Header: hdr("X-Seraph-Loginreason", "AUTHENTICATED_FAILED", "X-Ausername", "anonymous")}, Judgement{Why: WhyBadCredentials}},
		{"form captcha", login(identity.RouteJiraLogin), Outcome{Status: 200, Header: hdr("X-Seraph-Loginreason", "AUTHENTICATION_DENIED")}, Judgement{Why: WhyCaptcha}},
		{"form no licence", login(identity.RouteJiraLogin), Outcome{Status: 200, Header: hdr("X-Seraph-Loginreason", "AUTHORISATION_FAILED")}, Judgement{Why: WhyNoLicence}},
		{"form ok but 200", login(identity.RouteJiraLogin), Outcome{Status: 200, Header: hdr("X-Seraph-Loginreason", "OK", "X-Ausername", "bob")}, Judgement{Why: WhyNoSignal}},
		{"form ok other user", login(identity.RouteJiraLogin), Outcome{Status: 302, Header: hdr("X-Seraph-Loginreason", "OK", "X-Ausername", "alice")}, Judgement{Why: WhyOtherUser}},
		{"form ok nobody", login(identity.RouteJiraLogin), Outcome{Status: 302, Header: hdr("X-Seraph-Loginreason", "OK")}, Judgement{Why: WhyAnonymous}},
		{"form out then ok", login(identity.RouteJiraLogin), Outcome{Status: 302, Header: hdr("X-Seraph-Loginreason", "OUT, OK", "X-Ausername", "bob")}, Judgement{Why: WhyNoSignal}},
		{"session ok", login(identity.RouteRESTSession), Outcome{Status: 200, Header: hdr("X-Ausername", "bob")}, Judgement{Confirmed: true}},
		{"session 401", login(identity.RouteRESTSession), Outcome{Status: 401, Header: hdr("X-Ausername", "anonymous")}, Judgement{Why: "status-401"}},
		{"session 403 captcha", login(identity.RouteRESTSession), Outcome{Status: 403, Header: hdr("X-Seraph-Loginreason", "AUTHENTICATION_DENIED")}, Judgement{Why: WhyCaptcha}},
		{"tsv ok", login(identity.RouteTSVAuthenticate), Outcome{Status: 200, Header: hdr("X-Ausername", "bob")}, Judgement{Confirmed: true}},
		{"tsv 500", login(identity.RouteTSVAuthenticate), Outcome{Status: 500, Header: hdr("X-Ausername", "bob")}, Judgement{Why: "status-500"}},
		{"gadget ok", login(identity.RouteGadgetLogin), Outcome{Status: 200, Header: hdr("X-Ausername", "bob"), Body: []byte(`{"loginSucceeded":true}`)}, Judgement{Confirmed: true}},
		{"gadget failed", login(identity.RouteGadgetLogin), Outcome{Status: 200, Header: hdr("X-Ausername", "bob"), Body: []byte(`{"loginSucceeded":false,"captchaFailure":true}`)}, Judgement{Why: WhyNoSignal}},
		{"gadget cut", login(identity.RouteGadgetLogin), Outcome{Status: 200, Header: hdr("X-Ausername", "bob"), Body: []byte(`{"loginSucc`)}, Judgement{Why: WhyNoSignal}},
		{"basic ok", basic, Outcome{Status: 404, Header: hdr("X-Ausername", "bob")}, Judgement{Confirmed: true}},
		{"basic 401", basic, Outcome{Status: 401, Header: hdr("X-Seraph-Loginreason", "AUTHENTICATED_FAILED")}, Judgement{Why: WhyBadCredentials}},
		{"basic anonymous", basic, Outcome{Status: 200, Header: hdr("X-Ausername", "anonymous")}, Judgement{Why: WhyAnonymous}},
		// Even a redirect naming the user waits for the requests as the user (REFERENCE §12).
		{"saml ok", login(identity.RouteSAML), Outcome{Status: 302, Header: hdr("Set-Cookie", session, "X-Ausername", "bob")}, Judgement{Await: true}},
		{"oidc ok", login(identity.RouteOIDC), Outcome{Status: 302, Header: hdr("Set-Cookie", session, "X-Ausername", "BOB")}, Judgement{Await: true}},
		{"saml session, nobody named", login(identity.RouteSAML), Outcome{Status: 302, Header: hdr("Set-Cookie", session)}, Judgement{Await: true}},
		{"saml forged", login(identity.RouteSAML), Outcome{Status: 400, Header: hdr("X-Ausername", "anonymous")}, Judgement{Why: "status-400"}},
		{"saml refused", login(identity.RouteSAML), Outcome{Status: 403, Header: hdr("X-Ausername", "anonymous")}, Judgement{Why: "status-403"}},
		{"saml no session", login(identity.RouteSAML), Outcome{Status: 302, Header: hdr("X-Ausername", "bob")}, Judgement{Why: WhyNoSignal}},
		{"oidc session, other user", login(identity.RouteOIDC), Outcome{Status: 302, Header: hdr("Set-Cookie", session, "X-Ausername", "eve")}, Judgement{Why: WhyOtherUser}},
		{"client gone", login(identity.RouteJiraLogin), Outcome{ClientGone: true}, Judgement{Why: WhyClientGone}},
		{"upstream failed", login(identity.RouteJiraLogin), Outcome{}, Judgement{Why: WhyUpstream}},
		{"502", basic, Outcome{Status: 502}, Judgement{Why: WhyUpstream}},
	} {
		if got := Judge(c.id, c.o); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// settleHarness is a proxy with seats whose upstream the test controls.
func settleHarness(t *testing.T, upstream http.HandlerFunc, v Verdict, who ...Who) (*httptest.Server, *fakeSeats) {
	t.Helper()
	var w Who = &fakeWho{}
	if len(who) > 0 {
		w = who[0]
	}
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	seats := &fakeSeats{verdict: v, settled: make(chan Judgement, 4)}
	set, _ := noise.Build("jira", noise.Config{Defaults: true})
	p := httptest.NewServer(New(Options{Upstream: u, Transport: Transport(time.Minute, 4), Who: w,
		Noise: set, Activity: &fakeRecorder{}, Seats: seats, Metrics: NewMetrics(prometheus.NewRegistry()),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), LoginBodyTimeout: 200 * time.Millisecond}))
	t.Cleanup(p.Close)
	return p, seats
}

func waitSettled(t *testing.T, s *fakeSeats) Judgement {
	t.Helper()
	select {
	case j := <-s.settled:
		return j
	case <-time.After(10 * time.Second):
		t.Fatal("the claim was never settled")
	}
	return Judgement{}
}

// A client that goes away before any response still settles its claim:
// the deferred check runs whether or not anything was written.
func TestClaimSettledWhenTheClientGoesAway(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	p, seats := settleHarness(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}, Verdict{Granted: true, Ticket: 7})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/browse/FS-1", nil)
	req.SetBasicAuth("bob", "wrong")
	done := make(chan struct{})
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		close(done)
	}()
	<-arrived
	cancel()
	<-done
	if j := waitSettled(t, seats); j.Why != WhyClientGone {
		t.Errorf("got %+v, want client-gone", j)
	}
}

func TestClaimSettledOnUpstreamFailure(t *testing.T) {
	p, seats := settleHarness(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close() // the app dies mid-request
	}, Verdict{Granted: true, Ticket: 7})
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/browse/FS-1", nil)
	req.SetBasicAuth("bob", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	if j := waitSettled(t, seats); j.Why != WhyUpstream {
		t.Errorf("got %+v, want upstream-error", j)
	}
}

// The gadget login's signal is in its body: the answer is held back until
// it is judged, then reaches the client whole.
func TestGadgetAnswerJudgedBeforeTheClientSeesIt(t *testing.T) {
	var p *httptest.Server
	var seats *fakeSeats
	p, seats = settleHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-AUSERNAME", "bob")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"loginSucceeded":true,`)
		http.NewResponseController(w).Flush()
		_, _ = io.WriteString(w, `"captchaFailure":false}`)
	}, Verdict{Granted: true, Ticket: 7})
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/rest/gadget/1.0/login", strings.NewReader("os_username=bob&os_password=pw"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bob", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"loginSucceeded":true,"captchaFailure":false}` {
		t.Errorf("body %q", body)
	}
	select {
	case j := <-seats.settled:
		if !j.Confirmed {
			t.Errorf("got %+v, want confirmed", j)
		}
	default:
		t.Error("the answer reached the client before the claim was settled")
	}
}

// A login body that stalls part-way is not waited for past the deadline.
func TestStalledLoginBodyGets408(t *testing.T) {
	p, _ := settleHarness(t, func(w http.ResponseWriter, r *http.Request) {
		t.Error("a stalled login body reached the app")
	}, Verdict{}, &identity.Identifier{Product: "jira"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST /login.jsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nos_username=bo")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(conn) // ends when the proxy closes the connection
	if !strings.HasPrefix(string(got), "HTTP/1.1 408") {
		t.Errorf("got %q, want 408 and the connection closed", got)
	}
}
