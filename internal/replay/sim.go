package replay

import (
	"time"

	"github.com/floatseat/floatseat/internal/seats"
)

// User states in one simulation.
const (
	stNone    uint8 = iota // never held a seat in this replay
	stHolding              // holds a seat
	stRevoked              // had one, the policy took it
)

// denialSpacing: a user who meets the full page is counted again only
// after this long (they retry when the page's Retry-After says).
const denialSpacing = 5 * time.Minute

// sim is one pool replayed at one seat count: the seats a reaper running
// seats.Plan would have granted and revoked.
type sim struct {
	e       *engine
	pool    int
	seats   int // ≤ 0: unlimited
	reserve int

	state  []uint8
	last   []int64 // last real activity while holding
	denied []int64 // last counted denial
	// The holders that are not excluded, least recently active first:
	// the longest idle is at the head.
	idleList

	holders                      int // every holder, excluded ones included
	deniedUsers                  int
	grants, revocations, denials int
	peak                         int
	detail                       *detail // nil for a sizing-only run
	cands                        []seats.User
	candID                       []int32
}

func newSim(e *engine, pool, nSeats, reserve int, withDetail bool) *sim {
	s := &sim{e: e, pool: pool, seats: nSeats, reserve: reserve, idleList: newIdleList()}
	if withDetail {
		s.detail = &detail{}
	}
	return s
}

func (s *sim) grow(n int) {
	for len(s.state) < n {
		s.state = append(s.state, stNone)
		s.last = append(s.last, 0)
		s.denied = append(s.denied, -1<<62)
		s.idleList.grow()
	}
}

// activity is a real request of user u at t: it keeps a held seat, or
// takes a free one (a grant), or meets the full page (a denial).
func (s *sim) activity(u int32, t int64) {
	s.grow(int(u) + 1)
	excluded := s.e.users[u].excluded
	if s.state[u] == stHolding {
		s.last[u] = t
		if !excluded && s.tail != u {
			s.unlink(u)
			s.pushTail(u)
		}
		return
	}
	if s.seats > 0 && s.holders >= s.seats {
		if s.denied[u] < 0 {
			s.deniedUsers++
		}
		if t-s.denied[u] >= int64(denialSpacing/time.Second) {
			s.denied[u] = t
			s.denials++
			if s.detail != nil {
				s.detail.deny(s.e.day(t), t)
			}
		}
		return
	}
	s.state[u] = stHolding
	s.last[u] = t
	s.holders++
	s.grants++
	s.peak = max(s.peak, s.holders)
	if !excluded {
		s.pushTail(u)
	}
	if s.detail != nil {
		s.detail.grant(s.e.day(t), s.holders)
	}
}

// run is one reaper run at now: seats.Plan over the holders, exactly as
// the reaper calls it, then the revocations applied. Runs that
// seats.Quiet says revoke nobody are skipped without building the list.
func (s *sim) run(now int64) {
	pool := seats.Pool{Name: s.e.opt.Pools[s.pool].Name, Seats: s.seats, Unlimited: s.seats <= 0,
		Used: s.holders, Reserve: s.reserve}
	prm := s.e.params
	longest := time.Duration(0)
	if s.head >= 0 {
		longest = time.Duration(now-s.last[s.head]) * time.Second
	}
	if seats.Quiet(pool, longest, prm) {
		return
	}
	// Only the users past the floor can be revoked; the list runs from
	// the longest idle to the first one within the floor.
	at := time.Unix(now, 0)
	s.cands, s.candID = s.cands[:0], s.candID[:0]
	for u := s.head; u >= 0; u = s.next[u] {
		if time.Duration(now-s.last[u])*time.Second <= prm.Floor {
			break
		}
		s.cands = append(s.cands, seats.User{Name: s.e.users[u].name, LastActive: time.Unix(s.last[u], 0)})
		s.candID = append(s.candID, u)
	}
	d := seats.Plan(at, pool, s.cands, prm)
	if len(d.Revocations) == 0 {
		return
	}
	byName := make(map[string]int32, len(s.cands))
	for i, c := range s.cands {
		byName[c.Name] = s.candID[i]
	}
	pressure := false
	for _, r := range d.Revocations {
		u := byName[r.User]
		s.unlink(u)
		s.state[u] = stRevoked
		s.holders--
		s.revocations++
		pressure = pressure || r.Reason == seats.ReasonPressure
		if s.detail != nil && s.e.opt.OnRevoke != nil {
			s.e.opt.OnRevoke(s.pool, r.User, at, r.Reason)
		}
	}
	if s.detail != nil {
		s.detail.revoke(s.e.day(now), len(d.Revocations))
		if pressure {
			s.detail.window(s.e.day(now), now, d.EffectiveWindow)
		}
	}
}

// floorTracker counts the users whose last real activity lies within the
// floor of each moment: the seats a floating licence with nothing but the
// floor would hold (peak_floor_seats).
type floorTracker struct {
	floor int64
	last  []int64
	in    []bool
	idleList
	n, peak int
}

func (f *floorTracker) activity(u int32, t int64) {
	for len(f.last) <= int(u) {
		f.last = append(f.last, 0)
		f.in = append(f.in, false)
		f.idleList.grow()
	}
	f.expire(t)
	if f.in[u] {
		f.unlink(u)
	} else {
		f.in[u] = true
		f.n++
		f.peak = max(f.peak, f.n)
	}
	f.last[u] = t
	f.pushTail(u)
}

// expire ends the holds whose floor has passed by t.
func (f *floorTracker) expire(t int64) {
	for f.head >= 0 && t-f.last[f.head] > f.floor {
		u := f.head
		f.unlink(u)
		f.in[u] = false
		f.n--
	}
}

// idleList is a doubly linked list over user indices, least recently
// active first: activity moves a user to the tail, the head is the
// longest idle.
type idleList struct {
	prev, next []int32
	head, tail int32
}

func newIdleList() idleList { return idleList{head: -1, tail: -1} }

// grow adds one unlinked index.
func (l *idleList) grow() {
	l.prev = append(l.prev, -1)
	l.next = append(l.next, -1)
}

func (l *idleList) unlink(u int32) {
	p, n := l.prev[u], l.next[u]
	if p >= 0 {
		l.next[p] = n
	} else {
		l.head = n
	}
	if n >= 0 {
		l.prev[n] = p
	} else {
		l.tail = p
	}
	l.prev[u], l.next[u] = -1, -1
}

func (l *idleList) pushTail(u int32) {
	l.prev[u], l.next[u] = l.tail, -1
	if l.tail >= 0 {
		l.next[l.tail] = u
	} else {
		l.head = u
	}
	l.tail = u
}
