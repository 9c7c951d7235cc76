package reaper

// The effective idle window: how far pressure has brought the window in.

import (
	"time"

	"github.com/floatseat/floatseat/internal/seats"
)

// pressureMark is a pool's last pressure revocation: its window, and when.
type pressureMark struct {
	window time.Duration
	at     time.Time
}

// effectiveWindow is the window in force (floatseat_effective_idle_window_
// seconds): the idle time of the most recently active user the last
// pressure revocation took, held across runs without pressure and growing
// with the time since (nobody less idle than that has been revoked since),
// until it reaches the ceiling. A run that revokes under pressure sets it
// afresh.
func (r *Reaper) effectiveWindow(pool string, now time.Time, plan seats.Decision) time.Duration {
	ceiling := max(r.opt.Ceiling, r.opt.Floor)
	pressured := false
	for _, rv := range plan.Revocations {
		if rv.Reason == seats.ReasonPressure {
			pressured = true
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if pressured {
		r.pressure[pool] = pressureMark{window: plan.EffectiveWindow, at: now}
		return plan.EffectiveWindow
	}
	m, ok := r.pressure[pool]
	if !ok {
		return ceiling
	}
	w := m.window + max(now.Sub(m.at), 0)
	if w >= ceiling {
		delete(r.pressure, pool)
		return ceiling
	}
	return w
}
