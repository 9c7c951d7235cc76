package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/noise"
	"github.com/floatseat/floatseat/internal/poolwork"
)

// cannedTransport answers every request in memory, so the benchmarks
// measure the proxy's own work and not the network.
type cannedTransport struct{ body []byte }

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"X-Ausername": {"alice"}, "Content-Type": {"text/html"}},
		Body:          io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)), Request: r,
	}, nil
}

type nopRecorder struct{}

func (nopRecorder) Record(string, uint64) {}

type benchWho struct{ idf *identity.Identifier }

func (b benchWho) Identify(ctx context.Context, r *http.Request) identity.Identity {
	return b.idf.Identify(ctx, r)
}
func (b benchWho) Learn(r *http.Request, id identity.Identity, h http.Header, u string) {
	b.idf.Learn(r, id, h, u)
}

type memStore struct{}

func (memStore) GetUser(context.Context, string) (string, error)              { return "", nil }
func (memStore) SetUser(context.Context, string, string, time.Duration) error { return nil }
func (memStore) DeleteUser(context.Context, string) error                     { return nil }

func benchRequest() *http.Request {
	r := httptest.NewRequest("GET", "/browse/FS-1", nil)
	r.Header.Set("Cookie", "atlassian.xsrf.token=B|lin; JSESSIONID=0123456789ABCDEF0123456789ABCDEF")
	r.RemoteAddr = "127.0.0.1:5555"
	return r
}

// BenchmarkFloatseatServeHTTP is the whole request path for an ordinary
// request of a known user; BenchmarkBareReverseProxy is the same upstream
// through a bare httputil.ReverseProxy. Their difference is floatseat's cost.
func BenchmarkFloatseatServeHTTP(b *testing.B) { benchServe(b, false) }

// BenchmarkFloatseatServeHTTPWithHint is a browser that carries the hint
// cookie: it is checked (HMAC, pooled), stripped and not set again.
func BenchmarkFloatseatServeHTTPWithHint(b *testing.B) { benchServe(b, true) }

func benchServe(b *testing.B, hint bool) {
	u, _ := url.Parse("http://app.internal:8080")
	reg := prometheus.NewRegistry()
	res := identity.NewResolver(identity.NewHasher(bytes.Repeat([]byte("k"), 32)), memStore{},
		identity.ResolverOptions{SessionTTL: time.Hour}, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	res.Learn(identity.KindSession, "0123456789ABCDEF0123456789ABCDEF", "alice")
	set, _ := noise.Build("jira", noise.Config{Defaults: true})
	// Two pools, JSM with its default rules and a known service project:
	// per-pool activity is part of the measured path.
	work, _ := poolwork.New([]poolwork.Pool{{Name: "jira-software"},
		{Name: "jsm", Paths: poolwork.JSMPaths(), ProjectTypes: []string{"service_desk"}}}, reg)
	work.SetProjects(map[string]string{"FS": "software", "SD": "service_desk"})
	p := New(Options{Upstream: u, Transport: cannedTransport{body: make([]byte, 1024)},
		Who: benchWho{&identity.Identifier{Product: "jira", Resolver: res}}, Noise: set, Activity: nopRecorder{}, Work: work,
		Metrics: NewMetrics(reg), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r := benchRequest()
	line := r.Header.Get("Cookie")
	if hint {
		hs := identity.NewHints(identity.NewHasher(bytes.Repeat([]byte("k"), 32)), time.Hour, "/", nil)
		p.opt.Hints = hs
		line += "; " + identity.HintCookie + "=" + hs.Value("alice")
	}
	vals := []string{line}
	b.ReportAllocs()
	for b.Loop() {
		vals[0] = line
		r.Header["Cookie"] = vals
		p.ServeHTTP(httptest.NewRecorder(), r)
	}
}

func BenchmarkBareReverseProxy(b *testing.B) {
	u, _ := url.Parse("http://app.internal:8080")
	rp := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport:  cannedTransport{body: make([]byte, 1024)},
		BufferPool: NewBufferPool(256), // floatseat's: the comparison is of the work, not the pool
	}
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		rp.ServeHTTP(httptest.NewRecorder(), r)
	}
}

// BenchmarkClassifyIdentify is what floatseat adds before forwarding a
// non-login request: identity (cached session) and the noise match.
func BenchmarkClassifyIdentify(b *testing.B) {
	res := identity.NewResolver(identity.NewHasher(bytes.Repeat([]byte("k"), 32)), memStore{},
		identity.ResolverOptions{SessionTTL: time.Hour}, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	res.Learn(identity.KindSession, "0123456789ABCDEF0123456789ABCDEF", "alice")
	idf := &identity.Identifier{Product: "jira", Resolver: res}
	set, _ := noise.Build("jira", noise.Config{Defaults: true})
	r := benchRequest()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		idf.Identify(ctx, r)
		set.Match(r.Method, r.URL.Path, r.URL.RawQuery)
	}
}
