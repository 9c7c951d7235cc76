package keeper

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/floatseat/floatseat/internal/store"
)

// poolRecord is what floatseat must give back to a user in one pool.
type poolRecord struct {
	pool string
	rec  store.Revoked
}

// userRecords are one user's revoked records, one per pool. A slice, not a
// map: a one-entry Go map costs about 650 bytes, and at 90,000 revoked
// users the view is a replica's largest structure.
type userRecords []poolRecord

func (rs userRecords) get(pool string) (store.Revoked, bool) {
	for _, r := range rs {
		if r.pool == pool {
			return r.rec, true
		}
	}
	return store.Revoked{}, false
}

// with returns rs with pool's record set to rec (in place if present).
func (rs userRecords) with(pool string, rec store.Revoked) userRecords {
	for i := range rs {
		if rs[i].pool == pool {
			rs[i].rec = rec
			return rs
		}
	}
	return append(slices.Clip(rs), poolRecord{pool: pool, rec: rec})
}

func (rs userRecords) without(pool string) userRecords {
	for i := range rs {
		if rs[i].pool == pool {
			return slices.Delete(slices.Clone(rs), i, i+1)
		}
	}
	return rs
}

// interner shares identical group lists and reasons between records:
// tens of thousands of records name the same two or three groups.
type interner struct {
	mu     sync.Mutex
	groups map[string][]string
	strs   map[string]string
}

func (in *interner) record(r store.Revoked) store.Revoked {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.groups == nil {
		in.groups, in.strs = map[string][]string{}, map[string]string{}
	}
	k := strings.Join(r.Groups, "\x00")
	g, ok := in.groups[k]
	if !ok {
		g = slices.Clip(slices.Clone(r.Groups))
		in.groups[k] = g
	}
	r.Groups = g
	if s, ok := in.strs[r.Reason]; ok {
		r.Reason = s
	} else {
		in.strs[r.Reason] = r.Reason
	}
	return r
}

// logCatchUpLimit: a reader that caught up longer ago than this reads the
// records in full; the log keeps store.RevokedLogKeep. Real time, not the
// keeper's clock: the log's IDs are Redis's own clock.
const logCatchUpLimit = store.RevokedLogKeep / 2

// loadRevoked keeps the revoked view current: the changes logged since the
// last call, or, the first time and after a gap, every record in chunks.
func (k *Keeper) loadRevoked(ctx context.Context) error {
	k.logMu.Lock()
	defer k.logMu.Unlock()
	if k.logID == "" || time.Since(k.caughtUp) > logCatchUpLimit {
		if err := k.fullLoad(ctx); err != nil {
			return err
		}
	}
	return k.catchUp(ctx)
}

// fullLoad reads every record, a chunk at a time, and notes the log's
// position first so that changes made meanwhile are applied after.
func (k *Keeper) fullLoad(ctx context.Context) error {
	last, err := k.changes.RevokedLogLast(ctx)
	if err != nil {
		return err
	}
	fresh := make(map[string]userRecords, len(k.revoked))
	for name := range k.pools {
		cursor := uint64(0)
		for {
			cursor, err = k.reader.ScanRevoked(ctx, name, cursor, 1000, func(u string, r store.Revoked) {
				fresh[u] = fresh[u].with(name, k.intern.record(r))
			})
			if err != nil {
				return err
			}
			if cursor == 0 {
				break
			}
		}
	}
	k.mu.Lock()
	k.revoked = fresh
	k.mu.Unlock()
	k.logID, k.caughtUp = last, time.Now()
	return nil
}

// catchUp applies the logged changes after logID.
func (k *Keeper) catchUp(ctx context.Context) error {
	start := time.Now()
	for {
		cs, err := k.changes.RevokedChanges(ctx, k.logID, 1000)
		if err != nil {
			return err
		}
		for _, c := range cs {
			k.apply(ctx, store.Event{Op: c.Op, Pool: c.Pool, User: c.User})
			k.logID = c.ID
		}
		if len(cs) < 1000 {
			break
		}
	}
	k.caughtUp = start
	return nil
}
