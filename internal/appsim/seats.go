package appsim

import (
	"net/http"
	"strings"
	"time"
)

// Licence seats (REFERENCE §3), always computed from the app's CACHED
// membership: that is what the real apps count, and why a directory change
// shows in the count only after a login refresh or a sync.

// maxInt32 is how Confluence reports an unlimited licence (REFERENCE §3).
const maxInt32 = 2147483647

func (s *Sim) excludedFromCount(user string) bool {
	for _, x := range s.cfg.ExcludeFromCount {
		if strings.EqualFold(x, user) {
			return true
		}
	}
	return false
}

// userCountLocked counts users holding the role: each user once however
// many of the role's groups they are in (REFERENCE §3).
func (s *Sim) userCountLocked(r Role) int {
	n := 0
	for _, u := range s.cache.users {
		if s.excludedFromCount(u.name) {
			continue
		}
		if hasRole(u, r) {
			n++
		}
	}
	return n
}

func hasRole(u *cachedUser, r Role) bool {
	for _, g := range r.Groups {
		if u.nested[strings.ToLower(g)] {
			return true
		}
	}
	return false
}

// observeCountsLocked records the highest count ever seen per role, so tests
// can assert floatseat never pushed the app over its licence.
func (s *Sim) observeCountsLocked() {
	for _, r := range s.cfg.Roles {
		if n := s.userCountLocked(r); n > s.maxCount[r.Key] {
			s.maxCount[r.Key] = n
		}
	}
}

// reportedCountLocked is the count the seat REST APIs report. The apps keep
// it in a cache of its own (Jira's ActiveUsersCountForLicenseCache,
// REFERENCE §1), so with Config.CountCacheTTL set it may lag the membership
// by up to that long. Assumption: the lag is a plain TTL; the apps' real
// invalidation rules are not documented.
func (s *Sim) reportedCountLocked(r Role) int {
	if s.cfg.CountCacheTTL <= 0 {
		return s.userCountLocked(r)
	}
	now := s.now()
	if c, ok := s.countCache[r.Key]; ok && now.Sub(c.at) < s.cfg.CountCacheTTL {
		return c.n
	}
	n := s.userCountLocked(r)
	s.countCache[r.Key] = cachedCount{n: n, at: now}
	return n
}

type cachedCount struct {
	n  int
	at time.Time
}

// UserCount returns the role's current count from the cache.
func (s *Sim) UserCount(role string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.cfg.Roles {
		if r.Key == role {
			return s.userCountLocked(r)
		}
	}
	return 0
}

// MaxUserCount returns the highest count the role ever had.
func (s *Sim) MaxUserCount(role string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxCount[role]
}

// Seats returns the role's seat count (UnlimitedSeats for no limit).
func (s *Sim) Seats(role string) int {
	for _, r := range s.cfg.Roles {
		if r.Key == role {
			return r.Seats
		}
	}
	return 0
}

// OverLicence reports whether any role has more users than seats: Jira then
// stops issue creation for everyone, Confluence goes read-only (REFERENCE §3.5).
func (s *Sim) OverLicence() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overLicenceLocked()
}

func (s *Sim) overLicenceLocked() bool {
	for _, r := range s.cfg.Roles {
		if r.Seats != UnlimitedSeats && s.userCountLocked(r) > r.Seats {
			return true
		}
	}
	return false
}

// Licensed reports whether the app, from its cache, lets user use it (any
// role). Admin users are not licensed by being admins: they may log in,
// but real work still needs a role.
func (s *Sim) Licensed(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.licensedLocked(user)
}

func (s *Sim) licensedLocked(user string) bool {
	u := s.cache.user(user)
	if u == nil {
		return false
	}
	for _, r := range s.cfg.Roles {
		if hasRole(u, r) {
			return true
		}
	}
	return false
}

func (s *Sim) rolesOfLocked(user string) []Role {
	u := s.cache.user(user)
	if u == nil {
		return nil
	}
	var out []Role
	for _, r := range s.cfg.Roles {
		if hasRole(u, r) {
			out = append(out, r)
		}
	}
	return out
}

func (s *Sim) roleJSONLocked(r Role) map[string]any {
	n := s.reportedCountLocked(r)
	remaining := r.Seats - n
	if r.Seats == UnlimitedSeats {
		remaining = -1
	}
	desc := "users"
	if r.Seats != UnlimitedSeats {
		desc = strings.TrimSpace(strings.Join([]string{itoa(remaining), "of", itoa(r.Seats), "users remaining"}, " "))
	}
	return map[string]any{
		"key":                  r.Key,
		"name":                 r.Name,
		"groups":               nonNil(r.Groups),
		"defaultGroups":        nonNil(r.DefaultGroups),
		"selectedByDefault":    false,
		"defined":              true,
		"numberOfSeats":        r.Seats,
		"remainingSeats":       remaining,
		"userCount":            n,
		"userCountDescription": desc,
		"hasUnlimitedSeats":    r.Seats == UnlimitedSeats,
		"platform":             r.Key == "jira-core",
	}
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// handleApplicationRoles serves Jira GET /rest/api/2/applicationrole.
func (s *Sim) handleApplicationRoles(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	s.mu.Lock()
	out := make([]map[string]any, 0, len(s.cfg.Roles))
	for _, role := range s.cfg.Roles {
		out = append(out, s.roleJSONLocked(role))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handleApplicationRole serves Jira GET /rest/api/2/applicationrole/{key}.
func (s *Sim) handleApplicationRole(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	key := r.PathValue("key")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, role := range s.cfg.Roles {
		if role.Key == key {
			writeJSON(w, http.StatusOK, s.roleJSONLocked(role))
			return
		}
	}
	s.writeError(w, http.StatusNotFound, "No application role found for key "+key)
}

// handleConfluenceLicense serves /rest/license/1.0/license/{what} → {"count":N}.
// Confluence has one licence: the first role.
func (s *Sim) handleConfluenceLicense(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	role := s.cfg.Roles[0]
	s.mu.Lock()
	n := s.reportedCountLocked(role)
	s.mu.Unlock()
	max := role.Seats
	if max == UnlimitedSeats {
		max = maxInt32
	}
	var count int
	switch r.PathValue("what") {
	case "maxUsers":
		count = max
	case "userCount":
		count = n
	case "remainingSeats":
		count = max - n
		if role.Seats == UnlimitedSeats {
			count = maxInt32
		}
	default:
		s.writeError(w, http.StatusNotFound, "not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": count})
}
