package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/floatseat/floatseat/internal/appsim"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestDemo runs `floatseat demo` on free ports: it prints where to go, a
// licensed user works through floatseat, and a newcomer meets the
// "all seats are in use" page while everyone is active.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, "127.0.0.1:0", "127.0.0.1:0", "/opt/floatseat/bin/floatseat", out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	t.Cleanup(func() { cancel(); <-done })
	re := regexp.MustCompile(`Jira \(through floatseat\):\s+(http://[0-9.:]+)/login.jsp`)
	var base string
	eventually(t, "the demo's instructions", func() bool {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			return true
		}
		return false
	})
	for _, want := range []string{"status page:", "Three things to try", "erin", "max idle (ceiling) 10 min",
		"REST group API", "/opt/floatseat/bin/floatseat users --admin http://", "FLOATSEAT_ADMIN_TOKEN=demo /opt/floatseat/bin/floatseat grant carol --admin http://"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(out.String()) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	eventually(t, "floatseat ready with seat counts", func() bool {
		res, err := appsim.NewBrowser(base, "carol", "carol", "jira").Login(ctx, false)
		return err == nil && res.LoginReason() == "OK"
	})
	res, err := appsim.NewBrowser(base, "erin", "erin", "jira").Login(ctx, false)
	if err != nil || res.Status != http.StatusServiceUnavailable {
		t.Errorf("erin with every seat held by active users: %+v %v, want 503", res.Status, err)
	}
	if strings.Contains(out.String(), "go run") {
		t.Error("the demo prints go run commands; they must call the binary")
	}
	// The printed command works as printed (flags after the user).
	m := regexp.MustCompile(`FLOATSEAT_ADMIN_TOKEN=demo \S+ grant carol --admin (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatal("no grant command printed")
	}
	t.Setenv("FLOATSEAT_ADMIN_TOKEN", "demo")
	var so, se bytes.Buffer
	if code := Main([]string{"grant", "carol", "--admin", m[1]}, &so, &se); code != 0 {
		t.Errorf("the printed grant command: exit %d %s", code, se.String())
	}
}
