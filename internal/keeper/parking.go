package keeper

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/username"
)

// Parking groups and the epoch (DESIGN §2.10). Redis holds everything
// floatseat can rebuild, plus one thing it cannot: which groups to give back
// to whom. Its durable copy lives in the directory: a user floatseat took
// licence group G from is a member of the parking group prefix+G. A revoke
// parks, then removes; a grant adds, then unparks; the intent in Redis
// covers the gap. A user in prefix+G who also holds G is a grant or revoke
// half-way and counts as licensed.
//
// The epoch key says whether Redis still holds its data. When it is gone,
// the revoked view is rebuilt from the parking groups before any grant,
// revoke or denial.

// ParkingGroup names the parking group of licence group g.
func ParkingGroup(prefix, g string) string { return prefix + g }

// park adds u to the parking group of each of groups. It runs before the
// groups are removed: a failure stops the revocation (fail closed).
func (k *Keeper) park(ctx context.Context, u string, groups []string) error {
	if k.opt.ParkingPrefix == "" {
		return nil
	}
	for _, g := range groups {
		p := ParkingGroup(k.opt.ParkingPrefix, g)
		if err := k.opt.Dir.AddMember(ctx, u, p); err != nil {
			return fmt.Errorf("park %s in %s: %w", u, p, err)
		}
	}
	return nil
}

// unpark removes u from the parking groups of groups, after u holds them
// again. A failure leaves u parked and licensed, which a rebuild reads as
// licensed; it is logged, not returned.
func (k *Keeper) unpark(ctx context.Context, u string, groups []string) {
	if k.opt.ParkingPrefix == "" {
		return
	}
	for _, g := range groups {
		p := ParkingGroup(k.opt.ParkingPrefix, g)
		if err := k.opt.Dir.RemoveMember(ctx, u, p); err != nil && !errors.Is(err, directory.ErrGroupNotFound) {
			k.opt.Log.Warn("cannot unpark a user who holds the group again; a restore or the next grant retries",
				"user", u, "group", p, "err", err)
		}
	}
}

// removeRolledBack takes back the groups of a grant the app did not
// confirm. A pool-group member was never licensed: nothing to park. A
// revoked user is parked again, but a parking failure does not keep the
// seat for an unconfirmed claim: the record in Redis still says what to
// give back.
func (k *Keeper) removeRolledBack(ctx context.Context, in store.Intent) error {
	if in.Reason != "pool-group" {
		if err := k.park(ctx, in.User, in.Groups); err != nil {
			k.opt.Log.Warn("rollback: cannot park the user again; the record in Redis alone says what to give back",
				"user", in.User, "err", err)
		}
	}
	return k.removeUnparked(ctx, in.Pool, in.User, in.Groups)
}

// epochGuard knows which Redis epoch the revoked view belongs to, and
// lets one rebuild or reload run at a time. Of Redis it reads the epoch
// only.
type epochGuard struct {
	epochs Epochs
	mu     sync.Mutex
	known  string
	busy   chan struct{}
}

func newEpochGuard(e Epochs) *epochGuard {
	return &epochGuard{epochs: e, busy: make(chan struct{}, 1)}
}

func (g *epochGuard) current() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.known
}

// ensure makes sure the view belongs to the data Redis holds now. Same
// epoch: nothing to do (one GET). Another epoch: another replica rebuilt,
// or this is the first look; reload from Redis. No epoch: Redis lost its
// data; rebuild (which returns the epoch it set) first. An error means no
// seat decision may be taken now.
func (g *epochGuard) ensure(ctx context.Context, rebuild func(context.Context) (string, error), reload func(context.Context) error) error {
	id, err := g.epochs.Epoch(ctx)
	if err != nil {
		return err
	}
	if id != "" && id == g.current() {
		return nil
	}
	select {
	case g.busy <- struct{}{}:
		defer func() { <-g.busy }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if id, err = g.epochs.Epoch(ctx); err != nil { // someone may have finished meanwhile
		return err
	}
	switch {
	case id != "" && id == g.current():
		return nil
	case id == "":
		if id, err = rebuild(ctx); err != nil {
			return err
		}
	}
	if err := reload(ctx); err != nil {
		return err
	}
	g.mu.Lock()
	g.known = id
	g.mu.Unlock()
	return nil
}

// ensureEpoch makes sure the in-process view belongs to the data Redis
// holds now (epochGuard.ensure): rebuilt from the parking groups if Redis
// lost it, reloaded if another replica rebuilt it.
func (k *Keeper) ensureEpoch(ctx context.Context) error {
	return k.epoch.ensure(ctx, k.rebuild, k.reload)
}

// reload reads every record again: the change log does not carry what a
// rebuild wrote, and a view from before the loss is not to be trusted.
func (k *Keeper) reload(ctx context.Context) error {
	k.logMu.Lock()
	k.logID = ""
	k.logMu.Unlock()
	return k.loadRevoked(ctx)
}

// rebuild writes a revoked record for every parked user who does not hold
// the licence group, then sets a new epoch, and returns the epoch in force.
func (k *Keeper) rebuild(ctx context.Context) (string, error) {
	start := time.Now()
	now := k.opt.Clock()
	parked, written := 0, 0
	for name, p := range k.pools {
		recs, err := k.parked(ctx, p, now)
		if err != nil {
			return "", fmt.Errorf("rebuild the revoked view of %s from the parking groups: %w", name, err)
		}
		n, err := k.epochs.RebuildRevoked(ctx, name, recs)
		if err != nil {
			return "", err
		}
		parked += len(recs)
		written += n
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id, err := k.epochs.SetEpoch(ctx, hex.EncodeToString(b))
	if err != nil {
		return "", err
	}
	k.rebuilds.Inc()
	log := k.opt.Log.Info
	if parked > 0 {
		log = k.opt.Log.Warn
	}
	log("Redis had no epoch (first start, or it lost its data): revoked view rebuilt from the parking groups",
		"parked", parked, "written", written, "duration", time.Since(start).Round(time.Millisecond),
		"parking_prefix", k.opt.ParkingPrefix)
	if k.opt.ParkingPrefix == "" {
		k.opt.Log.Warn("no parking prefix: users revoked before Redis lost its data cannot be found")
	}
	return id, nil
}

// parked reads the parking groups of one pool: user → the groups to give
// back. A missing parking group parks nobody.
func (k *Keeper) parked(ctx context.Context, p *Pool, now time.Time) (map[string]store.Revoked, error) {
	recs := map[string]store.Revoked{}
	if k.opt.ParkingPrefix == "" {
		return recs, nil
	}
	for _, g := range p.LicenseGroups {
		in, err := k.opt.Dir.Members(ctx, ParkingGroup(k.opt.ParkingPrefix, g), false)
		if errors.Is(err, directory.ErrGroupNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(in) == 0 {
			continue
		}
		holders, err := k.opt.Dir.Members(ctx, g, false)
		if err != nil && !errors.Is(err, directory.ErrGroupNotFound) {
			return nil, err
		}
		holds := make(map[string]bool, len(holders))
		for _, u := range holders {
			holds[username.Normalize(u)] = true
		}
		for _, u := range in {
			nu := username.Normalize(u)
			if holds[nu] {
				continue // half-way through a grant or a revoke: licensed
			}
			r := recs[nu]
			r.Groups = append(r.Groups, g)
			r.At, r.Reason = now, "rebuilt"
			recs[nu] = r
		}
	}
	return recs, nil
}

// ParkingGroups lists the parking group of each licence group, once each
// (names compare case-insensitively, as the directories do).
func ParkingGroups(prefix string, licenceGroups []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range licenceGroups {
		pg := ParkingGroup(prefix, g)
		if k := username.Normalize(pg); !seen[k] {
			seen[k] = true
			out = append(out, pg)
		}
	}
	return out
}

// ParkingState is what a check found of one parking group.
type ParkingState struct {
	Group    string
	Exists   bool
	Created  bool
	Writable string // "yes", or why it is not known / not so
	Err      error  // a problem: revocations of its pool are refused
}

// EnsureParking makes sure every parking group exists, creating it where
// the backend can, and probes that it can be written: removing probe (a
// user who is no member, the service account) is a write the directory
// checks rights for and that changes nothing. An empty probe skips that.
func EnsureParking(ctx context.Context, dir directory.Directory, groups []string, probe string) []ParkingState {
	var out []ParkingState
	for _, g := range groups {
		st := ParkingState{Group: g, Writable: "not checked"}
		_, err := dir.Members(ctx, g, false)
		if errors.Is(err, directory.ErrGroupNotFound) {
			err = directory.CreateGroup(ctx, dir, g)
			switch {
			case errors.Is(err, directory.ErrNotSupported):
				err = fmt.Errorf("parking group %s is missing and this directory cannot create it: create it by hand (an empty group next to the licence group); until then revocations of its pool are refused", g)
			case err != nil:
				err = fmt.Errorf("parking group %s is missing and could not be created: %w", g, err)
			default:
				st.Created = true
			}
		} else if err != nil {
			err = fmt.Errorf("parking group %s cannot be read: %w", g, err)
		}
		if err != nil {
			st.Err = err
			out = append(out, st)
			continue
		}
		st.Exists = true
		if probe == "" {
			st.Writable = "not checked (no app.user to probe with)"
			out = append(out, st)
			continue
		}
		switch err := dir.RemoveMember(ctx, probe, g); {
		case err == nil:
			st.Writable = "yes"
		case errors.Is(err, directory.ErrUserNotFound):
			st.Writable = fmt.Sprintf("not checked (the probe user %s is not in this directory)", probe)
		default:
			st.Err = fmt.Errorf("parking group %s cannot be written: %w", g, err)
		}
		out = append(out, st)
	}
	return out
}
