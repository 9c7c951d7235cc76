package keeper

// The grant: taking a seat and giving the directory groups back before the
// request is forwarded, shared by concurrent requests of one user.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/seats"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/proxy"
)

// grantOnce makes concurrent requests of one user share one grant.
func (k *Keeper) grantOnce(ctx context.Context, u string, id identity.Identity, pools uint64) proxy.Verdict {
	k.flightMu.Lock()
	if c, ok := k.flight[u]; ok {
		k.flightMu.Unlock()
		select {
		case <-c.done:
			v := c.v
			v.Granted = false // only the request that made the grant rolls it back
			v.Ticket = 0
			if v.DropRememberMe && id.RememberMeCookie == "" {
				v.DropRememberMe = false
			}
			if v.DropSession && id.Creds.Session == "" {
				v.DropSession = false
			}
			return v
		case <-ctx.Done():
			return proxy.Verdict{}
		}
	}
	c := &call{done: make(chan struct{})}
	k.flight[u] = c
	k.flightMu.Unlock()

	// The grant gets its own deadline and survives the client going away:
	// a half-made grant is worse than a finished one nobody waited for.
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.opt.GrantTimeout)
	c.v = k.grant(gctx, u, id, pools)
	cancel()

	k.flightMu.Lock()
	delete(k.flight, u)
	k.flightMu.Unlock()
	close(c.done)
	return c.v
}

// grant gives u a seat in every pool of the mask it lacks one.
func (k *Keeper) grant(ctx context.Context, u string, id identity.Identity, pools uint64) proxy.Verdict {
	// No seat decision on a view that may belong to data Redis lost.
	if err := k.ensureEpoch(ctx); err != nil {
		k.failures.WithLabelValues("grant").Inc()
		k.opt.Log.Warn("grant skipped: cannot confirm the revoked view; forwarding unchanged", "user", u, "err", err)
		return proxy.Verdict{}
	}
	now := k.opt.Clock()
	recs := k.toGiveBack(u, pools)
	vis := k.visibility(now, id)
	reason := "return"
	if id.Route != identity.RouteNone || id.Source == identity.SourceBasic {
		reason = "login"
	}
	trigger := trigger(id)

	var v proxy.Verdict
	seatPage := id.Source == identity.SourceSeatPage
	done := &provisional{user: u, trigger: trigger, at: now, client: id.Client, pools: map[string]store.Revoked{},
		seatPage: seatPage}
	var held []string // pools whose seat-page share this claim holds
	for _, r := range recs {
		if r.rec.Reason == "pool-group" {
			reason = "pool-group"
		}
		if seatPage {
			if !k.holdSeatPage(r.pool) {
				k.releaseSeatPage(held...)
				return k.deniedPartway(ctx, u, id, done, vis, k.denySeatPage(ctx, u, r.pool, r.rec, trigger, now))
			}
			held = append(held, r.pool)
		}
		granted, deny := k.grantPool(ctx, u, r.pool, r.rec, reason, trigger, vis)
		if deny.Deny {
			k.releaseSeatPage(held...)
			return k.deniedPartway(ctx, u, id, done, vis, deny)
		}
		if granted {
			done.pools[r.pool] = r.rec
			v.Granted = true
		} else if seatPage {
			k.releaseSeatPage(r.pool) // nothing of this pool to await
			held = held[:len(held)-1]
		}
	}
	if !v.Granted {
		return v
	}
	if id.IsClaim() {
		// Anyone can send a claim: the grant stands only if the app's
		// answer confirms this user (DESIGN §2.9).
		v.Ticket = k.newTicket(done)
		if seatPage {
			// Two claims of one client at once: the later one stays.
			k.supersede(id.Client, v.Ticket)
		}
	}
	k.keepFromApp(ctx, u, id, vis, &v)
	return v
}

// deniedPartway ends a grant that a full pool stopped, after the pools
// before it (done.pools) were granted. A claim's grants are rolled back at
// once, audited with the pool that was full: the request is answered with
// the full page and never reaches the app, so nothing can ever confirm
// them (DESIGN §2.9), and a claim must not leave a seat behind. Like any
// unconfirmed claim this takes a token from the claim limits, which bound
// the directory writes of a client that keeps retrying. A confirmed
// identity (a session, remember-me cookie or token the app taught
// floatseat) keeps what it was given, as any of its grants: the app
// vouched for the user, the seat is one any request of theirs that needs
// only that pool would take, and undoing it on every denied request would
// write the directory twice a request with no limit to bound it. What it
// keeps is then handled like any grant, the cookie paths the app cannot
// see yet kept from it (keepFromApp).
func (k *Keeper) deniedPartway(ctx context.Context, u string, id identity.Identity, done *provisional,
	vis visibility, deny proxy.Verdict) proxy.Verdict {
	if len(done.pools) == 0 {
		return deny
	}
	if id.IsClaim() {
		k.gate.failed(u, id.Client, k.opt.Clock())
		k.undo(done, WhyDeniedFull+deny.Pool)
		return deny
	}
	var kept proxy.Verdict // the request is not forwarded: only the state matters
	k.keepFromApp(ctx, u, id, vis, &kept)
	return deny
}

// WhyDeniedFull, followed by the full pool's name, is the audit reason of
// a claim's grant rolled back because another pool it needed was full.
const WhyDeniedFull = "denied-full:"

// toGiveBack is what u gets back in each pool of the mask, in the order
// of the configuration: the revoked record, or a pool-group member's
// default groups. The order makes a grant over several pools repeatable
// (which pool it meets full first).
func (k *Keeper) toGiveBack(u string, pools uint64) []poolRecord {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var recs []poolRecord
	for i := range k.opt.Pools {
		name := k.opt.Pools[i].Name
		if pools&k.bits[name] == 0 {
			continue
		}
		if rec, ok := k.revoked[u].get(name); ok {
			recs = append(recs, poolRecord{pool: name, rec: rec})
		} else if contains(k.seatless[u], name) {
			recs = append(recs, poolRecord{pool: name, rec: store.Revoked{Groups: k.pools[name].DefaultGroups, Reason: "pool-group"}})
		}
	}
	return recs
}

// visibility is when the app can count a grant made at now.
type visibility struct {
	now time.Time
	// immediate: the app sees the groups at once (an app-REST backend, or
	// a password login, which makes the app re-read groups before its
	// licence check); otherwise Crowd/LDAP changes show at the next sync.
	immediate bool
	// at: the seat stays counted as pending until a licence report after it.
	at time.Time
	// syncAt: until then the app cannot see the grant (not immediate).
	syncAt time.Time
}

// visibility is when the app can count a grant made now for id. The grant
// stays counted as pending until a licence report taken after the app can
// count it: after the directory write and the login have completed (at
// most the grant timeout, plus a margin for the login itself and the app's
// own seat-count cache), or after the next directory sync. Counting it
// twice for a while errs on the safe side; dropping it too early could
// push the app over its licence.
func (k *Keeper) visibility(now time.Time, id identity.Identity) visibility {
	v := visibility{now: now, immediate: k.opt.Immediate || id.RefreshesGroups()}
	v.at = now.Add(k.opt.GrantTimeout + k.opt.VisibilityMargin)
	v.syncAt = v.at
	if !v.immediate {
		v.at = now.Add(k.opt.SyncInterval + k.opt.VisibilityMargin)
		v.syncAt = now.Add(k.opt.SyncInterval)
	}
	return v
}

// grantPool takes a seat of pool for u and gives rec.Groups back. A full
// pool answers with a denial (deny.Deny); a failure is counted, audited
// and logged, and the request goes on unchanged (granted false).
func (k *Keeper) grantPool(ctx context.Context, u, pool string, rec store.Revoked, reason, trigger string,
	vis visibility) (granted bool, deny proxy.Verdict) {
	ok, _, err := k.ledger.TakeSeat(ctx, pool, u, vis.now, vis.at)
	if err != nil {
		k.failures.WithLabelValues("grant").Inc()
		k.opt.Log.Warn("grant skipped: seat accounting unavailable; forwarding unchanged", "user", u, "pool", pool, "err", err)
		return false, proxy.Verdict{}
	}
	if !ok {
		return false, k.denyFull(ctx, u, pool, rec, trigger, vis.now)
	}
	if err := k.addGroups(ctx, pool, u, rec, reason); err != nil {
		if !errors.Is(err, errGrantLeft) {
			// The directory is as it was: the seat is free again.
			_ = k.ledger.ReleaseSeat(context.WithoutCancel(ctx), pool, u, k.removalVisibleAt(k.opt.Clock()))
		}
		k.failures.WithLabelValues("grant").Inc()
		k.opt.Audit.Record(ctx, audit.Event{Action: audit.Grant, User: u, Pool: pool, Groups: rec.Groups,
			Reason: reason, Trigger: trigger, Error: err.Error()})
		k.opt.Log.Warn("grant failed; forwarding unchanged (the app decides)", "user", u, "pool", pool, "err", err)
		return false, proxy.Verdict{}
	}
	k.noteHolder(ctx, pool, vis.now)
	k.grants.WithLabelValues(pool, reason).Inc()
	k.opt.Audit.Record(ctx, audit.Event{Action: audit.Grant, User: u, Pool: pool, Groups: rec.Groups,
		Reason: reason, Trigger: trigger})
	return true, proxy.Verdict{}
}

// denyFull is the answer when every seat of pool is in use: when to
// retry. A user retrying against a full pool is audited once a minute,
// not once a request.
func (k *Keeper) denyFull(ctx context.Context, u, pool string, rec store.Revoked, trigger string, now time.Time) proxy.Verdict {
	retry, never := k.retryAfter(ctx, pool, now)
	k.mu.Lock()
	last := k.denied[u]
	audited := now.Sub(last) >= time.Minute
	if audited {
		k.denied[u] = now
	}
	k.mu.Unlock()
	if audited {
		k.opt.Audit.Record(ctx, audit.Event{Action: audit.Deny, User: u, Pool: pool, Groups: rec.Groups,
			Reason: "full", Trigger: trigger})
	}
	return proxy.Verdict{Deny: true, Pool: pool, RetryAfter: retry, Never: never}
}

// keepFromApp keeps u's cookie paths from an app that cannot see the
// grant yet (DESIGN §2.6): the remember-me cookie and the session u came
// with are dropped until vis.syncAt, so the app asks for a login, which
// re-reads groups.
func (k *Keeper) keepFromApp(ctx context.Context, u string, id identity.Identity, vis visibility, v *proxy.Verdict) {
	if vis.immediate {
		return
	}
	k.mu.Lock()
	k.invisible[u] = vis.syncAt
	k.mu.Unlock()
	v.DropRememberMe = id.RememberMeCookie != ""
	if id.Creds.Session != "" {
		k.markStale(ctx, u, id.Creds.Session, vis.syncAt)
		v.DropSession = true
	}
}

// retryAfter is when a seat of the full pool is expected to free: when the
// earliest current holder passes the floor (the reaper's estimate, kept
// fresh by noteHolder), plus the time the app needs to see the revocation
// (the visibility margin, and the directory sync for a backend the app sees
// only then). never: every holder is excluded.
func (k *Keeper) retryAfter(ctx context.Context, pool string, now time.Time) (time.Duration, bool) {
	next, never, err := k.free.NextFree(ctx, pool)
	if never && err == nil {
		return seats.MaxRetryAfter, true
	}
	// No holder can pass the floor later than Floor from now (activity is
	// never in the future): a later estimate is stale, as is one already
	// past (every holder has been active since) or none at all.
	latest := k.Floor() + k.opt.ReaperInterval
	retry := next.Sub(now)
	if err != nil || retry <= 0 || retry > latest {
		retry = latest
	}
	retry += k.opt.VisibilityMargin
	if !k.opt.Immediate {
		retry += k.opt.SyncInterval
	}
	return min(max(retry, seats.MinRetryAfter), seats.MaxRetryAfter), false
}

// noteHolder keeps the pool's next-free estimate true after a grant: the
// new holder passes the floor at now + Floor, so an estimate that is stale,
// unknown or "never" (the pool had only excluded holders) moves there.
func (k *Keeper) noteHolder(ctx context.Context, pool string, now time.Time) {
	cand := now.Add(k.Floor() + k.opt.ReaperInterval)
	next, never, err := k.free.NextFree(ctx, pool)
	if err != nil || (!never && next.After(now) && !cand.Before(next)) {
		return
	}
	_ = k.free.SetNextFree(ctx, pool, cand, false)
}

// errGrantLeft: the grant failed after it reached the directory, which
// holds some or all of the groups, and its intent stays for Reconcile to
// complete. Reconcile gives the groups back without taking a seat, so the
// seat the grant took stays taken: released, it could go to another login
// and the pool end one over its licence once reconcile ran.
var errGrantLeft = errors.New("grant left for reconcile to complete")

// addGroups restores rec.Groups in the directory with an intent around it.
// An error wrapping errGrantLeft means the directory was changed.
func (k *Keeper) addGroups(ctx context.Context, pool, u string, rec store.Revoked, reason string) error {
	in := store.Intent{Op: "grant", User: u, Pool: pool, Groups: rec.Groups, Reason: reason, At: k.opt.Clock()}
	if err := k.intents.RecordIntent(ctx, in); err != nil {
		return err
	}
	for i, g := range rec.Groups {
		if err := k.opt.Dir.AddMember(ctx, u, g); err != nil {
			err = fmt.Errorf("add %s to %s: %w", u, g, err)
			// A partial grant (g1 added, g2 failed): take back what was
			// added, so the user stays recorded as revoked and nothing
			// else. If that fails too, the intent stays and reconcile
			// completes the grant: licensed or recorded, never neither.
			uctx := context.WithoutCancel(ctx)
			if uerr := k.removeGroups(uctx, pool, u, rec.Groups[:i]); uerr != nil {
				return errors.Join(err, fmt.Errorf("partial grant: %w: %w", errGrantLeft, uerr))
			}
			if derr := k.intents.DropIntent(uctx, "grant", pool, u); derr != nil {
				k.opt.Log.Warn("grant intent not dropped; reconcile completes the grant", "user", u, "pool", pool, "err", derr)
			}
			return err
		}
	}
	k.opt.Members.Added(u, rec.Groups...)
	if rec.Reason != "pool-group" { // a pool-group member was never parked
		k.unpark(ctx, u, rec.Groups)
	}
	if err := k.records.CompleteGrant(ctx, pool, u); err != nil {
		return fmt.Errorf("groups given back, record not dropped: %w: %w", errGrantLeft, err)
	}
	k.mu.Lock()
	k.forgetLocked(u, pool)
	k.mu.Unlock()
	return nil
}
