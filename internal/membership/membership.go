// Package membership is floatseat's one reader of group membership: the
// nested members of groups, normalised, with groups the directory does not
// know skipped; the one exclusion set (exclude.users, the service account
// and the nested members of exclude.groups); and the View that the reaper,
// the keeper and the admin read model share.
//
// The View reads every group it watches in full on a slow interval
// (directory.membership_refresh, minutes) and is kept current in between by
// floatseat's own grants and revocations, so in steady state the directory
// sees calls in proportion to changes, not to members. A refresh that fails
// keeps the last good view and marks it stale: a stale view still serves
// grants and reads, but Fresh reports false and the reaper revokes nobody
// until a refresh succeeds.
package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/username"
)

// Lister is the part of a directory the reader needs.
type Lister interface {
	Members(ctx context.Context, group string, nested bool) ([]string, error)
}

// MembersOf is the union of the nested members of groups, normalised.
// Groups the directory does not know are skipped (a typo in the config must
// not stop the reaper); any other failure is returned.
func MembersOf(ctx context.Context, d Lister, groups []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, g := range groups {
		ms, err := d.Members(ctx, g, true)
		if errors.Is(err, directory.ErrGroupNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("members of %s: %w", g, err)
		}
		for _, m := range ms {
			out[username.Normalize(m)] = true
		}
	}
	return out, nil
}

// Exclusions says who is never revoked (DESIGN §2.5).
type Exclusions struct {
	Groups []string // nested members of these are excluded
	Users  []string // exclude.users
	// ServiceAccount is app.user: floatseat's own account is never
	// revoked, and is listed as excluded wherever users are listed.
	ServiceAccount string
}

// Fixed is the part of the set that needs no directory: exclude.users and
// the service account, normalised. Replay, which reads no directory, uses
// it; the View adds the members of the groups.
func (e Exclusions) Fixed() map[string]bool {
	m := map[string]bool{}
	for _, u := range e.users() {
		m[u] = true
	}
	return m
}

// users is the fixed part of the set, normalised.
func (e Exclusions) users() []string {
	out := make([]string, 0, len(e.Users)+1)
	for _, u := range e.Users {
		out = append(out, username.Normalize(u))
	}
	if e.ServiceAccount != "" {
		out = append(out, username.Normalize(e.ServiceAccount))
	}
	return out
}

// ForConfig is the view of a floatseat configuration: every pool's licence
// and pool groups, and the exclusion set of exclude.groups, exclude.users and
// the service account app.user.
func ForConfig(cfg *config.Config, d Lister, interval time.Duration, clock func() time.Time, log *slog.Logger) *View {
	var groups []string
	for _, p := range cfg.Pools {
		groups = append(groups, p.LicenseGroups...)
		groups = append(groups, p.PoolGroups...)
	}
	return New(Options{Dir: d, Groups: groups,
		Exclude:  Exclusions{Groups: cfg.Exclude.Groups, Users: cfg.Exclude.Users, ServiceAccount: cfg.App.User},
		Interval: interval, Clock: clock, Log: log})
}

// Options configure a View.
type Options struct {
	Dir Lister
	// Groups are every group the view watches: licence groups, pool groups.
	// Exclusion groups are added from Exclude.
	Groups  []string
	Exclude Exclusions
	// Interval between full refreshes (default 10 minutes).
	Interval time.Duration
	// Concurrency bounds the listings a refresh runs at once (default 4).
	Concurrency int
	Clock       func() time.Time
	Log         *slog.Logger
}

// View is the membership snapshot shared by reaper, keeper and admin.
type View struct {
	opt    Options
	groups []string // watched groups, exclusion groups included, deduplicated

	refreshMu sync.Mutex // one full refresh at a time

	mu      sync.RWMutex
	members map[string]map[string]bool // normalised group → normalised user → true
	loaded  bool                       // a full refresh succeeded once
	at      time.Time                  // start of the last good refresh
	tried   time.Time                  // start of the last attempt
	err     error                      // failure of the last attempt, nil if it succeeded
	// journal holds own writes made while a refresh is in flight: a
	// snapshot read before a write must not undo it.
	journal   []change
	recording bool
}

type change struct {
	user, group string
	added       bool
}

// New returns a View; nothing is read until Refresh or Ensure.
func New(opt Options) *View {
	if opt.Interval <= 0 {
		opt.Interval = 10 * time.Minute
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 4
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	v := &View{opt: opt, members: map[string]map[string]bool{}}
	seen := map[string]bool{}
	for _, g := range append(append([]string(nil), opt.Groups...), opt.Exclude.Groups...) {
		if k := username.Normalize(g); !seen[k] {
			seen[k] = true
			v.groups = append(v.groups, g)
		}
	}
	return v
}

// Ensure refreshes the view if it was never read, the last attempt failed,
// or Interval has passed since the last good refresh.
func (v *View) Ensure(ctx context.Context) error {
	v.refreshMu.Lock()
	defer v.refreshMu.Unlock()
	v.mu.RLock()
	due := !v.loaded || v.err != nil || !v.opt.Clock().Before(v.at.Add(v.opt.Interval))
	v.mu.RUnlock()
	if !due {
		return nil
	}
	return v.refreshLocked(ctx)
}

// Refresh reads every watched group in full. On failure the last good view
// is kept and Fresh reports false until a refresh succeeds.
func (v *View) Refresh(ctx context.Context) error {
	v.refreshMu.Lock()
	defer v.refreshMu.Unlock()
	return v.refreshLocked(ctx)
}

func (v *View) refreshLocked(ctx context.Context) error {
	start := v.opt.Clock()
	v.mu.Lock()
	v.recording, v.journal, v.tried = true, nil, start
	v.mu.Unlock()

	fresh, err := v.readAll(ctx)

	v.mu.Lock()
	defer v.mu.Unlock()
	v.recording = false
	journal := v.journal
	v.journal = nil
	if err != nil {
		v.err = err
		return err
	}
	for _, c := range journal {
		apply(fresh, c)
	}
	v.members, v.loaded, v.at, v.err = fresh, true, start, nil
	return nil
}

// readAll lists every watched group, Concurrency at a time (a directory
// answers several listings at once; one group after another would make a
// refresh as slow as their sum).
func (v *View) readAll(ctx context.Context) (map[string]map[string]bool, error) {
	type listing struct {
		set map[string]bool
		err error
	}
	out := make([]listing, len(v.groups))
	sem := make(chan struct{}, v.opt.Concurrency)
	var wg sync.WaitGroup
	for i, g := range v.groups {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ms, err := v.opt.Dir.Members(ctx, g, true)
			if errors.Is(err, directory.ErrGroupNotFound) {
				v.opt.Log.Warn("group not found in the directory", "group", g)
				out[i].set = map[string]bool{}
				return
			}
			if err != nil {
				out[i].err = fmt.Errorf("membership refresh: members of %s: %w", g, err)
				return
			}
			set := make(map[string]bool, len(ms))
			for _, m := range ms {
				set[username.Normalize(m)] = true
			}
			out[i].set = set
		}()
	}
	wg.Wait()
	fresh := make(map[string]map[string]bool, len(v.groups))
	for i, g := range v.groups {
		if out[i].err != nil {
			return nil, out[i].err
		}
		fresh[username.Normalize(g)] = out[i].set
	}
	return fresh, nil
}

func apply(m map[string]map[string]bool, c change) {
	g := username.Normalize(c.group)
	set := m[g]
	if set == nil {
		if !c.added {
			return
		}
		set = map[string]bool{}
		m[g] = set
	}
	if c.added {
		set[username.Normalize(c.user)] = true
	} else {
		delete(set, username.Normalize(c.user))
	}
}

// Added records that floatseat made user a member of groups.
func (v *View) Added(user string, groups ...string) { v.record(user, groups, true) }

// Removed records that floatseat removed user from groups. The user may
// still be a nested member through a subgroup: the next full refresh says.
func (v *View) Removed(user string, groups ...string) { v.record(user, groups, false) }

func (v *View) record(user string, groups []string, added bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, g := range groups {
		if !v.watched(g) {
			continue // a group outside the watched set is not tracked
		}
		c := change{user: user, group: g, added: added}
		if v.recording {
			v.journal = append(v.journal, c)
		}
		apply(v.members, c)
	}
}

func (v *View) watched(g string) bool {
	for _, w := range v.groups {
		if strings.EqualFold(w, g) {
			return true
		}
	}
	return false
}

// Members is the union of the members of groups as the view holds them
// (a copy the caller owns). ok is false if the view was never read.
func (v *View) Members(groups ...string) (map[string]bool, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	n := 0
	for _, g := range groups {
		n += len(v.members[username.Normalize(g)])
	}
	out := make(map[string]bool, n)
	for _, g := range groups {
		for u := range v.members[username.Normalize(g)] {
			out[u] = true
		}
	}
	return out, v.loaded
}

// Count is the number of distinct members of groups (a fixed-seat pool's
// usage, as the app counts it: once per user), refreshing the view when
// due. A failed refresh counts from the last good view; with none, it is
// the error.
func (v *View) Count(ctx context.Context, groups ...string) (int, error) {
	if err := v.Ensure(ctx); err != nil {
		if _, ok := v.Members(); !ok {
			return 0, err
		}
	}
	m, _ := v.Members(groups...)
	return len(m), nil
}

// IsMember reports whether the view holds user in any of groups.
func (v *View) IsMember(user string, groups ...string) bool {
	u := username.Normalize(user)
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, g := range groups {
		if v.members[username.Normalize(g)][u] {
			return true
		}
	}
	return false
}

// Excluded is the exclusion set: exclude.users, the service account and the
// nested members of exclude.groups as the view holds them.
func (v *View) Excluded() map[string]bool {
	v.mu.RLock()
	ex := v.opt.Exclude
	v.mu.RUnlock()
	m, _ := v.Members(ex.Groups...)
	for _, u := range ex.users() {
		m[u] = true
	}
	return m
}

// SetExclusions replaces exclude.groups and exclude.users (a reload): the
// next Ensure re-reads every group, the new exclusion groups included.
func (v *View) SetExclusions(e Exclusions) {
	v.refreshMu.Lock()
	defer v.refreshMu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.opt.Exclude = e
	v.groups = v.groups[:0:0]
	seen := map[string]bool{}
	for _, g := range append(append([]string(nil), v.opt.Groups...), e.Groups...) {
		if k := username.Normalize(g); !seen[k] {
			seen[k] = true
			v.groups = append(v.groups, g)
		}
	}
	v.at = time.Time{}
}

// Fresh reports whether revocations may rely on the view: it was read in
// full and the last refresh did not fail.
func (v *View) Fresh() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.loaded && v.err == nil
}

// State says when the view was last read in full and why the last attempt
// failed (nil if it did not).
func (v *View) State() (refreshedAt time.Time, err error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.at, v.err
}

// Invalidate makes the next Ensure refresh (configuration reloaded).
func (v *View) Invalidate() {
	v.mu.Lock()
	v.at = time.Time{}
	v.mu.Unlock()
}
