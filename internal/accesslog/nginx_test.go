package accesslog_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/accesslog"
	"github.com/floatseat/floatseat/internal/testenv"
)

// The log_format shipped in deploy/nginx/floatseat.conf, written by a real
// nginx, is read by the nginx parser and detected by auto: the user comes
// from the app's X-AUSERNAME, "-" when the app sent none.
func TestShippedNginxLogFormatParses(t *testing.T) {
	t.Parallel()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.URL.Query().Get("as"); u != "" {
			w.Header().Set("X-AUSERNAME", u)
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer app.Close()
	ng := testenv.StartNginx(t, strings.TrimPrefix(app.URL, "http://"))
	paths := []string{"/browse/ABC-1?as=alice", "/secure/Dashboard.jspa?as=Bob", "/login.jsp", "/a%20b/c?as=anonymous"}
	for _, p := range paths {
		resp, err := http.Get("http://" + ng.Addr + p)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	logFile := filepath.Join(ng.Dir, "logs", "floatseat.access.log")
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; {
		body, _ = os.ReadFile(logFile)
		if bytes.Count(body, []byte("\n")) >= len(paths) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a file nginx writes
	}
	r := accesslog.NewReader(logFile, bytes.NewReader(body), accesslog.Auto)
	var got []string
	for r.Next() {
		e := r.Entry()
		got = append(got, string(e.User)+" "+string(e.Method)+" "+string(e.Path))
	}
	if r.Format() != accesslog.Nginx || r.Skipped() != 0 {
		t.Fatalf("format %s, %d skipped, log:\n%s", r.Format(), r.Skipped(), body)
	}
	want := []string{"alice GET /browse/ABC-1", "Bob GET /secure/Dashboard.jspa", " GET /login.jsp", " GET /a%20b/c"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("parsed %q, want %q; log:\n%s", got, want, body)
	}
}
