package keeper

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/username"
)

// Restored is one user given back their groups by Restore.
type Restored struct {
	User string
	// Pools maps each pool to the groups given back.
	Pools map[string][]string
	// Err is why some of them could not be (the user stays parked there).
	Err error
}

// RestoreReport is what Restore did.
type RestoreReport struct {
	Users []Restored
	// RedisErr is set when Redis could not be read or written: the
	// parking groups alone said who to restore, and records left in Redis
	// are dropped by reconcile once it sees the users licensed again.
	RedisErr error
}

// Restore is the way out (DESIGN §2.10): it gives the named users (every
// parked or recorded user with all) their groups back, unparks them and
// clears their revoked records. It needs only the directory: what Redis
// knows is added when Redis answers. It ignores seat counts, as an admin's
// explicit act; dryRun reports without changing anything.
func (k *Keeper) Restore(ctx context.Context, users []string, all, dryRun bool) (RestoreReport, error) {
	var rep RestoreReport
	want := map[string]bool{}
	for _, u := range users {
		want[username.Normalize(u)] = true
	}
	plan := map[string]map[string][]string{} // user → pool → groups
	add := func(u, pool string, groups ...string) {
		if !all && !want[u] {
			return
		}
		if plan[u] == nil {
			plan[u] = map[string][]string{}
		}
		for _, g := range groups {
			if !slices.ContainsFunc(plan[u][pool], func(h string) bool { return strings.EqualFold(h, g) }) {
				plan[u][pool] = append(plan[u][pool], g)
			}
		}
	}
	for name, p := range k.pools {
		for _, g := range p.LicenseGroups {
			if k.opt.ParkingPrefix == "" {
				break
			}
			parked, err := k.opt.Dir.Members(ctx, ParkingGroup(k.opt.ParkingPrefix, g), false)
			if errors.Is(err, directory.ErrGroupNotFound) {
				continue
			}
			if err != nil {
				return rep, fmt.Errorf("read parking group of %s: %w", g, err)
			}
			for _, u := range parked {
				add(username.Normalize(u), name, g)
			}
		}
	}
redis:
	for name := range k.pools {
		for cursor := uint64(0); ; {
			var err error
			cursor, err = k.reader.ScanRevoked(ctx, name, cursor, 1000, func(u string, r store.Revoked) {
				add(u, name, r.Groups...)
			})
			if err != nil {
				rep.RedisErr = err
				break redis
			}
			if cursor == 0 {
				break
			}
		}
	}
	names := make([]string, 0, len(plan))
	for u := range plan {
		names = append(names, u)
	}
	slices.Sort(names)
	for _, u := range names {
		r := Restored{User: u, Pools: plan[u]}
		if !dryRun {
			r.Err = k.restoreUser(ctx, u, plan[u], &rep)
		}
		rep.Users = append(rep.Users, r)
	}
	return rep, nil
}

func (k *Keeper) restoreUser(ctx context.Context, u string, pools map[string][]string, rep *RestoreReport) error {
	var errs []error
	for pool, groups := range pools {
		if err := k.restore(ctx, u, groups); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pool, err))
			continue
		}
		k.opt.Members.Added(u, groups...)
		if rep.RedisErr != nil {
			continue
		}
		if err := k.records.CompleteGrant(ctx, pool, u); err != nil {
			rep.RedisErr = err
			continue
		}
		k.opt.Audit.Record(ctx, audit.Event{Action: audit.Grant, User: u, Pool: pool, Groups: groups,
			Reason: "restore", Trigger: "cli"})
	}
	return errors.Join(errs...)
}
