package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestCLISendsTheTokenOnReads: behind a read-protected admin port the
// read commands must send --token-file too, not only grant and revoke.
func TestCLISendsTheTokenOnReads(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/users", "/api/v1/audit":
			_, _ = w.Write([]byte("[]"))
		default:
			_, _ = w.Write([]byte("{}"))
		}
	}))
	t.Cleanup(srv.Close)
	tok := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(tok, []byte("r3ad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ cmd, path string }{
		{"users", "/api/v1/users"},
		{"audit", "/api/v1/audit"},
		{"status", "/api/v1/status"},
	} {
		code, _, errOut := run(c.cmd, "--admin", srv.URL, "--token-file", tok, "--format", "json")
		mu.Lock()
		got, ok := seen[c.path]
		mu.Unlock()
		if !ok {
			t.Errorf("floatseat %s (exit %d, %q) did not call %s", c.cmd, code, strings.TrimSpace(errOut), c.path)
			continue
		}
		if got != "Bearer r3ad" {
			t.Errorf("floatseat %s sent Authorization %q, want %q", c.cmd, got, "Bearer r3ad")
		}
	}
}
