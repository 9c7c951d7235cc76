package appsim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
)

// membershipCache is the app's own copy of users and groups. The real apps
// answer every licence and permission check from such a cache, so a change
// made directly in Crowd or LDAP is seen only at the user's next login
// ("Update group memberships when logging in") or at the next directory sync
// (REFERENCE §5). The Sim's mutex guards it.
type membershipCache struct {
	users   map[string]*cachedUser // lower name → user
	names   map[string]string      // lower group → stored group name
	tracked map[string]bool        // lower groups a sync re-reads
}

type cachedUser struct {
	name   string
	direct map[string]bool // lower groups
	nested map[string]bool // lower groups, direct included
}

func newMembershipCache() *membershipCache {
	return &membershipCache{users: map[string]*cachedUser{}, names: map[string]string{}, tracked: map[string]bool{}}
}

func (c *membershipCache) track(g string) {
	k := strings.ToLower(g)
	c.tracked[k] = true
	if _, ok := c.names[k]; !ok {
		c.names[k] = g
	}
}

func (c *membershipCache) user(name string) *cachedUser {
	return c.users[strings.ToLower(name)]
}

func (c *membershipCache) ensureUser(name string) *cachedUser {
	k := strings.ToLower(name)
	if u, ok := c.users[k]; ok {
		return u
	}
	u := &cachedUser{name: name, direct: map[string]bool{}, nested: map[string]bool{}}
	c.users[k] = u
	return u
}

func (c *membershipCache) setGroups(u *cachedUser, direct, nested []string) {
	u.direct, u.nested = map[string]bool{}, map[string]bool{}
	for _, g := range direct {
		c.track(g)
		u.direct[strings.ToLower(g)] = true
		u.nested[strings.ToLower(g)] = true
	}
	for _, g := range nested {
		c.track(g)
		u.nested[strings.ToLower(g)] = true
	}
}

// members returns the stored names of the group's (nested) members, sorted.
func (c *membershipCache) members(group string, nested bool) []string {
	k := strings.ToLower(group)
	var out []string
	for _, u := range c.users {
		if (nested && u.nested[k]) || (!nested && u.direct[k]) {
			out = append(out, u.name)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return out
}

func (c *membershipCache) groupsOf(u *cachedUser) []string {
	var out []string
	for g := range u.nested {
		out = append(out, c.names[g])
	}
	slices.Sort(out)
	return out
}

// Optional directory capabilities. The InternalDirectory has them; LDAP and
// Crowd backends may not, and the simulator copes without.
type userLister interface {
	Users(ctx context.Context) ([]string, error)
}

type nameResolver interface {
	StoredName(ctx context.Context, user string) (string, error)
}

// SyncNow re-reads every known and tracked user's memberships from the
// directory into the app's cache, as a full directory sync does (REFERENCE
// §5). It reads outside the lock and swaps the result in at once.
func (s *Sim) SyncNow(ctx context.Context) error {
	// A change made through the app while the sync reads would be lost when
	// the fresh copy is swapped in; the real app's replication settles that
	// eventually, but tests need determinism, so such a sync reads again.
	for range 5 {
		done, err := s.syncOnce(ctx)
		if err != nil || done {
			return err
		}
	}
	return fmt.Errorf("appsim sync: the cache kept changing while reading")
}

func (s *Sim) syncOnce(ctx context.Context) (bool, error) {
	s.mu.Lock()
	gen := s.cacheGen
	known := map[string]string{}
	for k, u := range s.cache.users {
		known[k] = u.name
	}
	var tracked []string
	for g := range s.cache.tracked {
		tracked = append(tracked, s.cache.names[g])
	}
	s.mu.Unlock()

	if l, ok := s.dir.(userLister); ok {
		us, err := l.Users(ctx)
		if err != nil {
			return false, fmt.Errorf("appsim sync: list users: %w", err)
		}
		for _, u := range us {
			known[strings.ToLower(u)] = u
		}
	}
	for _, g := range tracked {
		ms, err := s.dir.Members(ctx, g, true)
		if errors.Is(err, directory.ErrGroupNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("appsim sync: members of %s: %w", g, err)
		}
		for _, u := range ms {
			known[strings.ToLower(u)] = u
		}
	}
	fresh := newMembershipCache()
	for _, g := range tracked {
		fresh.track(g)
	}
	for _, name := range known {
		direct, err := s.dir.UserGroups(ctx, name, false)
		if errors.Is(err, directory.ErrUserNotFound) {
			continue // deleted in the directory: the sync drops it
		}
		if err != nil {
			return false, fmt.Errorf("appsim sync: groups of %s: %w", name, err)
		}
		nested, err := s.dir.UserGroups(ctx, name, true)
		if err != nil {
			return false, fmt.Errorf("appsim sync: nested groups of %s: %w", name, err)
		}
		fresh.setGroups(fresh.ensureUser(name), direct, nested)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cacheGen != gen {
		return false, nil
	}
	s.cache = fresh
	s.cacheGen++
	s.observeCountsLocked()
	s.log.Debug("appsim directory sync", "users", len(known))
	return true, nil
}

// Run syncs every SyncInterval until ctx ends, like the app's scheduled
// directory sync. Sync errors are logged and the loop goes on, as the app's
// does.
func (s *Sim) Run(ctx context.Context) error {
	tick, stop := s.cfg.NewTicker(s.cfg.SyncInterval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if err := s.SyncNow(ctx); err != nil {
				s.log.Warn("appsim directory sync failed", "err", err)
			}
		}
	}
}

// refreshAtLogin applies "Update group memberships when logging in"
// (REFERENCE §5) for a password or SSO login, before the licence check. With
// "every" it re-reads the user's direct groups (and their nesting); when the
// directory reports no groups at all, removals are skipped (CWD-3429).
func (s *Sim) refreshAtLogin(ctx context.Context, name string) {
	s.mu.Lock()
	_, known := s.cache.users[strings.ToLower(name)]
	s.mu.Unlock()
	switch s.cfg.UpdateGroupsAtLogin {
	case UpdateNever:
		if !known {
			s.mu.Lock()
			s.cache.ensureUser(name)
			s.mu.Unlock()
		}
		return
	case UpdateNew:
		if known {
			return
		}
	}
	direct, err := s.dir.UserGroups(ctx, name, false)
	if err != nil {
		s.log.Warn("appsim refresh groups at login", "user", name, "err", err)
		return
	}
	nested, err := s.dir.UserGroups(ctx, name, true)
	if err != nil {
		s.log.Warn("appsim refresh nested groups at login", "user", name, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.cache.ensureUser(name)
	if len(direct) == 0 && len(u.direct) > 0 {
		return
	}
	s.cache.setGroups(u, direct, nested)
	s.cacheGen++
	s.observeCountsLocked()
}

// cacheAdd and cacheRemove apply a change made through the app's own group
// API: at once on this node (REFERENCE §1).
func (s *Sim) cacheAdd(ctx context.Context, user, group string) {
	nested, _ := s.dir.UserGroups(ctx, user, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.cache.ensureUser(user)
	s.cache.track(group)
	u.direct[strings.ToLower(group)] = true
	u.nested[strings.ToLower(group)] = true
	for _, g := range nested {
		s.cache.track(g)
		u.nested[strings.ToLower(g)] = true
	}
	s.cacheGen++
	s.observeCountsLocked()
}

func (s *Sim) cacheRemove(ctx context.Context, user, group string) {
	nested, err := s.dir.UserGroups(ctx, user, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.cache.ensureUser(user)
	delete(u.direct, strings.ToLower(group))
	if err != nil {
		delete(u.nested, strings.ToLower(group))
	} else {
		u.nested = map[string]bool{}
		for g := range u.direct {
			u.nested[g] = true
		}
		for _, g := range nested {
			s.cache.track(g)
			u.nested[strings.ToLower(g)] = true
		}
	}
	s.cacheGen++
	s.observeCountsLocked()
}

// CachedGroups returns the groups the app currently believes user is in
// (nested), which is what its licence checks use.
func (s *Sim) CachedGroups(user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.cache.user(user)
	if u == nil {
		return nil
	}
	return s.cache.groupsOf(u)
}

// storedName returns the user's stored-case name: the cache's, the
// directory's when it can tell, or the name as typed.
func (s *Sim) storedName(ctx context.Context, typed string) string {
	if r, ok := s.dir.(nameResolver); ok {
		if n, err := r.StoredName(ctx, typed); err == nil {
			return n
		}
	}
	s.mu.Lock()
	u := s.cache.user(typed)
	s.mu.Unlock()
	if u != nil {
		return u.name
	}
	// An external directory without a name lookup: the stored case shows in
	// the member lists of the user's groups.
	groups, err := s.dir.UserGroups(ctx, typed, false)
	if err != nil {
		return typed
	}
	for _, g := range groups {
		ms, err := s.dir.Members(ctx, g, false)
		if err != nil {
			continue
		}
		for _, m := range ms {
			if strings.EqualFold(m, typed) {
				return m
			}
		}
	}
	return typed
}

// now is the injected clock.
func (s *Sim) now() time.Time { return s.cfg.Clock() }
