package cli

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floatseat/floatseat/internal/appsim"
)

// check creates the parking groups where the backend can, and says whether
// each can be written.
func TestCheckCreatesAndProbesParkingGroups(t *testing.T) {
	sim := appsim.New(appsim.Config{Product: "jira", AdminUsers: []string{"svc"}})
	in := sim.InternalDirectory()
	in.AddUser("svc", "svc-pw")
	in.AddGroup("jira-software-users")
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Setenv("FLOATSEAT_APP_PASSWORD", "svc-pw")
	cfg := filepath.Join(t.TempDir(), "floatseat.yaml")
	_ = os.WriteFile(cfg, []byte(fmt.Sprintf("product: jira\nupstream: %s\napp: {user: svc}\ndirectory: {type: jira}\nredis: {addr: 127.0.0.1:1}\n", srv.URL)), 0o600)
	code, out, errOut := run("check", "--config", cfg)
	if code != 0 || !strings.Contains(out, "parking group floatseat-parked-jira-software-users: created; writable: yes") {
		t.Fatalf("first check: %d %q %q", code, out, errOut)
	}
	if _, err := in.Members(t.Context(), "floatseat-parked-jira-software-users", false); err != nil {
		t.Fatalf("the parking group was not created in the directory: %v", err)
	}
	code, out, errOut = run("check", "--config", cfg)
	if code != 0 || !strings.Contains(out, "floatseat-parked-jira-software-users: exists; writable: yes") {
		t.Errorf("second check: %d %q %q", code, out, errOut)
	}
	// A service account without admin rights cannot write: a problem.
	t.Setenv("FLOATSEAT_APP_PASSWORD", "wrong")
	if code, _, errOut = run("check", "--config", cfg); code != 1 || !strings.Contains(errOut, "parking group") {
		t.Errorf("check with refused credentials: %d %q, want a parking group problem", code, errOut)
	}
}

func TestRestoreUsage(t *testing.T) {
	for _, args := range [][]string{{"restore", "--config", "x.yaml"}, {"restore", "--config", "x.yaml", "--all", "alice"}} {
		if code, _, errOut := run(args...); code != 2 || !strings.Contains(errOut, "--all | USER") {
			t.Errorf("%v: %d %q, want the usage", args, code, errOut)
		}
	}
}
