package keeper

// Keeping this replica's view of revoked and seatless users current: Prime before traffic, then Run (events from other replicas, periodic resync).

import (
	"context"
	"time"

	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/username"
)

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
		events, unsubscribe := k.events.Subscribe(ctx)
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

func (k *Keeper) apply(ctx context.Context, e store.Event) {
	pool, u := e.Pool, e.User
	switch e.Op {
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
		r, ok, err := k.reader.RevokedUser(ctx, pool, u)
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
	k.remark(ctx)
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
