package replay

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/accesslog"
	"github.com/floatseat/floatseat/internal/noise"
	"github.com/floatseat/floatseat/internal/poolwork"
)

// jiraLog writes Jira access log lines from "HH:MM[:SS] user METHOD path"
// on 2 March 2026 (+0100); "-" is anonymous.
func jiraLog(events ...string) string {
	var b strings.Builder
	for i, ev := range events {
		f := strings.Fields(ev)
		clock := f[0]
		if strings.Count(clock, ":") == 1 {
			clock += ":00"
		}
		fmt.Fprintf(&b, `10.0.0.%d %dx%dx1 %s [02/Mar/2026:%s +0100] "%s %s HTTP/1.1" 200 512 12 "-" "Mozilla/5.0" "s%d"`+"\n",
			i%250+1, 540, i, f[1], clock, f[2], f[3], i)
	}
	return b.String()
}

func jiraNoise(t *testing.T) *noise.Set {
	t.Helper()
	s, errs := noise.Build("jira", noise.Config{Defaults: true})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return s
}

func opts(t *testing.T, seats, reserve int) Options {
	return Options{
		Pools: []Pool{{Name: "jira-software", Seats: seats, Reserve: reserve}},
		Floor: time.Hour, Ceiling: 168 * time.Hour, Interval: time.Minute, MaxRevocations: 50,
		Noise: jiraNoise(t),
	}
}

func run(t *testing.T, o Options, log string) PoolResult {
	t.Helper()
	res, err := Run(o, []Input{{Name: "access_log", R: strings.NewReader(log), Format: accesslog.Auto}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Pools[0]
}

func TestFloorOnlyPeak(t *testing.T) {
	// ann 09:00–10:00; bob 10:30 (ann holds to 11:00): 2 at once.
	// cat 11:30: ann gone, bob exactly a floor idle still holds: 2.
	// dan 11:31: bob 61 min idle has let go: 2. Never 3.
	log := jiraLog(
		"09:00 ann GET /secure/Dashboard.jspa",
		"09:30 ann GET /browse/A-1",
		"10:00 ann GET /browse/A-2",
		"10:30 bob GET /browse/A-3",
		"11:30 cat GET /browse/A-4",
		"11:31 dan GET /browse/A-5",
	)
	p := run(t, opts(t, 0, 0), log)
	if p.Users != 4 || p.PeakFloorSeats != 2 || p.PeakSeats != 4 || p.Grants != 4 || p.Revocations != 0 || p.Denials != 0 {
		t.Fatalf("got %+v; want users 4, peak_floor_seats 2, peak_seats 4 (the 168 h ceiling keeps everyone), 4 grants", p)
	}
	// Adding cat a minute earlier overlaps bob and ann's... no: ann let go
	// at 11:00. Three at once needs three within one floor.
	log = jiraLog("09:00 ann GET /browse/A-1", "09:59 bob GET /browse/A-2", "10:00 cat GET /browse/A-3")
	if p := run(t, opts(t, 0, 0), log); p.PeakFloorSeats != 3 {
		t.Fatalf("three users within one floor: peak_floor_seats %d, want 3", p.PeakFloorSeats)
	}
}

func TestNoiseOnlyTabNeverCounts(t *testing.T) {
	ev := []string{"09:00 ann GET /browse/A-1"}
	// ann's tab polls the notification bell (a default noise rule) and
	// loads static resources until 18:00; eve only ever polls.
	for m := 9*60 + 5; m < 18*60; m += 5 {
		c := fmt.Sprintf("%02d:%02d", m/60, m%60)
		ev = append(ev, c+" ann GET /rest/mywork/latest/status/notification/count",
			c+" eve GET /rest/mywork/1/status/notification/count", c+" ann GET /s/abc/_/download/batch/x.js")
	}
	ev = append(ev, "12:00 bob GET /browse/A-2", "12:05 cat GET /browse/A-3", "12:06 - GET /login.jsp")
	sortEvents(ev)
	// Two seats, reserve 1: when bob takes the second seat, the reaper must
	// free one, and ann, idle 3 h for all her polling, is past the floor.
	p := run(t, opts(t, 2, 1), jiraLog(ev...))
	if p.Users != 3 || p.Denials != 0 || p.Revocations != 1 || p.PeakSeats != 2 || p.Grants != 3 {
		t.Fatalf("got %+v; want users 3 (eve's polling is no work), ann revoked under pressure, cat granted, 0 denials", p)
	}
	if len(p.Windows) != 1 || p.Windows[0].Window <= time.Hour {
		t.Fatalf("effective window points %+v: want one pressure run past the floor", p.Windows)
	}
}

func TestGapJustUnderAndJustOverTheFloor(t *testing.T) {
	// One seat kept with a reserve of 1: ann holds it from 09:00; bob
	// wants it. At 10:00 ann is exactly a floor idle: still protected.
	under := run(t, opts(t, 1, 1), jiraLog("09:00 ann GET /browse/A-1", "10:00 bob GET /browse/A-2"))
	if under.Denials != 1 || under.Revocations != 0 || under.Grants != 1 {
		t.Fatalf("just under the floor: %+v; want bob denied, ann kept", under)
	}
	// At 10:02 the 10:01 run found ann 61 min idle and freed the seat.
	over := run(t, opts(t, 1, 1), jiraLog("09:00 ann GET /browse/A-1", "10:02 bob GET /browse/A-2"))
	if over.Denials != 0 || over.Revocations != 1 || over.Grants != 2 || over.PeakSeats != 1 {
		t.Fatalf("just over the floor: %+v; want ann revoked, bob granted", over)
	}
	if d := over.Days[0]; d.Grants != 2 || d.Revocations != 1 || d.MinWindow != 61*time.Minute {
		t.Fatalf("day detail %+v; want 2 grants, 1 revocation, window 61m", d)
	}
}

func TestPressureWithFewSeats(t *testing.T) {
	// Ten people arrive a minute apart and keep working: three seats, the
	// floor protects them all, so seven meet the full page, and the seats
	// are never exceeded.
	var ev []string
	for m := 0; m < 120; m += 10 {
		for i := 0; i < 10; i++ {
			ev = append(ev, fmt.Sprintf("09:%02d:%02d u%d GET /browse/A-%d", m/2, i, i, i))
		}
	}
	sortEvents(ev)
	o := opts(t, 3, 1)
	o.SampleEvery = time.Minute
	p := run(t, o, jiraLog(ev...))
	if p.Denials == 0 || p.PeakSeats > 3 || p.Grants != 3 || p.Revocations != 0 || p.PeakFloorSeats != 10 {
		t.Fatalf("got %+v; want denials, at most 3 seats held, 3 grants, peak_floor_seats 10", p)
	}
	for _, s := range p.Series {
		if s.Held > 3 {
			t.Fatalf("held %d seats at %s", s.Held, s.At)
		}
	}
	if len(p.Full) == 0 || p.Days[0].FullMinutes == 0 {
		t.Fatalf("no full-page minutes recorded: %+v", p.Days)
	}
}

func TestExclusions(t *testing.T) {
	log := jiraLog("09:00 svc-ci POST /rest/api/2/issue", "11:00 ann GET /browse/A-1")
	o := opts(t, 1, 1)
	if p := run(t, o, log); p.Revocations != 1 || p.Denials != 0 {
		t.Fatalf("without the exclusion: %+v; want svc-ci revoked, ann granted", p)
	}
	o.Excluded = func(u string) bool { return u == "svc-ci" }
	if p := run(t, o, log); p.Revocations != 0 || p.Denials != 1 || p.PeakSeats != 1 {
		t.Fatalf("svc-ci excluded: %+v; want nobody revoked, ann denied", p)
	}
}

func TestCaseInsensitiveUsersAndContextPath(t *testing.T) {
	o := opts(t, 0, 0)
	o.ContextPath = "/jira"
	p := run(t, o, jiraLog("09:00 Ann GET /jira/browse/A-1", "09:01 ann GET /jira/rest/mywork/latest/status/notification/count",
		"09:02 ANN GET /jira/browse/A-2", "09:03 bob GET /jira/s/x/_/y.css"))
	if p.Users != 1 || p.Grants != 1 {
		t.Fatalf("got %+v; want one user (Ann = ann = ANN), bob's static request no work", p)
	}
}

func TestFromToAndOutOfOrderFiles(t *testing.T) {
	day1 := jiraLog("09:00 ann GET /browse/A-1")
	day2 := strings.ReplaceAll(jiraLog("09:00 bob GET /browse/A-1", "10:00 cat GET /browse/A-2"), "02/Mar", "03/Mar")
	o := opts(t, 0, 0)
	o.From = time.Date(2026, 3, 3, 9, 30, 0, 0, time.FixedZone("", 3600))
	res, err := Run(o, []Input{{Name: "2", R: strings.NewReader(day2)}, {Name: "1", R: strings.NewReader(day1 + "junk\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 4 || res.Skipped != 1 || res.Pools[0].Users != 1 || !res.From.Equal(o.From.Add(30*time.Minute)) {
		t.Fatalf("got lines %d skipped %d users %d from %s", res.Lines, res.Skipped, res.Pools[0].Users, res.From)
	}
}

// sortEvents orders "HH:MM[:SS] …" strings by their clock.
func sortEvents(ev []string) {
	key := func(s string) string {
		c := strings.Fields(s)[0]
		if strings.Count(c, ":") == 1 {
			c += ":00"
		}
		return c
	}
	for i := 1; i < len(ev); i++ {
		for j := i; j > 0 && key(ev[j]) < key(ev[j-1]); j-- {
			ev[j], ev[j-1] = ev[j-1], ev[j]
		}
	}
}

// With the pools' work rules, a queue is the agent pool's work and a board
// the main pool's; portal customers are nobody's.
func TestPerPoolWork(t *testing.T) {
	work, err := poolwork.New([]poolwork.Pool{{Name: "jira-software"}, {Name: "jsm", Paths: poolwork.JSMPaths()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := opts(t, 0, 0)
	o.Pools = append(o.Pools, Pool{Name: "jsm"})
	o.Work = work
	res, err := Run(o, []Input{{Name: "log", R: strings.NewReader(jiraLog(
		"09:00 ann GET /secure/RapidBoard.jspa",
		"09:01 bob GET /projects/HELP/queues/custom/1",
		"09:02 bob GET /browse/DEV-7",
		"09:03 cus GET /servicedesk/customer/portal/1",
	))}})
	if err != nil {
		t.Fatal(err)
	}
	jsw, jsm := res.Pools[0], res.Pools[1]
	if jsw.Users != 2 || jsw.Grants != 2 || jsm.Users != 1 || jsm.Grants != 1 {
		t.Fatalf("jsw %+v, jsm %+v; want ann and bob in Software, only bob an agent, the customer nowhere", jsw, jsm)
	}
}
