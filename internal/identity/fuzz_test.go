package identity

import (
	"bytes"
	"io"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"
)

// The seeds run in every `go test`; `go test -fuzz FuzzLoginUser` explores.
func FuzzLoginUser(f *testing.F) {
	f.Add(uint8(RouteJiraLogin), "application/x-www-form-urlencoded", []byte("os_username=alice&os_password=x&os_cookie=true"))
	f.Add(uint8(RouteRESTSession), "application/json", []byte(`{"username":"bob","password":"x"}`))
	f.Add(uint8(RouteTSVAuthenticate), "application/json; charset=UTF-8", []byte(`{"username":"c","rememberMe":"true"}`))
	f.Add(uint8(RouteSAML), "application/x-www-form-urlencoded", []byte("SAMLResponse=PE5hbWVJRD5kPC9OYW1lSUQ+"))
	f.Add(uint8(RouteJiraLogin), "", []byte("os_username=%FF"))
	f.Add(uint8(RouteRESTSession), "application/json", []byte(`{"username":`))
	f.Add(uint8(RouteConfluenceLogin), "text/plain; charset=\x00", []byte("\x00\x01os_username"))
	f.Fuzz(func(t *testing.T, route uint8, ct string, body []byte) {
		u, _, err := LoginUser(Route(route%9), ct, body)
		if err == nil && (u == "" || len(u) > 255 || !utf8.ValidString(u)) {
			t.Fatalf("accepted unusable username %q", u)
		}
	})
}

func FuzzParseCredentials(f *testing.F) {
	f.Add("JSESSIONID=abc; seraph.rememberme.cookie=def", "Bearer t")
	f.Add(`JSESSIONID="q"; ;;=; JSESSIONID=second`, "Basic YTpi")
	f.Add("seraph.confluence=", "bearer")
	f.Fuzz(func(t *testing.T, cookie, auth string) {
		c := ParseCredentials([]string{cookie}, auth)
		for _, v := range []string{c.Session, c.RememberMe} {
			if v != "" && !bytes.Contains([]byte(cookie), []byte(v)) {
				t.Fatalf("credential %q is not from the header %q", v, cookie)
			}
		}
		_ = ResponseCookies(map[string][]string{"Set-Cookie": {cookie}}, time.Now())
		_, _ = BasicUser(auth)
	})
}

func FuzzReadLoginBody(f *testing.F) {
	f.Add([]byte("os_username=alice"), int64(64))
	f.Add(bytes.Repeat([]byte("x"), 200), int64(64))
	f.Add([]byte{}, int64(1))
	f.Fuzz(func(t *testing.T, body []byte, limit int64) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		r := httptest.NewRequest("POST", "/login.jsp", bytes.NewReader(body))
		got, complete, err := ReadLoginBody(r, limit)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(got)) > limit || complete != (int64(len(body)) <= limit) {
			t.Fatalf("len %d complete %v for body %d limit %d", len(got), complete, len(body), limit)
		}
		all, _ := io.ReadAll(r.Body)
		if !bytes.Equal(all, body) {
			t.Fatal("the forwarded body differs from the original")
		}
	})
}
