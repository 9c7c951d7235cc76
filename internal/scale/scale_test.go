package scale

import (
	"regexp"
	"testing"

	"github.com/floatseat/floatseat/internal/store/storetest"
)

// TestRunsAtATinySize: the scale measurement runs end to end (the figures
// themselves come from `floatseat-bench scale`, never from a test).
func TestRunsAtATinySize(t *testing.T) {
	st, _ := storetest.New(t, "floatseat:scale")
	r, err := Run(t.Context(), Options{Users: 300, Store: st, PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if r.DirCallsFresh != 300/50+1 { // the licence group in pages, the exclusion group
		t.Errorf("fresh run: %d directory calls, want 7", r.DirCallsFresh)
	}
	if r.DirCallsSteady > 50 || r.DirCallsSteady >= r.DirCallsFresh*10 {
		t.Errorf("steady run: %d directory calls, want at most the reconcile batch", r.DirCallsSteady)
	}
	if r.Learned != 300 {
		t.Errorf("%d learned sessions reached Redis, want 300", r.Learned)
	}
	if !regexp.MustCompile(`^scale: users=300 reaper_pass_ms=\d+ rss_mb=\d+ directory_calls_per_run=\d+$`).MatchString(r.Line()) {
		t.Errorf("summary line: %q", r.Line())
	}
}
