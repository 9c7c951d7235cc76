package keeper

// Claims typed on the seat page (docs/sso.md). The name typed there is the
// weakest claim floatseat grants for: no password, no assertion, only a
// name, and its grant waits up to Options.ConfirmWait for the SSO login
// that follows to confirm it, where a login's is settled by its own
// answer. So one client address holds at most one seat-page claim at a
// time (a new one rolls the previous back), and the seat-page claims
// awaiting confirmation in a pool never hold more than half its reserve:
// the rest of the reserve stays for logins that prove who they are. Both
// are counted per replica, like the claim limits.

import (
	"context"
	"net/netip"
	"time"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/seats"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/proxy"
)

// Audit reasons of the seat page's limits.
const (
	// WhySuperseded: the client typed another name on the seat page; its
	// previous claim, still unconfirmed, was rolled back.
	WhySuperseded = "superseded"
	// WhySeatPageLimit: the pool's seat-page claims already held their
	// share of the reserve; the claim got the full page.
	WhySeatPageLimit = "seat-page-limit"
)

// seatPageCap is how many seat-page claims may await confirmation at once
// in pool on this replica: half its reserve, rounded up, and at least one.
func (k *Keeper) seatPageCap(pool string) int {
	r := 0
	if k.opt.Reserve != nil {
		r = k.opt.Reserve(pool)
	}
	return max(1, (r+1)/2)
}

// holdSeatPage counts one more seat-page claim in pool, if the pool's
// share allows it. The claim holds it while it grants, and its ticket
// while it awaits confirmation (takeTicketLocked gives it back).
func (k *Keeper) holdSeatPage(pool string) bool {
	limit := k.seatPageCap(pool)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.seatPage[pool] >= limit {
		return false
	}
	k.seatPage[pool]++
	return true
}

// releaseSeatPage gives back what holdSeatPage counted.
func (k *Keeper) releaseSeatPage(pools ...string) {
	if len(pools) == 0 {
		return
	}
	k.mu.Lock()
	k.releaseSeatPageLocked(pools...)
	k.mu.Unlock()
}

func (k *Keeper) releaseSeatPageLocked(pools ...string) {
	for _, p := range pools {
		if k.seatPage[p]--; k.seatPage[p] <= 0 {
			delete(k.seatPage, p)
		}
	}
}

// denySeatPage answers a seat-page claim beyond the pool's share with the
// full page: retry once the claims holding the share have been confirmed
// or rolled back, at most the confirmation wait from now. Audited once a
// minute per user.
func (k *Keeper) denySeatPage(ctx context.Context, u, pool string, rec store.Revoked, trigger string, now time.Time) proxy.Verdict {
	key := u + "\x00" + WhySeatPageLimit
	k.mu.Lock()
	due := now.Sub(k.denied[key]) >= time.Minute
	if due {
		k.denied[key] = now
	}
	k.mu.Unlock()
	if due {
		k.opt.Audit.Record(ctx, audit.Event{Action: audit.Deny, User: u, Pool: pool, Groups: rec.Groups,
			Reason: WhySeatPageLimit, Trigger: trigger})
	}
	return proxy.Verdict{Deny: true, Pool: pool, RetryAfter: min(max(k.opt.ConfirmWait, seats.MinRetryAfter), seats.MaxRetryAfter)}
}

// supersede rolls back every seat-page claim of client still awaiting
// confirmation, but the one of ticket keep (0: none).
func (k *Keeper) supersede(client netip.Addr, keep uint64) {
	if !client.IsValid() || k.npending.Load() == 0 {
		return
	}
	var old []*provisional
	k.mu.Lock()
	for t, p := range k.pending {
		if t != keep && p.seatPage && p.client == client {
			old = append(old, k.takeTicketLocked(t))
		}
	}
	k.mu.Unlock()
	for _, p := range old {
		k.rollback(p, WhySuperseded)
	}
}
