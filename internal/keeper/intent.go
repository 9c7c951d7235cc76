package keeper

// Finishing or undoing a directory change an intent says was under way (a crash, a lost request).

import (
	"context"
	"fmt"
	"strings"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/store"
)

func (k *Keeper) reconcileIntent(ctx context.Context, in store.Intent) error {
	switch in.Op {
	case "revoke":
		// Still idle? Complete the revocation; active since? Undo it.
		last, err := k.activity.PoolActivity(ctx, in.Pool, []string{in.User})
		if err != nil {
			return err
		}
		if t, ok := last[in.User]; ok && t.After(in.At) {
			if err := k.restore(ctx, in.User, in.Groups); err != nil {
				return fmt.Errorf("reconcile revoke of %s: %w", in.User, err)
			}
			return k.intents.DropIntent(ctx, "revoke", in.Pool, in.User)
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
		if err := k.records.CompleteGrant(ctx, in.Pool, in.User); err != nil {
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
