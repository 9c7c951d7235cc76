package reaper

// One pool's run: its users and seats, the plan, and the revocations.

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/floatseat/floatseat/internal/keeper"
	"github.com/floatseat/floatseat/internal/seats"
	"github.com/floatseat/floatseat/internal/store"
)

// runPool judges one pool and revokes what the policy says: read the
// pool's users and seats, plan, publish the estimate and the figures,
// revoke, then record the run's chart point.
func (r *Reaper) runPool(ctx context.Context, now time.Time, p Pool, obs time.Time, alive bool,
	excluded map[string]bool, fresh bool) (PoolReport, error) {
	users, obs, err := r.poolUsers(ctx, p, obs, excluded)
	if err != nil {
		return PoolReport{}, err
	}
	pool, users, err := r.poolSeats(ctx, p, users)
	if err != nil {
		return PoolReport{}, err
	}
	prm := seats.Params{Floor: r.opt.Floor, Ceiling: r.opt.Ceiling, ObservationStart: obs,
		MaxRevocations: r.opt.MaxRevocations, HeartbeatAlive: alive, Observe: r.opt.Observe,
		Interval: r.opt.Interval}
	plan := seats.Plan(now, pool, users, prm)
	if !fresh && plan.Skipped == seats.SkippedNoHeartbeat {
		plan.Skipped = SkippedStaleMembership
	}
	rep := r.report(p.Name, now, pool, users, plan)
	r.noteNextFree(ctx, p.Name, now, users, prm, plan.Counts)
	if plan.Skipped != "" {
		r.opt.Log.Info("reaper revokes nobody", "pool", p.Name, "why", plan.Skipped)
	}
	if err := r.revoke(ctx, p.Name, plan.Revocations, &rep); err != nil {
		return rep, err // fail closed: stop this pool's run
	}
	// One chart point a run for the status page (kept 24 h); an unlimited
	// or not-yet-counted pool has no headroom worth drawing.
	if !pool.Unlimited {
		_ = r.samples.AddSample(ctx, p.Name, store.Sample{At: now, Headroom: rep.Headroom, Licensed: rep.Licensed}, 24*time.Hour)
	}
	if r.opt.OnHeadroom != nil {
		r.opt.OnHeadroom(p.Name, rep.Headroom)
	}
	r.opt.Log.Info("reaper run", "pool", p.Name, "licensed", rep.Licensed, "active", rep.Active, "idle", rep.Idle,
		"excluded", rep.Excluded, "revoked", len(rep.Revoked), "effective_window", plan.EffectiveWindow)
	return rep, nil
}

// poolUsers are the pool's licence-group members, sorted, with their last
// activity in the pool, and the observation start that applies to it.
// Idleness is per pool (DESIGN §2.11): Software work keeps no agent seat. A
// pool whose own records started later (an upgrade) is measured from then.
func (r *Reaper) poolUsers(ctx context.Context, p Pool, obs time.Time, excluded map[string]bool) ([]seats.User, time.Time, error) {
	members, _ := r.opt.Members.Members(p.LicenseGroups...)
	names := make([]string, 0, len(members))
	for u := range members {
		names = append(names, u)
	}
	sort.Strings(names)
	last, err := r.activity.PoolActivity(ctx, p.Name, names)
	if err != nil {
		return nil, obs, err
	}
	if since, err := r.activity.PoolObservedSince(ctx, p.Name); err != nil {
		return nil, obs, err
	} else if since.After(obs) {
		obs = since
	}
	users := make([]seats.User, len(names))
	for i, u := range names {
		users[i] = seats.User{Name: u, LastActive: last[u], Excluded: excluded[u]}
	}
	return users, obs, nil
}

// poolSeats is the pool's seat state as the policy reads it. In observe
// mode it simulates: who enforce mode would have revoked is gone from
// users, and their seats count as freed, as they would. A pool with no
// seat count from the app yet is judged as unlimited: pressure cannot be
// judged, so only the ceiling applies.
func (r *Reaper) poolSeats(ctx context.Context, p Pool, users []seats.User) (seats.Pool, []seats.User, error) {
	nSeats, used, pending, unlimited, reportedAt, err := r.state.PoolState(ctx, p.Name)
	if err != nil {
		return seats.Pool{}, users, err
	}
	pendingRev, err := r.state.PendingRevocations(ctx, p.Name)
	if err != nil {
		return seats.Pool{}, users, err
	}
	if r.opt.Observe && r.opt.Virtual != nil {
		vr, err := r.opt.Virtual.ObserveRevoked(ctx, p.Name)
		if err != nil {
			return seats.Pool{}, users, err
		}
		users = slices.DeleteFunc(users, func(u seats.User) bool { _, ok := vr[u.Name]; return ok })
		pendingRev += len(vr)
		if !reportedAt.IsZero() && !unlimited {
			_ = r.opt.Virtual.ObserveNote(ctx, p.Name, "peak_needed", used+pending-len(vr))
		}
	}
	pool := seats.Pool{Name: p.Name, Seats: nSeats, Unlimited: unlimited, Used: used,
		PendingGrants: pending, PendingRevocations: pendingRev, Reserve: p.Reserve}
	if reportedAt.IsZero() {
		pool.Unlimited = true // reserve 0, seats unlimited
	}
	return pool, users, nil
}

// report is what the run saw of the pool, also set as the pool's gauges.
func (r *Reaper) report(name string, now time.Time, pool seats.Pool, users []seats.User, plan seats.Decision) PoolReport {
	rep := PoolReport{Pool: name, Licensed: len(users), Active: plan.Counts.Active, Idle: plan.Counts.Idle,
		Excluded: plan.Counts.Excluded, Headroom: seats.Headroom(pool), EffectiveWindow: plan.EffectiveWindow,
		Skipped: plan.Skipped, Users: users, PoolState: pool}
	rep.EffectiveWindow = r.effectiveWindow(name, now, plan)
	r.window.WithLabelValues(name).Set(rep.EffectiveWindow.Seconds())
	r.licensed.WithLabelValues(name, "active").Set(float64(plan.Counts.Active))
	r.licensed.WithLabelValues(name, "idle").Set(float64(plan.Counts.Idle))
	r.licensed.WithLabelValues(name, "excluded").Set(float64(plan.Counts.Excluded))
	return rep
}

// noteNextFree leaves the keeper's denials their Retry-After: when the
// first holder passes the floor, or never when every holder is excluded
// (no seat frees by itself).
func (r *Reaper) noteNextFree(ctx context.Context, pool string, now time.Time, users []seats.User, prm seats.Params, c seats.Counts) {
	if c.Active+c.Idle == 0 && c.Excluded > 0 {
		_ = r.free.SetNextFree(ctx, pool, time.Time{}, true)
	} else if next := seats.RetryAfter(now, users, prm); next > 0 && c.Active+c.Idle > 0 {
		_ = r.free.SetNextFree(ctx, pool, now.Add(next), false)
	}
}

// revoke carries out the plan's revocations through the keeper, which
// checks the floor and the lock again right before each directory change.
// A refusal (active since, no licence group held) skips that user; any
// other error stops the pool's run (fail closed).
func (r *Reaper) revoke(ctx context.Context, pool string, plan []seats.Revocation, rep *PoolReport) error {
	for _, rv := range plan {
		err := r.opt.Keeper.Revoke(ctx, keeper.RevokeRequest{
			Pool: pool, User: rv.User, Reason: rv.Reason, Trigger: "reaper", Idle: rv.Idle,
			Allowed: r.stillHeld,
		})
		switch {
		case err == nil:
			rep.Revoked = append(rep.Revoked, rv.User)
		case errors.Is(err, keeper.ErrActive), errors.Is(err, keeper.ErrNotLicensed):
			r.opt.Log.Info("not revoked", "user", rv.User, "pool", pool, "why", err)
		default:
			return err
		}
	}
	return nil
}
