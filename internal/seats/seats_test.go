package seats

import (
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

const (
	floor   = 5 * time.Hour
	ceiling = 168 * time.Hour
)

func params() Params {
	return Params{
		Floor:            floor,
		Ceiling:          ceiling,
		ObservationStart: t0.Add(-30 * 24 * time.Hour),
		MaxRevocations:   50,
		HeartbeatAlive:   true,
		Interval:         time.Minute,
	}
}

// idleUser is a user last active idle ago.
func idleUser(name string, idle time.Duration) User {
	return User{Name: name, LastActive: t0.Add(-idle)}
}

func TestHeadroom(t *testing.T) {
	tests := []struct {
		name         string
		p            Pool
		want, reaper int
	}{
		{"empty", Pool{Seats: 10}, 10, 10},
		{"used", Pool{Seats: 10, Used: 7}, 3, 3},
		{"pending grants", Pool{Seats: 10, Used: 7, PendingGrants: 2}, 1, 1},
		{"pending revocations free for the reaper only", Pool{Seats: 10, Used: 10, PendingRevocations: 3}, 0, 3},
		{"over the licence", Pool{Seats: 10, Used: 11, PendingGrants: 1}, -2, -2},
		{"unlimited", Pool{Unlimited: true, Used: 1 << 20}, UnlimitedHeadroom, UnlimitedHeadroom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Headroom(tt.p); got != tt.want {
				t.Errorf("Headroom: got %d, want %d", got, tt.want)
			}
			if got := ReaperHeadroom(tt.p); got != tt.reaper {
				t.Errorf("ReaperHeadroom: got %d, want %d", got, tt.reaper)
			}
		})
	}
}

func TestIdle(t *testing.T) {
	obs := t0.Add(-10 * time.Hour)
	tests := []struct {
		name string
		u    User
		obs  time.Time
		want time.Duration
	}{
		{"seen", idleUser("a", time.Hour), obs, time.Hour},
		{"never seen: from observation start", User{Name: "a"}, obs, 10 * time.Hour},
		{"never seen, no observation start", User{Name: "a"}, time.Time{}, 0},
		{"future activity (clock skew)", idleUser("a", -time.Minute), obs, 0},
		{"seen before the observation start", idleUser("a", 20*time.Hour), obs, 20 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Idle(t0, tt.u, tt.obs); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// rev is a compact expected revocation: "name/reason".
func revs(d Decision) []string {
	var out []string
	for _, r := range d.Revocations {
		out = append(out, r.User+"/"+r.Reason)
	}
	return out
}

func TestPlan(t *testing.T) {
	full := Pool{Name: "jsw", Seats: 10, Used: 10, Reserve: 2}
	roomy := Pool{Name: "jsw", Seats: 100, Used: 10, Reserve: 2}
	tests := []struct {
		name       string
		pool       Pool
		users      []User
		edit       func(*Params)
		want       []string
		wantWindow time.Duration
		wantCounts Counts
		wantSkip   string
	}{
		{
			name:       "roomy pool, nobody past the ceiling: nothing",
			pool:       roomy,
			users:      []User{idleUser("a", time.Hour), idleUser("b", 100*time.Hour)},
			wantWindow: ceiling,
			wantCounts: Counts{Active: 1, Idle: 1},
		},
		{
			name:       "ceiling revokes whatever the headroom",
			pool:       roomy,
			users:      []User{idleUser("a", ceiling+time.Second), idleUser("b", 100*time.Hour)},
			want:       []string{"a/ceiling"},
			wantWindow: ceiling,
			wantCounts: Counts{Idle: 2},
		},
		{
			name:       "exactly at the ceiling is kept",
			pool:       roomy,
			users:      []User{idleUser("a", ceiling)},
			wantWindow: ceiling,
			wantCounts: Counts{Idle: 1},
		},
		{
			name:       "exactly at the floor is protected and active",
			pool:       full,
			users:      []User{idleUser("a", floor), idleUser("b", floor+time.Nanosecond)},
			want:       []string{"b/pressure"},
			wantWindow: floor + time.Nanosecond,
			wantCounts: Counts{Active: 1, Idle: 1},
		},
		{
			name: "pressure revokes longest idle first until the reserve",
			pool: full,
			users: []User{
				idleUser("a", 6*time.Hour), idleUser("b", 9*time.Hour),
				idleUser("c", 7*time.Hour), idleUser("d", 8*time.Hour),
			},
			want:       []string{"b/pressure", "d/pressure"},
			wantWindow: 8 * time.Hour,
			wantCounts: Counts{Idle: 4},
		},
		{
			name:       "pressure stops at the floor even when short",
			pool:       Pool{Seats: 10, Used: 10, Reserve: 5},
			users:      []User{idleUser("a", time.Hour), idleUser("b", 6*time.Hour)},
			want:       []string{"b/pressure"},
			wantWindow: 6 * time.Hour,
			wantCounts: Counts{Active: 1, Idle: 1},
		},
		{
			name:       "ceiling revocations count toward the reserve",
			pool:       full,
			users:      []User{idleUser("a", 200*time.Hour), idleUser("b", 9*time.Hour), idleUser("c", 8*time.Hour)},
			want:       []string{"a/ceiling", "b/pressure"},
			wantWindow: 9 * time.Hour,
			wantCounts: Counts{Idle: 3},
		},
		{
			name:       "enough ceiling revocations: no pressure",
			pool:       full,
			users:      []User{idleUser("a", 200*time.Hour), idleUser("b", 300*time.Hour), idleUser("c", 8*time.Hour)},
			want:       []string{"b/ceiling", "a/ceiling"},
			wantWindow: ceiling,
			wantCounts: Counts{Idle: 3},
		},
		{
			name:       "pending revocations count as freed for the reaper",
			pool:       Pool{Seats: 10, Used: 10, Reserve: 2, PendingRevocations: 2},
			users:      []User{idleUser("a", 9*time.Hour)},
			wantWindow: ceiling,
			wantCounts: Counts{Idle: 1},
		},
		{
			name:       "pending grants use headroom",
			pool:       Pool{Seats: 10, Used: 7, Reserve: 2, PendingGrants: 2},
			users:      []User{idleUser("a", 9*time.Hour), idleUser("b", 8*time.Hour)},
			want:       []string{"a/pressure"},
			wantWindow: 9 * time.Hour,
			wantCounts: Counts{Idle: 2},
		},
		{
			name:       "over the licence: revoke the whole deficit",
			pool:       Pool{Seats: 2, Used: 4, Reserve: 1},
			users:      []User{idleUser("a", 6*time.Hour), idleUser("b", 7*time.Hour), idleUser("c", 8*time.Hour), idleUser("d", 9*time.Hour)},
			want:       []string{"d/pressure", "c/pressure", "b/pressure"},
			wantWindow: 7 * time.Hour,
			wantCounts: Counts{Idle: 4},
		},
		{
			name:       "excluded never revoked but counted",
			pool:       full,
			users:      []User{{Name: "svc", LastActive: t0.Add(-1000 * time.Hour), Excluded: true}, idleUser("a", 6*time.Hour)},
			want:       []string{"a/pressure"},
			wantWindow: 6 * time.Hour,
			wantCounts: Counts{Idle: 1, Excluded: 1},
		},
		{
			name:       "never seen measured from observation start",
			pool:       full,
			users:      []User{{Name: "ghost"}, idleUser("a", 6*time.Hour)},
			edit:       func(p *Params) { p.ObservationStart = t0.Add(-2 * time.Hour) },
			want:       []string{"a/pressure"},
			wantWindow: 6 * time.Hour,
			wantCounts: Counts{Active: 1, Idle: 1},
		},
		{
			name:       "fresh deployment revokes nobody",
			pool:       full,
			users:      []User{{Name: "a"}, {Name: "b"}},
			edit:       func(p *Params) { p.ObservationStart = t0 },
			wantWindow: ceiling,
			wantCounts: Counts{Active: 2},
		},
		{
			name:       "no heartbeat: nothing, counts kept",
			pool:       full,
			users:      []User{idleUser("a", 200*time.Hour), idleUser("b", time.Hour)},
			edit:       func(p *Params) { p.HeartbeatAlive = false },
			wantWindow: ceiling,
			wantCounts: Counts{Active: 1, Idle: 1},
			wantSkip:   SkippedNoHeartbeat,
		},
		{
			name:       "max revocations 0: nothing",
			pool:       full,
			users:      []User{idleUser("a", 200*time.Hour)},
			edit:       func(p *Params) { p.MaxRevocations = 0 },
			wantWindow: ceiling,
			wantCounts: Counts{Idle: 1},
			wantSkip:   SkippedNoRevocationsAllowed,
		},
		{
			name: "cap keeps the longest idle, ceiling first",
			pool: Pool{Seats: 10, Used: 10, Reserve: 4},
			users: []User{
				idleUser("a", 6*time.Hour), idleUser("b", 200*time.Hour),
				idleUser("c", 9*time.Hour), idleUser("d", 300*time.Hour),
			},
			edit:       func(p *Params) { p.MaxRevocations = 3 },
			want:       []string{"d/ceiling", "b/ceiling", "c/pressure"},
			wantWindow: 9 * time.Hour,
			wantCounts: Counts{Idle: 4},
		},
		{
			name:       "cap below the ceiling count",
			pool:       roomy,
			users:      []User{idleUser("a", 200*time.Hour), idleUser("b", 300*time.Hour), idleUser("c", 250*time.Hour)},
			edit:       func(p *Params) { p.MaxRevocations = 2 },
			want:       []string{"b/ceiling", "c/ceiling"},
			wantWindow: ceiling,
			wantCounts: Counts{Idle: 3},
		},
		{
			name:       "ceiling below floor is raised to the floor",
			pool:       roomy,
			users:      []User{idleUser("a", 4*time.Hour), idleUser("b", 6*time.Hour)},
			edit:       func(p *Params) { p.Ceiling = time.Hour },
			want:       []string{"b/ceiling"},
			wantWindow: floor,
			wantCounts: Counts{Active: 1, Idle: 1},
		},
		{
			name:       "unlimited: ceiling only",
			pool:       Pool{Unlimited: true, Used: 1000, Reserve: 10},
			users:      []User{idleUser("a", 6*time.Hour), idleUser("b", 200*time.Hour)},
			want:       []string{"b/ceiling"},
			wantWindow: ceiling,
			wantCounts: Counts{Idle: 2},
		},
		{
			name:       "duplicate names merge case-insensitively, latest activity wins",
			pool:       full,
			users:      []User{idleUser("Alice", 9*time.Hour), idleUser("alice", time.Hour), idleUser("bob", 7*time.Hour)},
			want:       []string{"bob/pressure"},
			wantWindow: 7 * time.Hour,
			wantCounts: Counts{Active: 1, Idle: 1},
		},
		{
			name:       "duplicate excluded entry protects the user",
			pool:       full,
			users:      []User{idleUser("svc", 9*time.Hour), {Name: "SVC", Excluded: true}},
			wantWindow: ceiling,
			wantCounts: Counts{Excluded: 1},
		},
		{
			name:       "equal idle breaks ties by name",
			pool:       Pool{Seats: 3, Used: 3, Reserve: 1},
			users:      []User{idleUser("c", 6*time.Hour), idleUser("a", 6*time.Hour), idleUser("b", 6*time.Hour)},
			want:       []string{"a/pressure"},
			wantWindow: 6 * time.Hour,
			wantCounts: Counts{Idle: 3},
		},
		{
			name:       "observe mode plans the same",
			pool:       full,
			users:      []User{idleUser("a", 6*time.Hour), idleUser("b", 7*time.Hour)},
			edit:       func(p *Params) { p.Observe = true },
			want:       []string{"b/pressure", "a/pressure"},
			wantWindow: 6 * time.Hour,
			wantCounts: Counts{Idle: 2},
		},
		{
			name:       "no users",
			pool:       full,
			wantWindow: ceiling,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prm := params()
			if tt.edit != nil {
				tt.edit(&prm)
			}
			got := Plan(t0, tt.pool, tt.users, prm)
			if g := revs(got); !slices.Equal(g, tt.want) {
				t.Errorf("revocations: got %v, want %v", g, tt.want)
			}
			if got.EffectiveWindow != tt.wantWindow {
				t.Errorf("effective window: got %v, want %v", got.EffectiveWindow, tt.wantWindow)
			}
			if got.Counts != tt.wantCounts {
				t.Errorf("counts: got %+v, want %+v", got.Counts, tt.wantCounts)
			}
			if got.Skipped != tt.wantSkip {
				t.Errorf("skipped: got %q, want %q", got.Skipped, tt.wantSkip)
			}
		})
	}
}

func TestPlanIdleValues(t *testing.T) {
	got := Plan(t0, Pool{Seats: 1, Used: 1, Reserve: 1}, []User{idleUser("a", 6*time.Hour)}, params())
	if len(got.Revocations) != 1 || got.Revocations[0].Idle != 6*time.Hour {
		t.Fatalf("got %+v, want one revocation with idle 6h", got.Revocations)
	}
}

// TestPlanProperties checks the policy's invariants on random pools and
// users. The seed is fixed so a failure reproduces.
func TestPlanProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(20261123))
	iterations := 20000
	if testing.Short() {
		iterations = 2000
	}
	for it := range iterations {
		prm := Params{
			Floor:            time.Duration(rng.Intn(10)) * time.Hour,
			Ceiling:          time.Duration(rng.Intn(300)) * time.Hour,
			ObservationStart: t0.Add(-time.Duration(rng.Intn(400)) * time.Hour),
			MaxRevocations:   rng.Intn(12) - 1,
			HeartbeatAlive:   rng.Intn(8) != 0,
			Observe:          rng.Intn(2) == 0,
		}
		p := Pool{
			Seats:              rng.Intn(40),
			Unlimited:          rng.Intn(20) == 0,
			PendingGrants:      rng.Intn(4),
			PendingRevocations: rng.Intn(4),
			Reserve:            rng.Intn(8),
		}
		users := make([]User, rng.Intn(40))
		for i := range users {
			users[i].Name = string(rune('a'+i%26)) + strings.Repeat("x", i/26)
			if rng.Intn(6) != 0 { // some never seen
				users[i].LastActive = t0.Add(-time.Duration(rng.Int63n(int64(400 * time.Hour))))
			}
			users[i].Excluded = rng.Intn(7) == 0
		}
		p.Used = len(users) + rng.Intn(3) - 1
		byName := map[string]User{}
		for _, u := range users {
			byName[u.Name] = u
		}

		got := Plan(t0, p, users, prm)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("iteration %d: "+format+"\npool %+v\nparams %+v\nplan %+v", append(append([]any{it}, args...), p, prm, got)...)
		}

		if !prm.HeartbeatAlive && (len(got.Revocations) != 0 || got.Skipped != SkippedNoHeartbeat) {
			fail("no heartbeat: got %d revocations, skipped %q; want none, %q", len(got.Revocations), got.Skipped, SkippedNoHeartbeat)
		}
		if n := max(prm.MaxRevocations, 0); len(got.Revocations) > n {
			fail("got %d revocations, want ≤ %d", len(got.Revocations), n)
		}
		if c := got.Counts; c.Active+c.Idle+c.Excluded != len(users) {
			fail("counts %+v do not add up to %d users", c, len(users))
		}
		seen := map[string]bool{}
		nCeiling, nPressure := 0, 0
		for i, r := range got.Revocations {
			u := byName[r.User]
			if seen[r.User] {
				fail("%s revoked twice", r.User)
			}
			seen[r.User] = true
			if u.Excluded {
				fail("excluded %s revoked", r.User)
			}
			if r.Idle != Idle(t0, u, prm.ObservationStart) {
				fail("%s: got idle %v, want %v", r.User, r.Idle, Idle(t0, u, prm.ObservationStart))
			}
			if r.Idle <= prm.Floor {
				fail("%s revoked at idle %v ≤ floor %v", r.User, r.Idle, prm.Floor)
			}
			if i > 0 && got.Revocations[i-1].Idle < r.Idle {
				fail("not longest-idle first at %d", i)
			}
			switch r.Reason {
			case ReasonCeiling:
				nCeiling++
				if r.Idle <= max(prm.Ceiling, prm.Floor) {
					fail("%s ceiling-revoked at idle %v ≤ ceiling", r.User, r.Idle)
				}
			case ReasonPressure:
				nPressure++
				if got.EffectiveWindow > r.Idle {
					fail("effective window %v above pressure idle %v", got.EffectiveWindow, r.Idle)
				}
			default:
				fail("reason %q", r.Reason)
			}
		}
		if nPressure == 0 && got.EffectiveWindow != max(prm.Ceiling, prm.Floor) {
			fail("no pressure: effective window %v, want ceiling", got.EffectiveWindow)
		}
		if !prm.HeartbeatAlive || prm.MaxRevocations <= 0 {
			continue
		}
		// Everything the policy wants, by rule, and who was left standing.
		var overCeiling, pastFloor int
		longestLeft := time.Duration(-1)
		for _, u := range merge(users) {
			idle := Idle(t0, u, prm.ObservationStart)
			if u.Excluded || idle <= prm.Floor {
				continue
			}
			pastFloor++
			if idle > max(prm.Ceiling, prm.Floor) {
				overCeiling++
			}
			if !seen[u.Name] {
				longestLeft = max(longestLeft, idle)
			}
		}
		capped := len(got.Revocations) == prm.MaxRevocations
		if !capped && nCeiling != overCeiling {
			fail("got %d ceiling revocations, want %d", nCeiling, overCeiling)
		}
		if nPressure > 0 && ReaperHeadroom(p)+len(got.Revocations)-1 >= p.Reserve {
			fail("pressure went past the reserve: headroom %d + %d revocations, reserve %d", ReaperHeadroom(p), len(got.Revocations), p.Reserve)
		}
		short := !p.Unlimited && ReaperHeadroom(p)+len(got.Revocations) < p.Reserve
		if short && !capped && len(got.Revocations) != pastFloor {
			fail("still short of the reserve with %d of %d candidates left", pastFloor-len(got.Revocations), pastFloor)
		}
		if n := len(got.Revocations); n > 0 && longestLeft > got.Revocations[n-1].Idle {
			fail("kept a user idle %v while revoking one idle %v", longestLeft, got.Revocations[n-1].Idle)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name  string
		users []User
		edit  func(*Params)
		want  time.Duration
	}{
		{"next past the floor", []User{idleUser("a", time.Hour), idleUser("b", 2*time.Hour)}, nil, 3*time.Hour + time.Minute},
		{"already past the floor: floor at 30s", []User{idleUser("a", 6*time.Hour)}, nil, MinRetryAfter},
		{"excluded ignored", []User{{Name: "svc", LastActive: t0.Add(-4 * time.Hour), Excluded: true}, idleUser("a", time.Hour)}, nil, 4*time.Hour + time.Minute},
		{"nobody revocable: 24h", []User{{Name: "svc", Excluded: true}}, nil, MaxRetryAfter},
		{"no users: 24h", nil, nil, MaxRetryAfter},
		{"never seen from observation start", []User{{Name: "a"}}, func(p *Params) { p.ObservationStart = t0.Add(-4 * time.Hour) }, time.Hour + time.Minute},
		{"never seen, no observation start", []User{{Name: "a"}}, func(p *Params) { p.ObservationStart = time.Time{} }, floor + time.Minute},
		{"long floor clamps to 24h", []User{idleUser("a", 0)}, func(p *Params) { p.Floor = 48 * time.Hour }, MaxRetryAfter},
		{"just under the clamp", []User{idleUser("a", 5*time.Hour-45*time.Second)}, func(p *Params) { p.Interval = 0 }, 45 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prm := params()
			if tt.edit != nil {
				tt.edit(&prm)
			}
			if got := RetryAfter(t0, tt.users, prm); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// Quiet never says "nobody" when Plan would revoke someone: random pools
// and users, with Quiet fed the longest idle time among the users.
func TestQuietNeverHidesARevocation(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	rng := randv2.New(randv2.NewPCG(11, 12))
	quiet := 0
	for i := 0; i < 20000; i++ {
		prm := Params{Floor: time.Duration(1+rng.IntN(6)) * time.Hour, Ceiling: time.Duration(rng.IntN(200)) * time.Hour,
			MaxRevocations: rng.IntN(4), HeartbeatAlive: rng.IntN(8) != 0}
		p := Pool{Seats: rng.IntN(8), Used: rng.IntN(9), PendingGrants: rng.IntN(2), PendingRevocations: rng.IntN(2),
			Reserve: rng.IntN(4), Unlimited: rng.IntN(10) == 0}
		var users []User
		longest := time.Duration(0)
		for j := rng.IntN(6); j > 0; j-- {
			u := User{Name: fmt.Sprint("u", j), LastActive: now.Add(-time.Duration(rng.IntN(250)) * time.Hour), Excluded: rng.IntN(5) == 0}
			if !u.Excluded {
				longest = max(longest, Idle(now, u, time.Time{}))
			}
			users = append(users, u)
		}
		d := Plan(now, p, users, prm)
		if Quiet(p, longest, prm) {
			quiet++
			if len(d.Revocations) > 0 {
				t.Fatalf("Quiet(%+v, %v, %+v) but Plan revokes %+v", p, longest, prm, d.Revocations)
			}
		}
	}
	if quiet < 1000 || quiet > 19000 {
		t.Fatalf("Quiet true %d times of 20000: the test does not exercise both answers", quiet)
	}
}
