package keeper

// The keeper's view of Redis, in roles. Options take the store once (Store,
// for wiring); New keeps it as the roles below, and each part of the keeper
// reaches Redis only through the role it needs: the grant through
// SeatLedger, FreeEstimate and IntentLog, the epoch check through Epochs,
// the revoked view through RevokedLog and RevokedReader, and so on. A test
// replaces one role of a built Keeper with a fake of one to three methods.

import (
	"context"
	"time"

	"github.com/floatseat/floatseat/internal/store"
)

// SeatLedger is the seat accounting shared by every replica: a seat taken
// before a grant, released when the grant is undone (a revocation the
// grant cancelled pending again, until visibleAt at least), and a
// revocation marked until the app's licence count shows it.
type SeatLedger interface {
	TakeSeat(ctx context.Context, pool, user string, now, visibleAt time.Time) (bool, int, error)
	ReleaseSeat(ctx context.Context, pool, user string, visibleAt time.Time) error
	MarkRevoked(ctx context.Context, pool, user string, startedAt, visibleAt time.Time) error
}

// FreeEstimate is when a seat of a full pool is expected to free: read
// for a denial's Retry-After, moved after a grant.
type FreeEstimate interface {
	NextFree(ctx context.Context, pool string) (time.Time, bool, error)
	SetNextFree(ctx context.Context, pool string, at time.Time, never bool) error
}

// IntentLog records a directory change before it is made, so that a crash
// half-way is completed or undone by Reconcile.
type IntentLog interface {
	RecordIntent(ctx context.Context, in store.Intent) error
	Intents(ctx context.Context) ([]store.Intent, error)
	DropIntent(ctx context.Context, op, pool, user string) error
}

// RevokedRecords writes the revoked records: what to give back to whom.
// Each call also completes the change's intent, logs the change and tells
// the other replicas, in one transaction.
type RevokedRecords interface {
	CompleteRevoke(ctx context.Context, pool, user string, r store.Revoked) error
	CompleteGrant(ctx context.Context, pool, user string) error
	RestoreRevoked(ctx context.Context, pool, user string, r store.Revoked) error
}

// RevokedReader reads the revoked records: a pool's in chunks, or one;
// or one with whether a revocation of the user is under way (a login's
// read, readRevoked).
type RevokedReader interface {
	ScanRevoked(ctx context.Context, pool string, cursor uint64, count int64, each func(user string, r store.Revoked)) (uint64, error)
	RevokedUser(ctx context.Context, pool, user string) (store.Revoked, bool, error)
	RevokedOrRevoking(ctx context.Context, pool, user string) (r store.Revoked, recorded, revoking bool, err error)
}

// RevokedLog is the change log of the revoked records, which keeps the
// revoked view current without re-reading it.
type RevokedLog interface {
	RevokedLogLast(ctx context.Context) (string, error)
	RevokedChanges(ctx context.Context, after string, count int64) ([]store.RevokedChange, error)
}

// Events are what the replicas tell each other at once: a pool-group member
// without a seat again, a session kept from the app, and, from Subscribe,
// every replica's events (revocations and grants included).
type Events interface {
	PublishSeatless(ctx context.Context, pool, user string) error
	Announce(ctx context.Context, op, arg, user string) error
	Subscribe(ctx context.Context) (<-chan store.Event, func())
}

// Activity is the users' last real activity, recorded by every replica.
type Activity interface {
	// PoolActivity is the latest activity that was the pool's work: what
	// keeps its seat (DESIGN §2.11).
	PoolActivity(ctx context.Context, pool string, users []string) (map[string]time.Time, error)
	// LastActivity is a user's latest real activity in any pool: what
	// confirms an SSO grant seen through another replica.
	LastActivity(ctx context.Context, users []string) (map[string]time.Time, error)
}

// Epochs says whether Redis still holds its data (parking.go): the epoch
// read before every seat decision, and set after a rebuild has written
// the records read back from the parking groups.
type Epochs interface {
	Epoch(ctx context.Context) (string, error)
	SetEpoch(ctx context.Context, id string) (string, error)
	RebuildRevoked(ctx context.Context, pool string, recs map[string]store.Revoked) (int, error)
}

// Store is every role at once: what Options take, so that wiring passes
// the store once. No code path of the keeper depends on it.
type Store interface {
	SeatLedger
	FreeEstimate
	IntentLog
	RevokedRecords
	RevokedReader
	RevokedLog
	Events
	Activity
	Epochs
}

var (
	_ SeatLedger     = (*store.Store)(nil)
	_ FreeEstimate   = (*store.Store)(nil)
	_ IntentLog      = (*store.Store)(nil)
	_ RevokedRecords = (*store.Store)(nil)
	_ RevokedReader  = (*store.Store)(nil)
	_ RevokedLog     = (*store.Store)(nil)
	_ Events         = (*store.Store)(nil)
	_ Activity       = (*store.Store)(nil)
	_ Epochs         = (*store.Store)(nil)
)

// roles are the store as the keeper's parts use it.
type roles struct {
	ledger   SeatLedger
	free     FreeEstimate
	intents  IntentLog
	records  RevokedRecords
	reader   RevokedReader
	changes  RevokedLog
	events   Events
	activity Activity
	epochs   Epochs
}

func rolesOf(s Store) roles {
	return roles{ledger: s, free: s, intents: s, records: s, reader: s, changes: s, events: s, activity: s, epochs: s}
}
