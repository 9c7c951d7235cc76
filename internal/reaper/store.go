package reaper

// The reaper's view of Redis, in roles. Options take the store once (Store,
// for wiring); New keeps it as the roles below, and each step of a run
// reaches Redis only through the role it needs: the lock through Locker,
// the safety rails through Heartbeats, a pool's users through Activity,
// its seats through SeatState, and what a run leaves for the grants and
// the status page through FreeEstimate and Samples.

import (
	"context"
	"time"

	"github.com/floatseat/floatseat/internal/store"
)

// Locker takes the reaper's lock: one replica revokes at a time.
type Locker interface {
	TryLock(ctx context.Context, name, owner string, ttl time.Duration) (*store.Lock, bool, error)
}

// Heartbeats say whether the proxies are recording activity, and since
// when: without a fresh heartbeat nobody is revoked.
type Heartbeats interface {
	LastHeartbeat(ctx context.Context) (time.Time, error)
	ObservedSince(ctx context.Context) (time.Time, error)
}

// Activity is a pool's users' last activity that was the pool's work, and
// since when the pool's own records run.
type Activity interface {
	PoolActivity(ctx context.Context, pool string, users []string) (map[string]time.Time, error)
	PoolObservedSince(ctx context.Context, pool string) (time.Time, error)
}

// SeatState is a pool's seats as the app last reported them, with the
// grants and revocations it does not count yet.
type SeatState interface {
	PoolState(ctx context.Context, pool string) (seats, used, pending int, unlimited bool, reportedAt time.Time, err error)
	PendingRevocations(ctx context.Context, pool string) (int, error)
}

// FreeEstimate is when a seat of a full pool is expected to free, which
// the keeper's denials answer as Retry-After.
type FreeEstimate interface {
	SetNextFree(ctx context.Context, pool string, at time.Time, never bool) error
}

// Samples are the status page's chart: one point per pool and run.
type Samples interface {
	AddSample(ctx context.Context, pool string, p store.Sample, keep time.Duration) error
}

// Store is every role at once: what Options take, so that wiring passes
// the store once. No step of a run depends on it.
type Store interface {
	Locker
	Heartbeats
	Activity
	SeatState
	FreeEstimate
	Samples
}

var (
	_ Locker       = (*store.Store)(nil)
	_ Heartbeats   = (*store.Store)(nil)
	_ Activity     = (*store.Store)(nil)
	_ SeatState    = (*store.Store)(nil)
	_ FreeEstimate = (*store.Store)(nil)
	_ Samples      = (*store.Store)(nil)
	_ Virtual      = (*store.Store)(nil)
)

// roles are the store as the steps of a run use it.
type roles struct {
	locker   Locker
	beats    Heartbeats
	activity Activity
	state    SeatState
	free     FreeEstimate
	samples  Samples
}

func rolesOf(s Store) roles {
	return roles{locker: s, beats: s, activity: s, state: s, free: s, samples: s}
}
