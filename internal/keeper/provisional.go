package keeper

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/username"
	"github.com/floatseat/floatseat/proxy"
)

// provisional is a grant made for a claim, kept until the app's answer
// confirms its user (DESIGN §2.9).
type provisional struct {
	user    string
	trigger string
	at      time.Time
	pools   map[string]store.Revoked // pool → record before the grant (Groups restored)
	// awaitUntil is set when the answer was an SSO redirect naming nobody:
	// a later answer as the user confirms, or the grant goes at that time.
	awaitUntil time.Time
	// client holds one in-flight slot of the claim limits until settled.
	client netip.Addr
	// seatPage: typed on the seat page; each of pools holds one of the
	// pool's seat-page claims until the ticket is taken (seatpage.go).
	seatPage bool
}

// staleTicket bounds a ticket whose request never settled (it cannot
// happen while the proxy settles every request; this keeps the map bounded
// if it ever does).
const staleTicket = 10 * time.Minute

// newTicket registers a provisional grant and returns its ticket.
func (k *Keeper) newTicket(p *provisional) uint64 {
	k.mu.Lock()
	k.nextTicket++
	t := k.nextTicket
	k.pending[t] = p
	k.npending.Add(1)
	k.mu.Unlock()
	return t
}

// takeTicket removes a ticket; nil when it is already settled.
func (k *Keeper) takeTicket(t uint64) *provisional {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.takeTicketLocked(t)
}

func (k *Keeper) takeTicketLocked(t uint64) *provisional {
	p, ok := k.pending[t]
	if !ok {
		return nil
	}
	delete(k.pending, t)
	k.npending.Add(-1)
	if p.seatPage {
		for pool := range p.pools {
			k.releaseSeatPageLocked(pool)
		}
	}
	return p
}

// Settle hears how a request with a claim ended (proxy.Seats). A confirmed
// answer keeps every provisional grant of the user; an SSO answer that
// names nobody yet starts the wait for a later request as the user; any
// other answer rolls the request's own grant back at once.
func (k *Keeper) Settle(id identity.Identity, v proxy.Verdict, j proxy.Judgement) {
	u := username.Normalize(id.User)
	if (j.Confirmed || j.Await) && id.RefreshesGroups() {
		// The password or SSO login made the app re-read groups.
		k.mu.RLock()
		_, inv := k.invisible[u]
		k.mu.RUnlock()
		if inv {
			k.mu.Lock()
			delete(k.invisible, u)
			delete(k.stale, u)
			k.mu.Unlock()
		}
	}
	if j.Confirmed {
		k.confirmUser(u)
		return
	}
	if v.Ticket == 0 {
		return
	}
	if j.Await {
		k.mu.Lock()
		if p, ok := k.pending[v.Ticket]; ok {
			p.awaitUntil = k.opt.Clock().Add(k.opt.ConfirmWait)
		}
		k.mu.Unlock()
		return
	}
	if p := k.takeTicket(v.Ticket); p != nil {
		k.rollback(p, j.Why)
	}
}

// AnsweredAs hears that the app answered a request as user (proxy.Seats):
// every provisional grant of that user is confirmed. One atomic load when
// nothing is pending.
func (k *Keeper) AnsweredAs(user string) {
	if k.npending.Load() == 0 {
		return
	}
	k.confirmUser(username.Normalize(user))
}

func (k *Keeper) confirmUser(u string) {
	if k.npending.Load() == 0 {
		return
	}
	var done []*provisional
	k.mu.Lock()
	for t, p := range k.pending {
		if p.user == u {
			done = append(done, k.takeTicketLocked(t))
		}
	}
	k.mu.Unlock()
	for _, p := range done {
		k.gate.release(p.client)
	}
}

// sweepTickets rolls back SSO grants whose wait ended unconfirmed, and
// tickets that were never settled.
func (k *Keeper) sweepTickets() {
	defer k.sweeps.Add(1)
	if k.npending.Load() == 0 {
		return
	}
	now := k.opt.Clock()
	var due []*provisional
	k.mu.Lock()
	for t, p := range k.pending {
		if (!p.awaitUntil.IsZero() && !now.Before(p.awaitUntil)) || now.Sub(p.at) > staleTicket {
			due = append(due, k.takeTicketLocked(t))
		}
	}
	k.mu.Unlock()
	if len(due) == 0 {
		return
	}
	// An SSO grant is confirmed by the app's requests as the user after the
	// redirect, and those may have gone through another replica (nginx
	// balances them): activity recorded for the user since the grant, on
	// any replica, is that confirmation. The claim's own response records
	// none (proxy: an SSO claim's redirect is not the confirmation).
	users := make([]string, 0, len(due))
	for _, p := range due {
		if !p.awaitUntil.IsZero() {
			users = append(users, p.user)
		}
	}
	var seen map[string]time.Time
	if len(users) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), k.opt.GrantTimeout)
		seen, _ = k.activity.LastActivity(ctx, users) // unknown: roll back, the safe side
		cancel()
	}
	for _, p := range due {
		if at, ok := seen[p.user]; ok && !p.awaitUntil.IsZero() && !at.Before(p.at) {
			k.gate.release(p.client)
			continue
		}
		k.rollback(p, proxy.WhyUnconfirmed)
	}
}

// rollback takes back a provisional grant the app did not confirm: for
// each pool, an intent first, then the groups removed, the revoked record
// (or the pool-group view) put back, the seat released, and the intent
// dropped. A step that fails leaves the intent for Reconcile to finish, so
// the user ends licensed or recorded as revoked, never neither.
func (k *Keeper) rollback(p *provisional, why string) {
	k.gate.release(p.client)
	k.gate.failed(p.user, p.client, k.opt.Clock())
	k.undo(p, why)
}

// undo takes back every pool of p, each audited as a rollback with why.
func (k *Keeper) undo(p *provisional, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*k.opt.GrantTimeout)
	defer cancel()
	for pool, prev := range p.pools {
		ev := audit.Event{Action: audit.Rollback, User: p.user, Pool: pool, Groups: prev.Groups,
			Reason: why, Trigger: p.trigger}
		if err := k.rollbackPool(ctx, p.user, pool, prev); err != nil {
			k.failures.WithLabelValues("rollback").Inc()
			ev.Error = err.Error()
			k.opt.Audit.Record(ctx, ev)
			k.opt.Log.Warn("rollback of an unconfirmed grant failed; reconcile retries", "user", p.user, "pool", pool,
				"reason", why, "err", err)
			continue
		}
		k.revocations.WithLabelValues(pool, "rollback").Inc()
		k.opt.Audit.Record(ctx, ev)
	}
}

// rollbackIntent is the intent of a rollback. Reason and At are the
// revoked record's, so Reconcile can put it back ("pool-group": there was
// none).
func rollbackIntent(u, pool string, prev store.Revoked) store.Intent {
	return store.Intent{Op: "rollback", User: u, Pool: pool, Groups: prev.Groups, Reason: prev.Reason, At: prev.At}
}

func (k *Keeper) rollbackPool(ctx context.Context, u, pool string, prev store.Revoked) error {
	in := rollbackIntent(u, pool, prev)
	if err := k.intents.RecordIntent(ctx, in); err != nil {
		// Without an intent a crash could lose the record: keep the grant
		// (the reaper takes the seat back later) rather than risk that.
		return fmt.Errorf("grant kept, no intent could be recorded: %w", err)
	}
	return k.finishRollback(ctx, in)
}

// finishRollback completes a recorded rollback intent; idempotent.
func (k *Keeper) finishRollback(ctx context.Context, in store.Intent) error {
	if err := k.removeRolledBack(ctx, in); err != nil {
		return err
	}
	k.opt.Members.Removed(in.User, in.Groups...)
	if in.Reason == "pool-group" {
		k.mu.Lock()
		if !contains(k.seatless[in.User], in.Pool) {
			k.seatless[in.User] = append(k.seatless[in.User], in.Pool)
		}
		k.mu.Unlock()
		if err := k.events.PublishSeatless(ctx, in.Pool, in.User); err != nil {
			// The other replicas re-read the pool groups within
			// seatless_refresh anyway.
			k.opt.Log.Warn("rollback: other replicas not told; they catch up at their next pool-group read", "user", in.User, "err", err)
		}
	} else {
		rec := store.Revoked{Groups: in.Groups, At: in.At, Reason: in.Reason}
		// This replica must not fast-path the user whatever Redis says.
		k.mu.Lock()
		k.setRevokedLocked(in.User, in.Pool, rec)
		k.mu.Unlock()
		if err := k.records.RestoreRevoked(ctx, in.Pool, in.User, rec); err != nil {
			return fmt.Errorf("groups removed, revoked record not restored yet: %w", err)
		}
	}
	// A grant that gave back a seat whose revocation the app had not seen
	// yet cancelled that revocation; the release makes it pending again
	// (the app still counts the seat), until the app can see the groups
	// removed once more.
	if err := k.ledger.ReleaseSeat(ctx, in.Pool, in.User, k.removalVisibleAt(k.opt.Clock())); err != nil {
		// The pending seat expires on its own at its visibility time.
		k.opt.Log.Warn("rollback: seat not released; it expires on its own", "user", in.User, "pool", in.Pool, "err", err)
	}
	if err := k.intents.DropIntent(ctx, "rollback", in.Pool, in.User); err != nil {
		k.opt.Log.Warn("rollback: intent not dropped; reconcile repeats it unless a grant comes first", "user", in.User, "pool", in.Pool, "err", err)
	}
	return nil
}

// removeUnparked removes groups without parking the user.
func (k *Keeper) removeUnparked(ctx context.Context, _, u string, groups []string) error {
	var errs []error
	for _, g := range groups {
		if err := k.opt.Dir.RemoveMember(ctx, u, g); err != nil {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", u, g, err))
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Pending counts provisional grants awaiting the app's confirmation.
func (k *Keeper) Pending() int { return int(k.npending.Load()) }

// Sweeps counts finished sweeps of provisional grants (tests wait on it).
func (k *Keeper) Sweeps() uint64 { return k.sweeps.Load() }
