package keeper

import (
	"context"
	"time"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/proxy"
)

// VirtualSet is observe mode's virtual revoked set in Redis (DESIGN
// §2.12), kept apart from the real one.
type VirtualSet interface {
	ObserveRevoke(ctx context.Context, pool, user string, at time.Time) (bool, error)
	ObserveReturn(ctx context.Context, pool, user string) (bool, error)
	ObserveRevoked(ctx context.Context, pool string) (map[string]time.Time, error)
}

// VirtualTally is what observe mode reads and notes to tell a would-deny:
// the pool's seat state, and the figure it counts.
type VirtualTally interface {
	PoolState(ctx context.Context, pool string) (seats, used, pending int, unlimited bool, reportedAt time.Time, err error)
	ObserveNote(ctx context.Context, pool, figure string, n int) error
}

// Virtual is both, as Options take it; *store.Store is one.
type Virtual interface {
	VirtualSet
	VirtualTally
}

var _ Virtual = (*store.Store)(nil)

// observeRevoke is Revoke in observe mode: the user joins the virtual
// revoked set, and only the first time (per idle spell) is it audited.
func (k *Keeper) observeRevoke(ctx context.Context, ev audit.Event) error {
	ev.Mode = "observe"
	if k.vset == nil {
		k.opt.Audit.Record(ctx, ev)
		return nil
	}
	first, err := k.vset.ObserveRevoke(ctx, ev.Pool, ev.User, k.opt.Clock())
	if err != nil {
		return err
	}
	k.mu.Lock()
	if k.virtual[ev.User] == nil {
		k.virtual[ev.User] = map[string]bool{}
	}
	k.virtual[ev.User][ev.Pool] = true
	k.mu.Unlock()
	if first {
		k.opt.Audit.Record(ctx, ev)
	}
	return nil
}

// observeEnsure is Ensure in observe mode for a user in the virtual
// revoked set: a request that enforce mode would have granted a seat for
// (one that needs the pool) is audited as a would-grant (with its route), or, when enforce mode
// would have had no seat to give, as a would-deny (the full page). The
// request itself is always forwarded unchanged.
func (k *Keeper) observeEnsure(ctx context.Context, u string, pools map[string]bool, id identity.Identity, need uint64) proxy.Verdict {
	reason := "return"
	if id.Route != identity.RouteNone || id.Source == identity.SourceBasic {
		reason = "login"
	}
	for pool := range pools {
		if k.bits[pool]&need == 0 {
			continue // this request would not have given that seat back (DESIGN §2.11)
		}
		n, used, pending, unlimited, _, err := k.tally.PoolState(ctx, pool)
		if err != nil {
			continue // fail open: nothing changes in observe mode anyway
		}
		vr, err := k.vset.ObserveRevoked(ctx, pool)
		if err != nil {
			continue
		}
		if _, ok := vr[u]; !ok {
			k.forgetVirtual(u, pool) // another replica saw the return first
			continue
		}
		// Enforce mode would hold used − |virtual| seats now.
		if !unlimited && n > 0 && n-pending-(used-len(vr)) <= 0 {
			k.mu.Lock()
			audited := k.opt.Clock().Sub(k.denied[u]) >= time.Minute
			if audited {
				k.denied[u] = k.opt.Clock()
			}
			k.mu.Unlock()
			if audited {
				_ = k.tally.ObserveNote(ctx, pool, "would_deny", 1)
				k.opt.Audit.Record(ctx, audit.Event{Action: audit.Deny, User: u, Pool: pool, Reason: "full",
					Trigger: trigger(id), Mode: "observe"})
			}
			continue
		}
		won, err := k.vset.ObserveReturn(ctx, pool, u)
		if err != nil {
			continue
		}
		k.forgetVirtual(u, pool)
		if won {
			k.opt.Audit.Record(ctx, audit.Event{Action: audit.Grant, User: u, Pool: pool,
				Groups: k.pools[pool].LicenseGroups, Reason: reason, Trigger: trigger(id), Mode: "observe"})
		}
	}
	return proxy.Verdict{}
}

func (k *Keeper) forgetVirtual(u, pool string) {
	k.mu.Lock()
	delete(k.virtual[u], pool)
	if len(k.virtual[u]) == 0 {
		delete(k.virtual, u)
	}
	k.mu.Unlock()
}

// resyncVirtual reloads the virtual revoked set, so every replica audits
// the returns of users another replica's reaper would have revoked.
func (k *Keeper) resyncVirtual(ctx context.Context) {
	if !k.opt.Observe || k.vset == nil {
		return
	}
	fresh := map[string]map[string]bool{}
	for name := range k.pools {
		vr, err := k.vset.ObserveRevoked(ctx, name)
		if err != nil {
			k.opt.Log.Warn("cannot read observe mode's virtual revoked set; keeping the last view", "pool", name, "err", err)
			return
		}
		for u := range vr {
			if fresh[u] == nil {
				fresh[u] = map[string]bool{}
			}
			fresh[u][name] = true
		}
	}
	k.mu.Lock()
	k.virtual = fresh
	k.mu.Unlock()
}
