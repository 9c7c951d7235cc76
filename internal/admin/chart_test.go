package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/store"
)

// TestChartSpanFollowsTheData: a few minutes of samples are drawn over ten
// minutes, not a day; a day's worth over 24 h, and never more.
func TestChartSpanFollowsTheData(t *testing.T) {
	for age, want := range map[time.Duration]time.Duration{
		3 * time.Minute: 10 * time.Minute, 10 * time.Minute: 10 * time.Minute, 11 * time.Minute: 30 * time.Minute,
		2 * time.Hour: 3 * time.Hour, 20 * time.Hour: 24 * time.Hour, 30 * time.Hour: 24 * time.Hour,
	} {
		if got := chartSpan(age); got != want {
			t.Errorf("chartSpan(%v) = %v, want %v", age, got, want)
		}
	}
	now := time.Now()
	svg := string(chartSVG("jsw", []store.Sample{{At: now.Add(-4 * time.Minute), Headroom: 1, Licensed: 4},
		{At: now.Add(-time.Minute), Headroom: 2, Licensed: 3}}))
	if !strings.Contains(svg, ">10m ago<") || strings.Contains(svg, "24 h ago") {
		t.Errorf("a four-minute chart is not labelled over ten minutes: %s", svg)
	}
}
