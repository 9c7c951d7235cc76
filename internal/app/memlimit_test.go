package app

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/floatseat/floatseat/internal/testenv"
)

// TestShippedMemoryLimits: the image and both Helm values set GOMEMLIMIT,
// below the container's memory limit with headroom (the GC tightens before
// the kernel kills).
func TestShippedMemoryLimits(t *testing.T) {
	soft := regexp.MustCompile(`GOMEMLIMIT[=\s\S]{0,30}?"?(\d+)MiB`)
	hard := regexp.MustCompile(`limits: \{memory: (\d+)Mi\}`)
	df, err := os.ReadFile(testenv.RepoFile(t, "deploy/container/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ENV GOMEMLIMIT=\d+MiB$`).Match(df) {
		t.Error("the image sets no GOMEMLIMIT")
	}
	for _, f := range []string{"deploy/helm/jira-values.yaml", "deploy/helm/confluence-values.yaml"} {
		b, err := os.ReadFile(testenv.RepoFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		s, h := soft.FindSubmatch(b), hard.FindSubmatch(b)
		if s == nil || h == nil {
			t.Errorf("%s: GOMEMLIMIT %q, limits.memory %q: want both", f, s, h)
			continue
		}
		sv, _ := strconv.Atoi(string(s[1]))
		hv, _ := strconv.Atoi(string(h[1]))
		if sv >= hv*9/10 || sv < hv/2 {
			t.Errorf("%s: GOMEMLIMIT %dMiB against a %dMi limit: want about 80%%", f, sv, hv)
		}
	}
}
