// Package replay answers "what would floatseat have done?" over access
// logs the apps and nginx already write: it runs the configured noise
// rules and the reaper's own window policy (internal/seats: floor,
// ceiling, pressure, reserve, exclusions, max revocations per run) with a
// simulated clock, and reports per pool the people who worked, the seats
// the policy would have needed, and what it would have cost them:
// grants, revocations and logins that meet the full page.
//
// It is one streaming pass (per seat count replayed together): memory
// grows with the number of users, not with the log.
//
// Semantics (DESIGN §3.1): the replay models the steady state, not the
// deploy day, so nobody holds a seat until their first real request in
// the log; each real request of a user without a seat is a grant when a
// seat is free and a denial (the full page) when none is; a reaper run
// every reaper.interval revokes by seats.Plan.
package replay

import (
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/floatseat/floatseat/internal/accesslog"
	"github.com/floatseat/floatseat/internal/noise"
	"github.com/floatseat/floatseat/internal/poolwork"
	"github.com/floatseat/floatseat/internal/seats"
)

// Pool is one licence to replay.
type Pool struct {
	Name string
	// Seats is the pool's seat count; ≤ 0 when unknown (unlimited).
	Seats   int
	Reserve int
	// Sweep are more seat counts to replay this pool at, for the sizing
	// table only.
	Sweep []int
}

// Options configure a replay.
type Options struct {
	// Pools: the first is the product's main pool.
	Pools          []Pool
	Floor, Ceiling time.Duration
	Interval       time.Duration // reaper.interval
	MaxRevocations int
	Noise          *noise.Set // the configured rules; nil: none
	ContextPath    string
	// Excluded reports a user (normalised) that is never revoked.
	Excluded func(user string) bool
	// Member reports whether a user (normalised) belongs to pool i; nil:
	// every named user belongs to every pool whose work they did (with no
	// Work rules, the main pool only).
	Member func(pool int, user string) bool
	// Work says which pools a request is the work of (the pools' activity
	// rules); nil: every request is the main (first) pool's.
	Work *poolwork.Rules
	// From and To bound the replayed time (zero: unbounded); lines outside
	// are read and counted but not replayed.
	From, To time.Time
	// Seats are the seat counts to replay every pool at; the first is the
	// one the pool result's detail is for. Empty: each pool's own Seats.
	Seats []int
	// OnRevoke, when set, hears every revocation of the first seat count
	// (pool index, user, when, seats.Reason*).
	OnRevoke func(pool int, user string, at time.Time, reason string)
	// SampleEvery is the spacing of the seats-held series (default 10 min).
	SampleEvery time.Duration
}

// Input is one log to read.
type Input struct {
	Name   string
	R      io.Reader
	Format accesslog.Format
}

// File says how one input was read.
type File struct {
	Name    string `json:"name"`
	Format  string `json:"format"`
	Lines   int64  `json:"lines"`
	Skipped int64  `json:"skipped"`
}

// Result is what a replay found. Its JSON form is the contract of
// `floatseat replay --format json`.
type Result struct {
	Lines   int64        `json:"lines"`
	Skipped int64        `json:"skipped"`
	From    time.Time    `json:"from"`
	To      time.Time    `json:"to"`
	Pools   []PoolResult `json:"pools"`
	Files   []File       `json:"-"`
	// Zone is the offset the logs were written in, for grouping by day.
	Zone *time.Location `json:"-"`
}

// PoolResult is one pool.
type PoolResult struct {
	Name string `json:"name"`
	// Users who made at least one real (non-noise) request.
	Users          int `json:"users"`
	PeakFloorSeats int `json:"peak_floor_seats"`
	PeakSeats      int `json:"peak_seats"`
	Seats          int `json:"seats"`
	Grants         int `json:"grants"`
	Revocations    int `json:"revocations"`
	Denials        int `json:"denials"`
	// Sizing is one row per replayed seat count (Options.Seats).
	Sizing []Size `json:"-"`
	// Days, Series, Windows and Full are the detail of the first seat count.
	Days    []Day         `json:"-"`
	Series  []Point       `json:"-"`
	Windows []WindowPoint `json:"-"`
	Full    []Span        `json:"-"`
}

// Size is the policy replayed at one seat count.
type Size struct {
	Seats       int
	PeakSeats   int
	Grants      int
	Revocations int
	Denials     int
	// DeniedUsers met the full page at least once.
	DeniedUsers int
}

// Day is one calendar day of the logs' zone.
type Day struct {
	Date        time.Time
	Grants      int
	Revocations int
	Denials     int
	PeakSeats   int
	// FullMinutes counts the minutes in which the full page was shown.
	FullMinutes int
	// MinWindow is the shortest effective window a pressure revocation
	// ran at that day; 0 when pressure revoked nobody.
	MinWindow time.Duration
}

// Point is the seats held at one instant (and by the floor alone).
type Point struct {
	At    time.Time
	Held  int
	Floor int
}

// WindowPoint is the effective window of a pressure run.
type WindowPoint struct {
	At     time.Time
	Window time.Duration
}

// Span is a stretch of whole minutes in which the full page was shown.
type Span struct{ From, To time.Time }

type userInfo struct {
	name     string
	excluded bool
	pools    uint64 // bit i: member of pool i
	active   uint64 // bit i: made real requests in pool i
}

type engine struct {
	opt    Options
	params seats.Params
	users  []userInfo
	byName map[string]int32
	sims   [][]*sim // per pool, per seat count
	floors []*floorTracker
	zone   int64 // seconds east of UTC, from the first line
	// main is the main pool's index; workBits the poolwork bit of each pool.
	main     int
	workBits []uint64
	first    int64 // first replayed second
	last     int64
}

// Run replays inputs and reports per pool.
func Run(opt Options, inputs []Input) (*Result, error) {
	if len(opt.Pools) == 0 {
		return nil, fmt.Errorf("replay: no pools")
	}
	if len(opt.Pools) > 64 {
		return nil, fmt.Errorf("replay: at most 64 pools")
	}
	if opt.Interval <= 0 {
		opt.Interval = time.Minute
	}
	if opt.SampleEvery <= 0 {
		opt.SampleEvery = 10 * time.Minute
	}
	e := &engine{opt: opt, byName: map[string]int32{}, first: -1}
	if opt.Work != nil {
		for i, p := range opt.Pools {
			b := opt.Work.Bit(p.Name)
			e.workBits = append(e.workBits, b)
			if b == opt.Work.Main() {
				e.main = i
			}
		}
	}
	e.params = seats.Params{Floor: opt.Floor, Ceiling: opt.Ceiling, MaxRevocations: opt.MaxRevocations,
		HeartbeatAlive: true, Interval: opt.Interval}
	for i, p := range opt.Pools {
		counts := append([]int(nil), opt.Seats...)
		if len(counts) == 0 {
			counts = []int{p.Seats}
		}
		counts = append(counts, p.Sweep...)
		var ss []*sim
		for j, n := range counts {
			ss = append(ss, newSim(e, i, n, p.Reserve, j == 0))
		}
		e.sims = append(e.sims, ss)
		e.floors = append(e.floors, &floorTracker{floor: int64(opt.Floor / time.Second), idleList: newIdleList()})
	}
	readers := make([]*accesslog.Reader, len(inputs))
	for i, in := range inputs {
		readers[i] = accesslog.NewReader(in.Name, in.R, in.Format)
	}
	e.stream(readers)
	res := e.result()
	for _, r := range readers {
		if r.Err() != nil {
			return nil, r.Err()
		}
		res.Lines += r.Lines()
		res.Skipped += r.Skipped()
		res.Files = append(res.Files, File{Name: r.Name(), Format: r.Format().String(), Lines: r.Lines(), Skipped: r.Skipped()})
	}
	return res, nil
}

func (e *engine) stream(readers []*accesslog.Reader) {
	from, to := int64(-1<<62), int64(1<<62)
	if !e.opt.From.IsZero() {
		from = e.opt.From.Unix()
	}
	if !e.opt.To.IsZero() {
		to = e.opt.To.Unix()
	}
	step := int64(e.opt.Interval / time.Second)
	if step < 1 {
		step = 1
	}
	sample := int64(e.opt.SampleEvery / time.Second)
	var nextRun, nextSample int64
	m := e.sources(readers, from, to)
	for {
		ev, ok := m.next()
		if !ok {
			return
		}
		t := ev.at
		if e.first < 0 {
			e.first, e.zone = t, int64(ev.zone)
			nextRun, nextSample = t+step, t
		}
		if t < e.last {
			t = e.last // a line a little out of order: now is never earlier
		}
		for nextRun <= t || nextSample <= t {
			if nextSample <= nextRun {
				e.sampleAt(nextSample)
				nextSample += sample
				continue
			}
			e.runAt(nextRun)
			nextRun += step
		}
		e.last = t
		u := e.intern(ev.name)
		info := &e.users[u]
		for p := range e.sims {
			if info.pools&ev.mask&(1<<p) == 0 {
				continue
			}
			info.active |= 1 << p
			e.floors[p].activity(u, t)
			for _, s := range e.sims[p] {
				s.activity(u, t)
			}
		}
	}
}

// isActivity is the proxy's own classification of a named request: static
// resources, JSM portal requests and noise rules are not work.
func (e *engine) isActivity(method, path, query string) bool {
	if noise.Static(path) || poolwork.IsPortal(path) {
		return false
	}
	if e.opt.Noise != nil {
		if _, hit := e.opt.Noise.Test(method, path, query); hit {
			return false
		}
	}
	return true
}

func (e *engine) runAt(now int64) {
	for p := range e.sims {
		for _, s := range e.sims[p] {
			s.run(now)
		}
	}
}

func (e *engine) sampleAt(now int64) {
	for p := range e.sims {
		s := e.sims[p][0]
		f := e.floors[p]
		f.expire(now)
		s.detail.sample(now, s.holders, f.n)
		if d := s.detail.at(e.day(now)); s.holders > d.PeakSeats {
			d.PeakSeats = s.holders
		}
	}
}

// intern maps a normalised user name to its id.
func (e *engine) intern(name string) int32 {
	if id, ok := e.byName[name]; ok {
		return id
	}
	id := int32(len(e.users))
	info := userInfo{name: name, excluded: e.opt.Excluded != nil && e.opt.Excluded(name)}
	for p := range e.opt.Pools {
		if e.opt.Member == nil || e.opt.Member(p, name) {
			info.pools |= 1 << p
		}
	}
	e.users = append(e.users, info)
	e.byName[name] = id
	return id
}

// day is the index of t's day in the logs' zone, counted from the first.
func (e *engine) day(t int64) int {
	return int(floorDiv(t+e.zone, 86400) - floorDiv(e.first+e.zone, 86400))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (e *engine) result() *Result {
	zone := time.FixedZone("", int(e.zone))
	res := &Result{Zone: zone}
	if e.first >= 0 {
		res.From, res.To = time.Unix(e.first, 0).In(zone), time.Unix(e.last, 0).In(zone)
	}
	firstDay := time.Unix(floorDiv(e.first+e.zone, 86400)*86400-e.zone, 0).In(zone)
	for p, pool := range e.opt.Pools {
		pr := PoolResult{Name: pool.Name, PeakFloorSeats: e.floors[p].peak}
		for _, u := range e.users {
			if u.active&(1<<p) != 0 {
				pr.Users++
			}
		}
		for _, s := range e.sims[p] {
			pr.Sizing = append(pr.Sizing, Size{Seats: max(s.seats, 0), PeakSeats: s.peak, Grants: s.grants,
				Revocations: s.revocations, Denials: s.denials, DeniedUsers: s.deniedUsers})
		}
		main := e.sims[p][0]
		pr.Seats, pr.PeakSeats = max(main.seats, 0), main.peak
		pr.Grants, pr.Revocations, pr.Denials = main.grants, main.revocations, main.denials
		d := main.detail
		for i, day := range d.days {
			day.Date = firstDay.AddDate(0, 0, i)
			pr.Days = append(pr.Days, day)
		}
		pr.Series = d.series
		pr.Windows = d.windows
		pr.Full = d.spans(zone)
		res.Pools = append(res.Pools, pr)
	}
	return res
}

// bstr views b as a string without copying, for calls that do not keep it
// (the noise matcher, comparisons). b must not change while it is used.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// detail is the first seat count's story, for the table and the chart.
type detail struct {
	days    []Day
	series  []Point
	windows []WindowPoint
	full    []int64 // minutes (Unix/60) with a denial, ascending
}

func (d *detail) at(day int) *Day {
	for len(d.days) <= day {
		d.days = append(d.days, Day{})
	}
	return &d.days[day]
}

func (d *detail) grant(day, held int) {
	x := d.at(day)
	x.Grants++
	x.PeakSeats = max(x.PeakSeats, held)
}

func (d *detail) revoke(day, n int) { d.at(day).Revocations += n }

func (d *detail) deny(day int, t int64) {
	x := d.at(day)
	x.Denials++
	m := t / 60
	if n := len(d.full); n == 0 || d.full[n-1] < m {
		d.full = append(d.full, m)
		x.FullMinutes++
	}
}

func (d *detail) window(day int, now int64, w time.Duration) {
	d.windows = append(d.windows, WindowPoint{At: time.Unix(now, 0), Window: w})
	if x := d.at(day); x.MinWindow == 0 || w < x.MinWindow {
		x.MinWindow = w
	}
}

func (d *detail) sample(now int64, held, floor int) {
	d.series = append(d.series, Point{At: time.Unix(now, 0), Held: held, Floor: floor})
}

// spans merges consecutive full minutes.
func (d *detail) spans(zone *time.Location) []Span {
	var out []Span
	for i := 0; i < len(d.full); {
		j := i
		for j+1 < len(d.full) && d.full[j+1] == d.full[j]+1 {
			j++
		}
		out = append(out, Span{From: time.Unix(d.full[i]*60, 0).In(zone), To: time.Unix((d.full[j]+1)*60, 0).In(zone)})
		i = j + 1
	}
	return out
}
