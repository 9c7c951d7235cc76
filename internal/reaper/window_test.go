package reaper

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/seats"
)

// TestEffectiveWindowHoldsAndDecays: a pressure revocation sets the window;
// runs without pressure hold it, growing with the time since, until it
// reaches the ceiling; the next pressure revocation sets it afresh.
func TestEffectiveWindowHoldsAndDecays(t *testing.T) {
	r := mustNew(t, Options{Members: membership.New(membership.Options{}), Floor: time.Hour, Ceiling: 10 * time.Hour, Reg: prometheus.NewRegistry()})
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	quiet := seats.Decision{EffectiveWindow: 10 * time.Hour}
	pressure := func(w time.Duration) seats.Decision {
		return seats.Decision{EffectiveWindow: w, Revocations: []seats.Revocation{{User: "a", Idle: w, Reason: seats.ReasonPressure}}}
	}
	steps := []struct {
		at   time.Duration
		plan seats.Decision
		want time.Duration
	}{
		{0, quiet, 10 * time.Hour},                            // no pressure yet: the ceiling
		{time.Minute, pressure(2 * time.Hour), 2 * time.Hour}, // set by pressure
		{31 * time.Minute, quiet, 2*time.Hour + 30*time.Minute},
		{61 * time.Minute, quiet, 3 * time.Hour},
		{90 * time.Minute, pressure(90 * time.Minute), 90 * time.Minute}, // set afresh, even lower
		{20 * time.Hour, quiet, 10 * time.Hour},                          // decayed to the ceiling
		{21 * time.Hour, quiet, 10 * time.Hour},
	}
	for _, s := range steps {
		if got := r.effectiveWindow("p", t0.Add(s.at), s.plan); got != s.want {
			t.Errorf("at +%v: window %v, want %v", s.at, got, s.want)
		}
	}
	ceilingOnly := seats.Decision{EffectiveWindow: 10 * time.Hour, Revocations: []seats.Revocation{{User: "b", Reason: seats.ReasonCeiling}}}
	if got := r.effectiveWindow("p", t0.Add(22*time.Hour), ceilingOnly); got != 10*time.Hour {
		t.Errorf("a ceiling revocation moved the window: %v", got)
	}
}
