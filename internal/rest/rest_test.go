package rest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestErrMapsEveryStatusClass(t *testing.T) {
	for _, tc := range []struct {
		status int
		header http.Header
		want   error
	}{
		{200, nil, nil},
		{204, nil, nil},
		{301, nil, ErrRedirect},
		{302, nil, ErrRedirect},
		{400, nil, ErrUnexpected},
		{401, nil, ErrUnauthorized},
		{403, nil, ErrForbidden},
		{403, http.Header{"X-Seraph-Loginreason": {"AUTHENTICATION_DENIED"}}, ErrCaptcha},
		{404, nil, ErrNotFound},
		{409, nil, ErrUnexpected},
		{429, nil, ErrUnavailable},
		{500, nil, ErrUnavailable},
		{503, nil, ErrUnavailable},
	} {
		r := &Response{Status: tc.status, Header: tc.header}
		if r.Header == nil {
			r.Header = http.Header{}
		}
		if got := r.Err(); !errors.Is(got, tc.want) || (tc.want == nil) != (got == nil) {
			t.Errorf("status %d %v: got %v, want %v", tc.status, tc.header, got, tc.want)
		}
	}
	if !errors.Is(ErrCaptcha, ErrForbidden) {
		t.Error("ErrCaptcha does not wrap ErrForbidden: a caller testing for 403 would miss it")
	}
}

func TestDoSendsOneAuthenticatedJSONRequest(t *testing.T) {
	var got struct {
		method, path, query, user, pass, accept, token, ctype, body string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.path, got.query = r.Method, r.URL.Path, r.URL.RawQuery
		got.user, got.pass, _ = r.BasicAuth()
		got.accept, got.token, got.ctype = r.Header.Get("Accept"), r.Header.Get("X-Atlassian-Token"), r.Header.Get("Content-Type")
		got.body = string(b)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	c := New(Config{Base: srv.URL + "/jira/", User: "svc", Password: "s3cret",
		Header: http.Header{"X-Atlassian-Token": {"no-check"}}})
	t.Cleanup(func() { _ = c.Close() })
	r, err := c.Do(t.Context(), http.MethodPost, "/rest/api/2/group/user", url.Values{"groupname": {"jira users"}}, map[string]string{"name": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if got.method != "POST" || got.path != "/jira/rest/api/2/group/user" || got.query != "groupname=jira+users" {
		t.Errorf("request: got %s %s?%s", got.method, got.path, got.query)
	}
	if got.user != "svc" || got.pass != "s3cret" || got.accept != "application/json" || got.token != "no-check" || got.ctype != "application/json" {
		t.Errorf("headers: got %+v", got)
	}
	if got.body != `{"name":"alice"}` {
		t.Errorf("body: got %q", got.body)
	}
	var out struct{ OK bool }
	if r.Status != 201 || r.Err() != nil || r.Decode(&out) != nil || !out.OK {
		t.Errorf("answer: got %d %v %+v", r.Status, r.Err(), out)
	}
}

func TestDoBoundsTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 4096)))
	}))
	t.Cleanup(srv.Close)
	r, err := New(Config{Base: srv.URL, MaxBody: 100}).Do(t.Context(), http.MethodGet, "/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Body) != 100 {
		t.Errorf("read %d bytes, want at most MaxBody (100)", len(r.Body))
	}
	if err := r.DecodeOK(nil); !errors.Is(err, ErrNotJSON) {
		t.Errorf("a 200 answer of x's: DecodeOK(nil) got %v, want ErrNotJSON", err)
	}
	var v any
	if err := r.Decode(&v); !errors.Is(err, ErrNotJSON) {
		t.Errorf("Decode: got %v, want ErrNotJSON", err)
	}
}

// TestDecodeTellsNotJSONFromAnotherShape: Decode parses once and says
// which of the two went wrong: a body that is not JSON at all (callers
// answer "is the URL right?") or JSON of another shape. DecodeOK(nil), for
// answers nobody decodes, finds the same "not JSON".
func TestDecodeTellsNotJSONFromAnotherShape(t *testing.T) {
	for _, tc := range []struct {
		body             string
		wantErr, notJSON bool
	}{
		{`{"n":1}`, false, false},
		{`<html>log in</html>`, true, true},
		{`{"n":`, true, true}, // cut short: not JSON either
		{`{"n":"one"}`, true, false},
		{``, true, false},
	} {
		r := &Response{Status: http.StatusOK, Body: []byte(tc.body)}
		var v struct {
			N int `json:"n"`
		}
		err := r.Decode(&v)
		if (err != nil) != tc.wantErr || errors.Is(err, ErrNotJSON) != tc.notJSON {
			t.Errorf("Decode(%q): got %v, want an error %v, ErrNotJSON %v", tc.body, err, tc.wantErr, tc.notJSON)
		}
		if got := r.DecodeOK(nil); errors.Is(got, ErrNotJSON) != tc.notJSON {
			t.Errorf("DecodeOK(nil) of %q: got %v, want ErrNotJSON %v", tc.body, got, tc.notJSON)
		}
		if got := (&Response{Status: http.StatusNotFound, Body: r.Body}).DecodeOK(&v); got != nil {
			t.Errorf("DecodeOK of a 404 %q: got %v, want nil (not a 200: left alone)", tc.body, got)
		}
		if !tc.wantErr && v.N != 1 {
			t.Errorf("Decode(%q): got %+v", tc.body, v)
		}
	}
}

func TestDoHasItsOwnDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	_, err := New(Config{Base: srv.URL, Timeout: 50 * time.Millisecond}).Do(context.Background(), http.MethodGet, "/slow", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		var ue *url.Error
		if !errors.As(err, &ue) || !ue.Timeout() {
			t.Fatalf("got %v, want the request's own deadline to end it", err)
		}
	}
}

func TestDoNeverFollowsRedirects(t *testing.T) {
	followed := false
	mux := http.NewServeMux()
	mux.HandleFunc("/login.jsp", func(w http.ResponseWriter, r *http.Request) { followed = true })
	mux.HandleFunc("/rest/x", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/login.jsp", http.StatusFound) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r, err := New(Config{Base: srv.URL, User: "svc", Password: "pw"}).Do(t.Context(), http.MethodGet, "/rest/x", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if followed || !errors.Is(r.Err(), ErrRedirect) || r.Header.Get("Location") != "/login.jsp" {
		t.Errorf("got followed=%v %v %q, want the redirect itself", followed, r.Err(), r.Header.Get("Location"))
	}
}

func TestDoErrorsCarryNoCredentials(t *testing.T) {
	_, err := New(Config{Base: "http://127.0.0.1:1", User: "svc", Password: "s3cret-pw"}).Do(t.Context(), http.MethodGet, "/rest/x", nil, nil)
	if err == nil {
		t.Fatal("a dead address: got no error")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error names the password: %v", err)
	}
}
