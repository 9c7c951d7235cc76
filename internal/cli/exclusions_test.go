package cli

import (
	"testing"

	"github.com/floatseat/floatseat/internal/config"
)

// TestReplayExcludesWhatTheReaperExcludes: replay uses the reaper's
// exclusion set (as far as it needs no directory), so the service account
// app.user is never counted as a revocation, as the reaper never makes one.
func TestReplayExcludesWhatTheReaperExcludes(t *testing.T) {
	cfg, _, errs := config.Parse([]byte("listen: 127.0.0.1:0\nupstream: http://127.0.0.1:9\nadmin: {listen: 127.0.0.1:0}\n"+
		"app: {user: SVC}\nexclude: {users: [Bot]}\n"), "", func(string) string { return "" })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	opt, err := replayOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !opt.Excluded("svc") || !opt.Excluded("bot") || opt.Excluded("alice") {
		t.Errorf("excluded: svc %v, bot %v, alice %v; want the service account and exclude.users only",
			opt.Excluded("svc"), opt.Excluded("bot"), opt.Excluded("alice"))
	}
}
