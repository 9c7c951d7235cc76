package keeper

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/store"
)

// Reconcile completes or undoes intents left by a crash, and drops revoked
// records of users an admin put back by hand (drift). It is idempotent: run
// at start and by every reaper run.
//
// It costs the directory O(changes), not O(records): the membership view
// names the records whose user holds a licence group again (each confirmed
// with one read of the user's direct groups), and a sweep of at most
// ReconcileBatch further records, resumed where the last pass stopped,
// checks the rest over successive runs (a user deleted from the directory,
// drift the view missed). allowed is called as it goes (the reaper renews
// its lock there); when it reports false the pass stops.
func (k *Keeper) Reconcile(ctx context.Context, allowed func(context.Context) bool) error {
	if err := k.ensureEpoch(ctx); err != nil {
		return err
	}
	k.remark(ctx)
	ins, err := k.intents.Intents(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range ins {
		if err := k.reconcileIntent(ctx, in); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		errs = []error{summarise("intents", len(ins), errs)}
	}
	if err := k.reconcileRecords(ctx, allowed, len(ins)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// recordRef is one revoked record: a user of one pool.
type recordRef struct {
	user, pool string
	rec        store.Revoked
}

func (r recordRef) compare(user, pool string) int {
	if c := strings.Compare(r.user, user); c != 0 {
		return c
	}
	return strings.Compare(r.pool, pool)
}

// toCheck picks this pass's records: the view's candidates first, then the
// sweep from the cursor on, ReconcileBatch in all.
func (k *Keeper) toCheck() []recordRef {
	k.mu.RLock()
	all := make([]recordRef, 0, len(k.revoked))
	for u, rs := range k.revoked {
		for _, r := range rs {
			all = append(all, recordRef{u, r.pool, r.rec})
		}
	}
	k.mu.RUnlock()
	slices.SortFunc(all, func(a, b recordRef) int { return a.compare(b.user, b.pool) })
	budget := k.opt.ReconcileBatch
	picked := make(map[int]bool, budget)
	var out []recordRef
	if k.opt.Members.Fresh() {
		for i, r := range all {
			if len(out) >= budget {
				break
			}
			pool := k.pools[r.pool]
			if pool != nil && (k.opt.Members.IsMember(r.user, pool.LicenseGroups...) || k.opt.Members.IsMember(r.user, r.rec.Groups...)) {
				out = append(out, r)
				picked[i] = true
			}
		}
	}
	k.sweepMu.Lock()
	defer k.sweepMu.Unlock()
	start, _ := slices.BinarySearchFunc(all, k.sweep, func(r recordRef, cursor recordRef) int {
		if r.compare(cursor.user, cursor.pool) <= 0 {
			return -1
		}
		return 1
	})
	for i := 0; i < len(all) && len(out) < budget; i++ {
		j := (start + i) % len(all)
		if !picked[j] {
			out = append(out, all[j])
			picked[j] = true
		}
		k.sweep = recordRef{user: all[j].user, pool: all[j].pool}
	}
	return out
}

func (k *Keeper) reconcileRecords(ctx context.Context, allowed func(context.Context) bool, repaired int) error {
	start := time.Now()
	check := k.toCheck()
	var errs []error
	checked := 0
	for i, r := range check {
		if i%50 == 49 && allowed != nil && !allowed(ctx) {
			errs = append(errs, fmt.Errorf("reconcile stopped after %d of %d records: no longer allowed (reaper lock lost)", i, len(check)))
			break
		}
		checked++
		held, err := k.opt.Dir.UserGroups(ctx, r.user, false)
		if errors.Is(err, directory.ErrUserNotFound) {
			// Deleted from the directory: nothing to give back, ever.
			if err := k.records.CompleteGrant(ctx, r.pool, r.user); err != nil {
				errs = append(errs, err)
				continue
			}
			k.mu.Lock()
			k.forgetLocked(r.user, r.pool)
			k.mu.Unlock()
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pool := k.pools[r.pool]
		if pool == nil {
			continue
		}
		if holdsAny(held, r.rec.Groups) || holdsAny(held, pool.LicenseGroups) {
			// Before repairing anything, make sure the record still is
			// in Redis: the view may be behind a grant made on another
			// replica (its event not heard yet), and that grant is no
			// drift to audit or complete.
			_, ok, err := k.reader.RevokedUser(ctx, r.pool, r.user)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !ok {
				k.mu.Lock()
				k.forgetLocked(r.user, r.pool)
				k.mu.Unlock()
				k.opt.Members.Added(r.user, heldOf(held, r.rec.Groups)...)
				continue
			}
		}
		if missing := missingOf(held, r.rec.Groups); holdsAny(held, r.rec.Groups) && len(missing) > 0 {
			// A partial grant (g1 added, g2 failed, then a crash): give
			// the rest back rather than forget it.
			if err := k.completePartial(ctx, r, missing); err != nil {
				errs = append(errs, err)
				continue
			}
			repaired++
			continue
		}
		if holdsAny(held, r.rec.Groups) || holdsAny(held, pool.LicenseGroups) {
			// Someone gave the seat back outside floatseat: the user is
			// licensed, so the record must go, or a grant would be
			// attempted again and again.
			if err := k.records.CompleteGrant(ctx, r.pool, r.user); err != nil {
				errs = append(errs, err)
				continue
			}
			k.unpark(ctx, r.user, heldOf(held, r.rec.Groups))
			k.mu.Lock()
			k.forgetLocked(r.user, r.pool)
			k.mu.Unlock()
			k.opt.Audit.Record(ctx, audit.Event{Action: audit.Grant, User: r.user, Pool: r.pool, Groups: r.rec.Groups,
				Reason: "drift", Trigger: "reconcile"})
			repaired++
		}
	}
	if checked > 0 || repaired > 0 {
		k.opt.Log.Info("reconcile done", "checked", checked, "repaired", repaired,
			"duration", time.Since(start).Round(time.Millisecond), "errors", len(errs))
	}
	if len(errs) == 0 {
		return nil
	}
	return summarise("revoked records", checked, errs)
}

// completePartial restores the groups a partial grant missed, with an
// intent first, then drops the record.
func (k *Keeper) completePartial(ctx context.Context, r recordRef, missing []string) error {
	in := store.Intent{Op: "grant", User: r.user, Pool: r.pool, Groups: r.rec.Groups, Reason: "partial", At: k.opt.Clock()}
	if err := k.intents.RecordIntent(ctx, in); err != nil {
		return err
	}
	if err := k.restore(ctx, r.user, missing); err != nil {
		return fmt.Errorf("reconcile partial grant of %s: %w", r.user, err)
	}
	if err := k.records.CompleteGrant(ctx, r.pool, r.user); err != nil {
		return err
	}
	k.mu.Lock()
	k.forgetLocked(r.user, r.pool)
	k.mu.Unlock()
	k.opt.Audit.Record(ctx, audit.Event{Action: audit.Grant, User: r.user, Pool: r.pool, Groups: missing,
		Reason: "partial", Trigger: "reconcile"})
	return nil
}

// missingOf lists the groups of want not in held.
func missingOf(held, want []string) []string {
	var out []string
	for _, g := range want {
		if !holdsAny(held, []string{g}) {
			out = append(out, g)
		}
	}
	return out
}

// summarise keeps an error log line short however many records failed:
// the count and the first few.
func summarise(what string, of int, errs []error) error {
	const keep = 3
	if len(errs) <= keep {
		return fmt.Errorf("%s: %w", what, errors.Join(errs...))
	}
	return fmt.Errorf("%s: %d of %d failed, first %d: %w", what, len(errs), of, keep, errors.Join(errs[:keep]...))
}
