package appdir

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/rest"
)

// SessionEnder sends Jira's DELETE of the user's sessions with the service
// account and the XSRF header, and reports a refusal.
func TestSessionEnderDeletesTheUsersSessions(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		if u, p, _ := r.BasicAuth(); u != "svc" || p != "pw" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	end := SessionEnder(rest.Config{Base: srv.URL, User: "svc", Password: "pw", Timeout: time.Second, Name: "jira"})
	if err := end(t.Context(), "anna maria"); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodDelete || got.URL.EscapedPath() != "/rest/api/2/user/session/anna%20maria" || got.Header.Get("X-Atlassian-Token") != "no-check" {
		t.Errorf("sent %s %s (XSRF %q)", got.Method, got.URL.EscapedPath(), got.Header.Get("X-Atlassian-Token"))
	}
	refused := SessionEnder(rest.Config{Base: srv.URL, User: "svc", Password: "wrong", Timeout: time.Second, Name: "jira"})
	if err := refused(t.Context(), "anna"); err == nil {
		t.Error("a 403 was taken as done")
	}
}
