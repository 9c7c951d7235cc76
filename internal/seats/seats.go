// Package seats is floatseat's window policy: who the reaper revokes, how much
// headroom a pool has, and when a full pool is expected to free a seat.
//
// Everything here is a pure function of state plus an explicit "now": no
// Redis, no directory, no clock reads. The reaper and any what-if replay of
// an access log call the same functions, and the tests can check the policy
// exhaustively.
//
// Boundaries, decided once and used everywhere:
//   - idle = now − last real activity; a user never seen is taken as last
//     seen at the observation start (floatseat cannot claim idleness it did
//     not watch). A user never seen with no observation start is idle 0.
//     Negative idle (clock skew) counts as 0.
//   - The floor protects idle ≤ Floor: a user exactly session_timeout idle is
//     still protected (the app may still hold the session at that instant).
//     Only idle > Floor is revocable. "Active" in metrics means idle ≤ Floor.
//   - The ceiling revokes idle > Ceiling. A Ceiling below the Floor is raised
//     to the Floor: the floor is never crossed, whatever the configuration.
package seats

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/username"
)

// UnlimitedHeadroom is the headroom reported for a pool with unlimited seats:
// large enough that no reserve is ever short, small enough to add to safely.
const UnlimitedHeadroom = math.MaxInt32

// Revocation reasons, also used as the reason label of
// floatseat_revocations_total.
const (
	ReasonCeiling  = "ceiling"
	ReasonPressure = "pressure"
)

// SkippedNoHeartbeat is Decision.Skipped when no proxy replica has sent a
// heartbeat recently: traffic may be bypassing floatseat, so its activity
// records cannot be trusted to say who is idle.
const SkippedNoHeartbeat = "no proxy heartbeat"

// SkippedNoRevocationsAllowed is Decision.Skipped when MaxRevocations ≤ 0.
const SkippedNoRevocationsAllowed = "max revocations per run is 0"

// Pool is one licence as the reaper sees it at one instant.
type Pool struct {
	Name      string
	Seats     int
	Unlimited bool
	// Used is the app's own count of licensed users, as last reported.
	Used int
	// PendingGrants are grants floatseat made that the app does not count yet
	// (made after its last report, or through a directory it syncs later).
	PendingGrants int
	// PendingRevocations are revocations floatseat made that the app still
	// counts (its last report predates them, or the directory has not synced).
	PendingRevocations int
	// Reserve is the number of seats the reaper keeps free so that a login
	// never waits on a revocation.
	Reserve int
}

// User is one member of a pool's licence groups.
type User struct {
	Name string
	// LastActive is the last real (non-noise) activity; zero means never seen.
	LastActive time.Time
	// Excluded users are never revoked but still hold a seat.
	Excluded bool
}

// Params are the window and the safety rails of one reaper run.
type Params struct {
	// Floor is the app's session timeout: nobody idle for Floor or less is
	// revoked, so nobody loses access in the middle of a session.
	Floor time.Duration
	// Ceiling is max_idle: everybody idle longer is revoked.
	Ceiling time.Duration
	// ObservationStart is when this Redis first saw a proxy; users never seen
	// are measured from it.
	ObservationStart time.Time
	// MaxRevocations caps ceiling and pressure revocations together in one
	// run. Zero or less allows none.
	MaxRevocations int
	// HeartbeatAlive reports whether a proxy replica sent a heartbeat
	// recently. Without one, Plan revokes nobody.
	HeartbeatAlive bool
	// Observe is mode: observe. It does not change the Plan: observe mode
	// computes, logs and audits the same plan, and the caller does not apply
	// it. Keeping the plan identical is what makes observe mode a faithful
	// preview of enforce mode.
	Observe bool
	// Interval is the reaper interval, used by RetryAfter only: a user who
	// passes the floor is revoked at the next run, up to one interval later.
	Interval time.Duration
}

// Revocation is one user the reaper should take a seat from.
type Revocation struct {
	User   string
	Idle   time.Duration
	Reason string // ReasonCeiling or ReasonPressure
}

// Counts classifies the licensed users for floatseat_licensed_users.
type Counts struct {
	Active   int // not excluded, idle ≤ Floor
	Idle     int // not excluded, idle > Floor
	Excluded int
}

// Decision is the outcome of Plan: one reaper run for one pool. (It cannot
// share the name Plan with the function in one Go package.)
type Decision struct {
	// Revocations, longest-idle first.
	Revocations []Revocation
	// EffectiveWindow is the idle time of the most recently active user
	// revoked under pressure: the window the pool actually ran at. It is the
	// Ceiling (raised to the Floor if below it) when pressure revoked nobody.
	EffectiveWindow time.Duration
	Counts          Counts
	// Skipped says which safety rail stopped the run (then Revocations is
	// empty); empty when the rails let the policy run. Counts are filled in
	// either way, so metrics stay live while the reaper is held back.
	Skipped string
}

// Headroom is the number of seats a grant may still take: seats − used −
// grants the app does not count yet. Pending revocations are not subtracted
// back: the app still counts those users, and the app's count is what stops
// issue creation (Jira) or makes the site read-only (Confluence). The result
// may be negative when the app is over its licence.
func Headroom(p Pool) int {
	if p.Unlimited {
		return UnlimitedHeadroom
	}
	return p.Seats - p.Used - p.PendingGrants
}

// ReaperHeadroom is the headroom the reaper aims at: Headroom plus the
// revocations the app has not noticed yet. Counting them as freed keeps the
// reaper from revoking more people, run after run, only because the app is
// slow to show the last ones (a directory syncs every hour by default).
func ReaperHeadroom(p Pool) int {
	if p.Unlimited {
		return UnlimitedHeadroom
	}
	return Headroom(p) + p.PendingRevocations
}

// Idle is how long u has been idle at now, under the package's rules: never
// seen → measured from obsStart; no obsStart either → 0; never negative.
func Idle(now time.Time, u User, obsStart time.Time) time.Duration {
	seen := lastSeen(u, obsStart)
	if seen.IsZero() {
		return 0
	}
	return max(now.Sub(seen), 0)
}

// lastSeen is when u counts as last active, zero when unknowable.
func lastSeen(u User, obsStart time.Time) time.Time {
	if u.LastActive.IsZero() {
		return obsStart
	}
	return u.LastActive
}

type candidate struct {
	name string
	idle time.Duration
}

// Plan decides whom to revoke from pool p at now, among the users licensed
// in it. Users are matched case-insensitively, as the apps do: duplicates are
// merged (latest activity wins, excluded if any entry is excluded).
//
// Rules, in order: excluded users are never revoked; nobody idle ≤ Floor is
// revoked; everybody idle > Ceiling is revoked; then, while ReaperHeadroom
// plus the revocations planned so far is below Reserve, the longest-idle of
// the remaining users past the floor are revoked. At most MaxRevocations are
// returned, longest-idle first. Without a heartbeat nobody is revoked.
func Plan(now time.Time, p Pool, licensed []User, prm Params) Decision {
	ceiling := max(prm.Ceiling, prm.Floor)
	out := Decision{EffectiveWindow: ceiling}

	var cands []candidate
	for _, u := range merge(licensed) {
		idle := Idle(now, u, prm.ObservationStart)
		switch {
		case u.Excluded:
			out.Counts.Excluded++
		case idle <= prm.Floor:
			out.Counts.Active++
		default:
			out.Counts.Idle++
			cands = append(cands, candidate{name: u.Name, idle: idle})
		}
	}
	switch {
	case !prm.HeartbeatAlive:
		out.Skipped = SkippedNoHeartbeat
		return out
	case prm.MaxRevocations <= 0:
		out.Skipped = SkippedNoRevocationsAllowed
		return out
	case len(cands) == 0:
		return out
	}

	// Longest idle first; names break ties so a plan is reproducible.
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := cmp.Compare(b.idle, a.idle); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})

	nCeiling := 0
	for nCeiling < len(cands) && cands[nCeiling].idle > ceiling {
		nCeiling++
	}
	nPressure := min(shortfall(p, nCeiling), len(cands)-nCeiling)
	n := min(nCeiling+nPressure, prm.MaxRevocations)
	for i, c := range cands[:n] {
		r := Revocation{User: c.name, Idle: c.idle, Reason: ReasonCeiling}
		if i >= nCeiling {
			r.Reason = ReasonPressure
			// Sorted longest-idle first: the last pressure one is the most
			// recently active, so its idle time is the effective window.
			out.EffectiveWindow = c.idle
		}
		out.Revocations = append(out.Revocations, r)
	}
	return out
}

// shortfall is how many seats pressure must still free from p after
// nCeiling ceiling revocations: every revocation, ceiling ones included,
// frees a seat toward the reserve.
func shortfall(p Pool, nCeiling int) int {
	if p.Unlimited {
		return 0
	}
	return max(p.Reserve-ReaperHeadroom(p)-nCeiling, 0)
}

// Quiet reports, without the user list, that Plan would revoke nobody from
// p at this instant: longestIdle is the longest idle time among the
// pool's users that are not excluded (0 when there are none), and nobody
// is revoked when nobody is past the floor, or when nobody is past the
// ceiling and the reserve is not short. A false answer means "run Plan",
// not that it revokes. Callers that would run Plan every reaper interval
// over a long history (replay) skip the quiet instants with it; the rules
// are Plan's own.
func Quiet(p Pool, longestIdle time.Duration, prm Params) bool {
	if longestIdle <= prm.Floor || !prm.HeartbeatAlive || prm.MaxRevocations <= 0 {
		return true
	}
	return longestIdle <= max(prm.Ceiling, prm.Floor) && shortfall(p, 0) == 0
}

// merge folds entries naming the same user (case-insensitively) into one.
func merge(users []User) []User {
	idx := make(map[string]int, len(users))
	out := make([]User, 0, len(users))
	for _, u := range users {
		k := username.Normalize(u.Name)
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, u)
			continue
		}
		if u.LastActive.After(out[i].LastActive) {
			out[i].LastActive = u.LastActive
		}
		out[i].Excluded = out[i].Excluded || u.Excluded
	}
	return out
}

// Bounds of RetryAfter: a client is never told to come back sooner than
// MinRetryAfter (each retry costs a login attempt) nor later than
// MaxRetryAfter (a seat may free for reasons the policy cannot foresee, such
// as an admin raising the licence).
const (
	MinRetryAfter = 30 * time.Second
	MaxRetryAfter = 24 * time.Hour
)

// RetryAfter estimates when a full pool frees its next seat, for the
// Retry-After header of the "all seats are in use" page:
//
//	min over non-excluded users u of (lastSeen(u) + Floor + Interval) − now
//
// clamped to [MinRetryAfter, MaxRetryAfter]. lastSeen(u) + Floor is when u
// passes the floor and becomes revocable under pressure; the reaper notices
// at its next run, at most one Interval later. A user already past the floor
// gives a result ≤ Interval (typically they are about to be revoked). The
// estimate leaves out the time the app needs to show the revocation (the
// next licence poll, or the next directory sync): callers using a directory
// backend may add it to Interval. With no candidate at all (everyone
// excluded) the answer is MaxRetryAfter.
func RetryAfter(now time.Time, licensed []User, prm Params) time.Duration {
	best := MaxRetryAfter
	for _, u := range merge(licensed) {
		if u.Excluded {
			continue
		}
		seen := lastSeen(u, prm.ObservationStart)
		if seen.IsZero() {
			seen = now // unknowable: assume just seen, the later estimate
		}
		best = min(best, seen.Add(prm.Floor+prm.Interval).Sub(now))
	}
	return min(max(best, MinRetryAfter), MaxRetryAfter)
}
