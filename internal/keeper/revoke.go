package keeper

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	last, err := k.opt.Store.PoolActivity(ctx, rq.Pool, []string{u})
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
	if err := k.opt.Store.RecordIntent(ctx, in); err != nil {
		return fmt.Errorf("revoke %s: fail closed: %w", u, err)
	}
	if rq.Allowed != nil && !rq.Allowed(ctx) {
		_ = k.opt.Store.DropIntent(ctx, "revoke", rq.Pool, u)
		return fmt.Errorf("revoke %s: no longer allowed (reaper lock lost)", u)
	}
	if err := k.removeGroups(ctx, rq.Pool, u, groups); err != nil {
		// Put back what was removed, so a half-revoked user is not left
		// behind; the intent stays for reconcile if that fails too.
		if rerr := k.restore(ctx, u, groups); rerr == nil {
			_ = k.opt.Store.DropIntent(ctx, "revoke", rq.Pool, u)
		}
		k.failures.WithLabelValues("revoke").Inc()
		ev.Error = err.Error()
		k.opt.Audit.Record(ctx, ev)
		return fmt.Errorf("revoke %s: %w", u, err)
	}
	return k.finishRevoke(ctx, in, ev)
}

func (k *Keeper) finishRevoke(ctx context.Context, in store.Intent, ev audit.Event) error {
	rec := store.Revoked{Groups: in.Groups, At: in.At, Reason: in.Reason}
	if err := k.opt.Store.CompleteRevoke(ctx, in.Pool, in.User, rec); err != nil {
		return fmt.Errorf("revoke %s: directory changed, record pending reconcile: %w", in.User, err)
	}
	visibleAt := in.At.Add(k.opt.VisibilityMargin)
	if !k.opt.Immediate {
		visibleAt = visibleAt.Add(k.opt.SyncInterval)
	}
	_ = k.opt.Store.MarkRevoked(ctx, in.Pool, in.User, visibleAt)
	k.opt.Members.Removed(in.User, in.Groups...)
	k.mu.Lock()
	k.setRevokedLocked(in.User, in.Pool, rec)
	delete(k.holds, in.User)
	k.mu.Unlock()
	k.revocations.WithLabelValues(in.Pool, in.Reason).Inc()
	k.opt.Audit.Record(ctx, ev)
	if k.opt.EndSessions != nil {
		// Sessions kept alive by polling end now: nothing runs as the
		// unlicensed user until they return (docs/sso.md, live sessions).
		if err := k.opt.EndSessions(ctx, in.User); err != nil {
			k.failures.WithLabelValues("end_sessions").Inc()
			k.opt.Log.Warn("revoked, but the user's app sessions could not be ended; their next click still asks for a login", "user", in.User, "err", err)
		}
	}
	return nil
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

func (k *Keeper) reconcileIntent(ctx context.Context, in store.Intent) error {
	switch in.Op {
	case "revoke":
		// Still idle? Complete the revocation; active since? Undo it.
		last, err := k.opt.Store.PoolActivity(ctx, in.Pool, []string{in.User})
		if err != nil {
			return err
		}
		if t, ok := last[in.User]; ok && t.After(in.At) {
			if err := k.restore(ctx, in.User, in.Groups); err != nil {
				return fmt.Errorf("reconcile revoke of %s: %w", in.User, err)
			}
			return k.opt.Store.DropIntent(ctx, "revoke", in.Pool, in.User)
		}
		if err := k.removeGroups(ctx, in.Pool, in.User, in.Groups); err != nil {
			return fmt.Errorf("reconcile revoke of %s: %w", in.User, err)
		}
		return k.finishRevoke(ctx, in, audit.Event{Action: audit.Revoke, User: in.User, Pool: in.Pool,
			Groups: in.Groups, Reason: in.Reason, Trigger: "reconcile"})
	case "rollback":
		// A grant the app did not confirm, taken back half-way: finish it.
		if err := k.finishRollback(ctx, in); err != nil {
			return fmt.Errorf("reconcile rollback of %s: %w", in.User, err)
		}
		k.opt.Audit.Record(ctx, audit.Event{Action: audit.Rollback, User: in.User, Pool: in.Pool, Groups: in.Groups,
			Reason: "unconfirmed", Trigger: "reconcile"})
	case "grant":
		if err := k.restore(ctx, in.User, in.Groups); err != nil {
			return fmt.Errorf("reconcile grant of %s: %w", in.User, err)
		}
		if err := k.opt.Store.CompleteGrant(ctx, in.Pool, in.User); err != nil {
			return err
		}
		k.mu.Lock()
		k.forgetLocked(in.User, in.Pool)
		k.mu.Unlock()
		k.opt.Audit.Record(ctx, audit.Event{Action: audit.Grant, User: in.User, Pool: in.Pool, Groups: in.Groups,
			Reason: in.Reason, Trigger: "reconcile"})
	}
	return nil
}

// heldOf returns the groups of groups that held contains.
func heldOf(held, groups []string) []string {
	var out []string
	for _, g := range groups {
		if holdsAny(held, []string{g}) {
			out = append(out, g)
		}
	}
	return out
}

func holdsAny(held, groups []string) bool {
	for _, h := range held {
		for _, g := range groups {
			if strings.EqualFold(h, g) {
				return true
			}
		}
	}
	return false
}

// Prime loads the revoked users and the pool-group view before the proxy
// takes traffic: a request in the first moments after a start must find a
// revoked user known, or the app would count a failed login.
func (k *Keeper) Prime(ctx context.Context) {
	k.resync(ctx)
	k.resyncVirtual(ctx)
	k.refreshSeatless(ctx)
}

// refreshSeatless finds pool-group members who hold no licence group of
// the pool, from the membership view (refreshed when due). A failed
// refresh keeps the previous view.
func (k *Keeper) refreshSeatless(ctx context.Context) {
	if err := k.opt.Members.Ensure(ctx); err != nil {
		k.opt.Log.Warn("membership refresh failed; keeping the last pool-group view", "err", err)
	}
	if _, ok := k.opt.Members.Members(); !ok {
		return
	}
	m := map[string][]string{}
	for name, p := range k.pools {
		if len(p.PoolGroups) == 0 {
			continue
		}
		licensed, _ := k.opt.Members.Members(p.LicenseGroups...)
		pool, _ := k.opt.Members.Members(p.PoolGroups...)
		for u := range pool {
			if !licensed[u] {
				m[u] = append(m[u], name)
			}
		}
	}
	k.SetSeatless(m)
}

// SetSeatless replaces the pool-group members that hold no seat.
func (k *Keeper) SetSeatless(m map[string][]string) {
	k.mu.Lock()
	k.seatless = m
	k.mu.Unlock()
}

// IsSeatless reports whether user is a pool-group member this replica
// would grant a seat to.
func (k *Keeper) IsSeatless(user string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.seatless[username.Normalize(user)]) > 0
}

// IsRevoked reports whether floatseat holds a revoked record of user.
func (k *Keeper) IsRevoked(user string) map[string]store.Revoked {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := map[string]store.Revoked{}
	for _, r := range k.revoked[username.Normalize(user)] {
		out[r.pool] = r.rec
	}
	return out
}

// Run keeps the revoked view current: events from every replica at once,
// and a full resync every Refresh in case an event was missed. Every
// replica also reads the pool groups itself, so a pool-group member gets a
// seat on whichever replica the first request lands.
func (k *Keeper) Run(ctx context.Context) error {
	t := time.NewTicker(k.opt.Refresh)
	defer t.Stop()
	pg := time.NewTicker(k.opt.SeatlessRefresh)
	defer pg.Stop()
	sweep := time.NewTicker(time.Second)
	defer sweep.Stop()
	for {
		events, unsubscribe := k.opt.Store.Subscribe(ctx)
	loop:
		for {
			select {
			case <-ctx.Done():
				unsubscribe()
				return nil
			case <-t.C:
				k.resync(ctx)
				k.resyncVirtual(ctx)
			case <-pg.C:
				k.refreshSeatless(ctx)
			case <-sweep.C:
				k.sweepTickets()
			case e, ok := <-events:
				if !ok {
					break loop
				}
				k.apply(ctx, e)
			}
		}
		unsubscribe()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (k *Keeper) apply(ctx context.Context, e string) {
	op, rest, _ := strings.Cut(e, "|")
	pool, u, _ := strings.Cut(rest, "|")
	switch op {
	case "grant":
		k.mu.Lock()
		rec, had := k.revoked[u].get(pool)
		k.forgetLocked(u, pool)
		k.mu.Unlock()
		if had {
			k.opt.Members.Added(u, rec.Groups...) // another replica gave them back
		}
	case "stale":
		k.applyStale(pool, u) // pool carries "<session key>@<until>"
	case "seatless":
		k.mu.Lock()
		if _, ok := k.pools[pool]; ok && !contains(k.seatless[u], pool) {
			k.seatless[u] = append(k.seatless[u], pool)
		}
		k.mu.Unlock()
	case "revoke":
		r, ok, err := k.opt.Store.RevokedUser(ctx, pool, u)
		if err != nil {
			return // the next resync catches up
		}
		if ok {
			k.mu.Lock()
			k.setRevokedLocked(u, pool, r)
			k.mu.Unlock()
			k.opt.Members.Removed(u, r.Groups...)
		}
	}
}

// resync brings the revoked view up to date from the change log (every
// record in chunks only the first time and after a gap), then drops
// bookkeeping that can no longer matter.
func (k *Keeper) resync(ctx context.Context) {
	// A Redis that lost its data would hand over an empty view: rebuild
	// it first, and keep the last view while that cannot be done.
	if err := k.ensureEpoch(ctx); err != nil {
		k.opt.Log.Warn("cannot confirm the revoked view; keeping the last one", "err", err)
		return
	}
	if err := k.loadRevoked(ctx); err != nil {
		k.opt.Log.Warn("cannot read revoked users; keeping the last view", "err", err)
	}
	now := k.opt.Clock()
	k.mu.Lock()
	// Bounded bookkeeping: drop what can no longer matter.
	for u, t := range k.invisible {
		if !now.Before(t) {
			delete(k.invisible, u)
			delete(k.stale, u)
		}
	}
	for u, t := range k.denied {
		if now.Sub(t) > time.Minute {
			delete(k.denied, u)
		}
	}
	k.mu.Unlock()
}
