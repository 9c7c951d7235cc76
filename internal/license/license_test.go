package license

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	svcUser = "floatseat-svc"
	svcPass = "s3cret-pa55"
)

// appServer answers path with status and body, after checking the service
// account's Basic credentials; a handler may also block until the client
// gives up, to test deadlines.
func appServer(t *testing.T, routes map[string]func(w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != svcUser || p != svcPass {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h, ok := routes[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func answer(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

const rolePath = "/rest/api/2/applicationrole/jira-software"

func TestJiraRole(t *testing.T) {
	tests := []struct {
		name     string
		handler  func(http.ResponseWriter, *http.Request)
		password string
		want     Count
		wantErr  error
	}{
		{
			name:    "ok",
			handler: answer(200, `{"key":"jira-software","numberOfSeats":2000,"remainingSeats":13,"userCount":1987,"hasUnlimitedSeats":false}`),
			want:    Count{Seats: 2000, Used: 1987},
		},
		{
			name:    "remainingSeats more pessimistic than userCount wins",
			handler: answer(200, `{"numberOfSeats":2000,"remainingSeats":10,"userCount":1987}`),
			want:    Count{Seats: 2000, Used: 1990},
		},
		{
			name:    "userCount more pessimistic than remainingSeats wins",
			handler: answer(200, `{"numberOfSeats":2000,"remainingSeats":20,"userCount":1987}`),
			want:    Count{Seats: 2000, Used: 1987},
		},
		{
			name:    "over the licence",
			handler: answer(200, `{"numberOfSeats":10,"remainingSeats":-2,"userCount":12}`),
			want:    Count{Seats: 10, Used: 12},
		},
		{
			name:    "unlimited",
			handler: answer(200, `{"numberOfSeats":-1,"remainingSeats":-1,"userCount":5000,"hasUnlimitedSeats":true}`),
			want:    Count{Unlimited: true, Used: 5000},
		},
		{name: "401", handler: answer(200, `{}`), password: "wrong", wantErr: ErrUnauthorized},
		{name: "403 not admin", handler: answer(403, `{}`), wantErr: ErrUnauthorized},
		{
			name: "403 CAPTCHA",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-Seraph-LoginReason", "AUTHENTICATION_DENIED")
				w.WriteHeader(403)
			},
			wantErr: ErrCaptcha,
		},
		{name: "404 unknown role", handler: nil, wantErr: ErrNotFound},
		{name: "500", handler: answer(500, `oops`), wantErr: ErrUnavailable},
		{name: "502 html", handler: answer(502, `<html>bad gateway</html>`), wantErr: ErrUnavailable},
		{name: "429 rate limited", handler: answer(429, `slow down`), wantErr: ErrUnavailable},
		{name: "malformed JSON", handler: answer(200, `{"numberOfSeats":`), wantErr: ErrMalformed},
		{name: "login page instead of JSON", handler: answer(200, `<!DOCTYPE html><html>log in</html>`), wantErr: ErrMalformed},
		{name: "fields missing", handler: answer(200, `{"key":"jira-software"}`), wantErr: ErrMalformed},
		{name: "negative seats", handler: answer(200, `{"numberOfSeats":-5,"userCount":1}`), wantErr: ErrMalformed},
		{
			name: "redirect to login is not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/login.jsp", http.StatusFound)
			},
			wantErr: ErrMalformed,
		},
		{name: "timeout", handler: hang, wantErr: ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := map[string]func(http.ResponseWriter, *http.Request){}
			if tt.handler != nil {
				routes[rolePath] = tt.handler
			}
			srv := appServer(t, routes)
			pw := svcPass
			if tt.password != "" {
				pw = tt.password
			}
			src := JiraRole{BaseURL: srv.URL + "/", User: svcUser, Password: pw, Key: "jira-software", Timeout: 200 * time.Millisecond}
			got, err := src.Count(t.Context())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err: got %v, want %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), pw) {
				t.Errorf("error %q contains the password", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestJiraRoleUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // a guaranteed-dead loopback address
	_, err := JiraRole{BaseURL: srv.URL, User: svcUser, Password: svcPass, Key: "jira-software"}.Count(t.Context())
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("got %v, want ErrUnavailable", err)
	}
}

func TestConfluence(t *testing.T) {
	const maxPath, countPath = "/rest/license/1.0/license/maxUsers", "/rest/license/1.0/license/userCount"
	tests := []struct {
		name              string
		maxUsers, userCnt func(http.ResponseWriter, *http.Request)
		password          string
		want              Count
		wantErr           error
	}{
		{name: "ok", maxUsers: answer(200, `{"count":500}`), userCnt: answer(200, `{"count":480}`), want: Count{Seats: 500, Used: 480}},
		{name: "unlimited", maxUsers: answer(200, `{"count":2147483647}`), userCnt: answer(200, `{"count":9000}`), want: Count{Unlimited: true, Used: 9000}},
		{name: "401", maxUsers: answer(200, `{"count":1}`), userCnt: answer(200, `{"count":1}`), password: "nope", wantErr: ErrUnauthorized},
		{name: "500 on userCount", maxUsers: answer(200, `{"count":500}`), userCnt: answer(500, ``), wantErr: ErrUnavailable},
		{name: "malformed", maxUsers: answer(200, `{"count":"many"}`), userCnt: answer(200, `{"count":1}`), wantErr: ErrMalformed},
		{name: "count missing", maxUsers: answer(200, `{}`), userCnt: answer(200, `{"count":1}`), wantErr: ErrMalformed},
		{name: "negative userCount", maxUsers: answer(200, `{"count":5}`), userCnt: answer(200, `{"count":-1}`), wantErr: ErrMalformed},
		{name: "timeout", maxUsers: hang, userCnt: answer(200, `{"count":1}`), wantErr: ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := appServer(t, map[string]func(http.ResponseWriter, *http.Request){maxPath: tt.maxUsers, countPath: tt.userCnt})
			pw := svcPass
			if tt.password != "" {
				pw = tt.password
			}
			src := Confluence{BaseURL: srv.URL, User: svcUser, Password: pw, Timeout: 200 * time.Millisecond}
			got, err := src.Count(t.Context())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err: got %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFixed(t *testing.T) {
	boom := errors.New("directory down")
	tests := []struct {
		name    string
		src     Fixed
		want    Count
		wantErr error
	}{
		{"ok", Fixed{Seats: 50, Used: func(context.Context) (int, error) { return 42, nil }}, Count{Seats: 50, Used: 42}, nil},
		{"counter fails", Fixed{Seats: 50, Used: func(context.Context) (int, error) { return 0, boom }}, Count{}, boom},
		{"no counter", Fixed{Seats: 50}, Count{}, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.src.Count(t.Context())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err: got %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	j := JiraRole{BaseURL: "http://127.0.0.1:1", User: svcUser, Password: svcPass, Key: "jira-software"}
	c := Confluence{BaseURL: "http://127.0.0.1:1", User: svcUser, Password: svcPass}
	log.Info("sources", "jira", j, "confluence", c)
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s", j, j, j, j),
		fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
		logs.String(),
	} {
		if strings.Contains(s, svcPass) {
			t.Errorf("got the password in %q", s)
		}
		if !strings.Contains(s, "REDACTED") {
			t.Errorf("got %q, want REDACTED in it", s)
		}
	}
}
