package keeper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/username"
)

// ErrActive: the user was active within the floor; revoking is refused.
var ErrActive = errors.New("user active within the session timeout")

// ErrNotLicensed: the user holds no licence group of the pool directly.
var ErrNotLicensed = errors.New("user holds no licence group of the pool directly")

// RevokeRequest is one revocation.
type RevokeRequest struct {
	Pool    string
	User    string
	Reason  string        // ceiling, pressure, manual
	Trigger string        // reaper, admin-api
	Idle    time.Duration // as the decision saw it
	// Allowed is checked right before the directory change (the reaper's
	// lock still held); nil means allowed.
	Allowed func(ctx context.Context) bool
}

// Revoke removes the user's direct licence groups of the pool, with an
// intent recorded first so that a crash half-way is completed on restart.
// It refuses anyone active within the floor, whatever the caller decided.
func (k *Keeper) Revoke(ctx context.Context, rq RevokeRequest) error {
	u := username.Normalize(rq.User)
	pool, ok := k.pools[rq.Pool]
	if !ok {
		return fmt.Errorf("revoke %s: unknown pool %q", u, rq.Pool)
	}
	if err := k.ensureEpoch(ctx); err != nil {
		return fmt.Errorf("revoke %s: fail closed: %w", u, err)
	}
	now := k.opt.Clock()
	// Idle in this pool (DESIGN §2.11): Software work keeps no agent seat.
	last, err := k.activity.PoolActivity(ctx, rq.Pool, []string{u})
	if err != nil {
		return fmt.Errorf("revoke %s: fail closed: %w", u, err)
	}
	if t, ok := last[u]; ok && now.Sub(t) <= k.Floor() {
		return fmt.Errorf("revoke %s: %w (last active %s ago)", u, ErrActive, now.Sub(t).Round(time.Second))
	}
	held, err := k.opt.Dir.UserGroups(ctx, u, false)
	if err != nil {
		return fmt.Errorf("revoke %s: %w", u, err)
	}
	var groups []string
	for _, g := range held {
		for _, lg := range pool.LicenseGroups {
			if strings.EqualFold(g, lg) {
				groups = append(groups, lg)
			}
		}
	}
	if len(groups) == 0 {
		return fmt.Errorf("revoke %s from %s: %w", u, rq.Pool, ErrNotLicensed)
	}
	ev := audit.Event{Action: audit.Revoke, User: u, Pool: rq.Pool, Groups: groups, Reason: rq.Reason,
		Trigger: rq.Trigger, Idle: rq.Idle}
	if k.opt.Observe {
		return k.observeRevoke(ctx, ev)
	}
	in := store.Intent{Op: "revoke", User: u, Pool: rq.Pool, Groups: groups, Reason: rq.Reason, At: now}
	if err := k.intents.RecordIntent(ctx, in); err != nil {
		return fmt.Errorf("revoke %s: fail closed: %w", u, err)
	}
	if rq.Allowed != nil && !rq.Allowed(ctx) {
		_ = k.intents.DropIntent(ctx, "revoke", rq.Pool, u)
		return fmt.Errorf("revoke %s: no longer allowed (reaper lock lost)", u)
	}
	if err := k.removeGroups(ctx, rq.Pool, u, groups); err != nil {
		// Put back what was removed, so a half-revoked user is not left
		// behind; the intent stays for reconcile if that fails too.
		if rerr := k.restore(ctx, u, groups); rerr == nil {
			_ = k.intents.DropIntent(ctx, "revoke", rq.Pool, u)
		}
		k.failures.WithLabelValues("revoke").Inc()
		ev.Error = err.Error()
		k.opt.Audit.Record(ctx, ev)
		return fmt.Errorf("revoke %s: %w", u, err)
	}
	return k.finishRevoke(ctx, in, ev)
}

// finishRevoke completes a revocation whose groups are removed. Until its
// record is written the intent stands, and a login of the user on any
// replica waits for the record (readRevoked) before it gives the seat
// back; so whatever must not race that grant comes first: the pending
// mark (the grant then finds the revocation pending, and gives the seat
// back as for any return: without a free seat only while the last licence
// report was answered by in.At, the intent's time, which precedes the
// removal), ending the app sessions (it would end the session the login
// opens), and this replica's own view
// (set after the record, it could overwrite the grant that follows). The
// record, the intent's end, the change log and the event are one
// transaction; the audit follows it, so a revocation is audited once,
// however often reconcile repeats a step before it.
func (k *Keeper) finishRevoke(ctx context.Context, in store.Intent, ev audit.Event) error {
	rec := store.Revoked{Groups: in.Groups, At: in.At, Reason: in.Reason}
	visibleAt := k.removalVisibleAt(in.At)
	if err := k.ledger.MarkRevoked(ctx, in.Pool, in.User, in.At, visibleAt); err != nil {
		// The revocation itself goes on; only the seat it freed is not
		// counted as pending yet, so the reaper may judge the pool
		// fuller than it is. Retried by remark until it would be wrong.
		k.failures.WithLabelValues("mark_revoked").Inc()
		k.opt.Log.Warn("revoked, but the freed seat is not counted yet; retried until the app can see the revocation",
			"user", in.User, "pool", in.Pool, "err", err)
		k.unmarked.add(seatKey{pool: in.Pool, user: in.User}, unmarked{at: in.At, visibleAt: visibleAt}, true)
	}
	if k.opt.EndSessions != nil {
		// Sessions kept alive by polling end now: nothing runs as the
		// unlicensed user until they return (docs/sso.md, live sessions).
		if err := k.opt.EndSessions(ctx, in.User); err != nil {
			k.failures.WithLabelValues("end_sessions").Inc()
			k.opt.Log.Warn("revoked, but the user's app sessions could not be ended; their next click still asks for a login", "user", in.User, "err", err)
		}
	}
	k.opt.Members.Removed(in.User, in.Groups...)
	k.mu.Lock()
	k.setRevokedLocked(in.User, in.Pool, rec)
	delete(k.holds, in.User)
	k.mu.Unlock()
	if err := k.records.CompleteRevoke(ctx, in.Pool, in.User, rec); err != nil {
		return fmt.Errorf("revoke %s: directory changed, record pending reconcile: %w", in.User, err)
	}
	k.revocations.WithLabelValues(in.Pool, in.Reason).Inc()
	k.opt.Audit.Record(ctx, ev)
	return nil
}

// removalVisibleAt is when the app's seat count shows licence groups
// removed at: at once with an app-REST backend, at the next directory
// sync with Crowd or LDAP; plus the margin for the app's own cache.
func (k *Keeper) removalVisibleAt(at time.Time) time.Time {
	v := at.Add(k.opt.VisibilityMargin)
	if !k.opt.Immediate {
		v = v.Add(k.opt.SyncInterval)
	}
	return v
}

// seatKey is one user's seat of one pool.
type seatKey struct{ pool, user string }

// unmarked is a revocation whose freed seat MarkRevoked did not record.
type unmarked struct{ at, visibleAt time.Time }

// unmarkedSeats are the revocations remark retries. A revocation stays
// at most until its visibleAt, so the set stays small.
type unmarkedSeats struct {
	mu sync.Mutex
	m  map[seatKey]unmarked
}

// add records u under key; replace false keeps a newer entry already there.
func (s *unmarkedSeats) add(key seatKey, u unmarked, replace bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[seatKey]unmarked{}
	}
	if _, ok := s.m[key]; ok && !replace {
		return
	}
	s.m[key] = u
}

// take empties the set and returns what it held.
func (s *unmarkedSeats) take() map[seatKey]unmarked {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.m
	s.m = nil
	return m
}

// remark retries the marks finishRevoke could not make: a pending
// revocation is what lets the reaper count the freed seat before the app
// does, and lets the user come back to their own seat while the app
// still counts it. A mark is dropped rather than made once it would be
// wrong: when the app can see the revocation by now (past visibleAt, a
// mark could outlast the licence report that already reflects it and let
// the user back into a full pool), or when the revoked record is no
// longer this revocation (the user has the seat back). Reconcile (each
// reaper run, before the pools are judged) and the resync (every replica)
// call it.
func (k *Keeper) remark(ctx context.Context) {
	now := k.opt.Clock()
	for key, m := range k.unmarked.take() {
		if !now.Before(m.visibleAt) {
			continue
		}
		rec, ok, err := k.reader.RevokedUser(ctx, key.pool, key.user)
		if err == nil && (!ok || !rec.At.Equal(m.at)) {
			continue
		}
		if err == nil {
			err = k.ledger.MarkRevoked(ctx, key.pool, key.user, m.at, m.visibleAt)
		}
		if err != nil {
			k.unmarked.add(key, m, false) // a newer revocation's entry wins
			continue
		}
		k.opt.Log.Info("the seat freed by an earlier revocation is counted now", "user", key.user, "pool", key.pool)
	}
}

// restore adds groups back, then unparks u once all of them are held.
func (k *Keeper) restore(ctx context.Context, u string, groups []string) error {
	var errs []error
	for _, g := range groups {
		if err := k.opt.Dir.AddMember(ctx, u, g); err != nil {
			errs = append(errs, err)
			continue
		}
		k.opt.Members.Added(u, g)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	k.unpark(ctx, u, groups)
	return nil
}

// Grant gives a user a seat on an admin's request, through the same seat
// accounting and audit as a returning user.
func (k *Keeper) Grant(ctx context.Context, user, trigger string) (bool, error) {
	u := username.Normalize(user)
	k.mu.RLock()
	_, revoked := k.revoked[u]
	seatless := k.seatless[u] != nil
	k.mu.RUnlock()
	if !revoked && !seatless {
		return false, nil
	}
	if k.opt.Observe {
		return false, errors.New("observe mode: nothing is changed")
	}
	v := k.grant(ctx, u, identity.Identity{User: u, Source: identity.SourceNone}, ^uint64(0))
	if v.Deny {
		return false, fmt.Errorf("grant %s: every seat of %s is in use", u, v.Pool)
	}
	if !v.Granted {
		return false, fmt.Errorf("grant %s failed: see the audit log", u)
	}
	return true, nil
}
