// Package loggen writes realistic, deterministic Jira access logs for
// replay's tests, its benchmark and its documented example: work days with
// arrivals, lunch and meetings, people who work every day and people who
// come by now and then, browser tabs left open after work that poll
// (noise only, never activity), static resources, and anonymous traffic
// (load-balancer health checks, the login page).
//
// The same Options always give the same bytes.
package loggen

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/floatseat/floatseat/internal/accesslog"
)

// Options say what to generate.
type Options struct {
	Users int
	Days  int
	// Start is the first day (its date in Zone counts, not its time).
	Start time.Time
	// Zone is the servers' zone, written into every timestamp.
	Zone *time.Location
	Seed uint64
	// Format of the lines: Jira (default), Confluence, ConfluenceDocker or
	// Nginx. The paths are Jira's whatever the format.
	Format accesslog.Format
}

func (o Options) norm() Options {
	if o.Zone == nil {
		o.Zone = time.FixedZone("", 3600)
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 3, 2, 0, 0, 0, 0, o.Zone)
	}
	y, m, d := o.Start.In(o.Zone).Date()
	o.Start = time.Date(y, m, d, 0, 0, 0, 0, o.Zone)
	if o.Format == accesslog.Auto {
		o.Format = accesslog.Jira
	}
	return o
}

// Stats count what was written.
type Stats struct {
	Lines     int64 // every line
	Activity  int64 // named, not noise, not static: what counts as work
	Noise     int64 // named background polling and static resources
	Anonymous int64
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.Lines += o.Lines
	s.Activity += o.Activity
	s.Noise += o.Noise
	s.Anonymous += o.Anonymous
}

// UserName is the name of user i.
func UserName(i int) string { return "user" + strconv.Itoa(i+1) }

// kinds of line.
const (
	kWork uint8 = iota
	kStatic
	kNoise // named background request
	kAnon
)

type event struct {
	at   int64 // Unix seconds
	user int32 // -1 for anonymous
	kind uint8
	pick uint16 // which path of its kind
	arg  uint32 // issue number, board id…
}

// profile of a user, fixed for the whole log.
type profile struct {
	pWork    float64 // chance of working on a weekday
	pWeekend float64
	pace     float64 // mean minutes between page views
}

func userProfile(seed uint64, u int) profile {
	r := rand.New(rand.NewPCG(seed, uint64(u)*0x9e3779b97f4a7c15+1))
	switch x := r.Float64(); {
	case x < 0.65: // works here every day
		return profile{pWork: 0.9, pWeekend: 0.04, pace: 2.5 + 3*r.Float64()}
	case x < 0.85: // comes by a few times a month
		return profile{pWork: 0.12, pWeekend: 0.01, pace: 4 + 4*r.Float64()}
	default: // holds a licence, never shows up
		return profile{}
	}
}

// Day writes day d (0-based) of the log to w, in time order.
func Day(opt Options, d int, w io.Writer) (Stats, error) {
	opt = opt.norm()
	date := opt.Start.AddDate(0, 0, d)
	midnight := date.Unix()
	weekend := date.Weekday() == time.Saturday || date.Weekday() == time.Sunday
	var ev []event
	for u := 0; u < opt.Users; u++ {
		ev = userDay(ev, opt.Seed, u, d, midnight, weekend)
	}
	// The load balancer checks every 30 s; people open the login page.
	r := rand.New(rand.NewPCG(opt.Seed^0xa11, uint64(d)))
	for s := int64(0); s < 86400; s += 30 {
		ev = append(ev, event{at: midnight + s, user: -1, kind: kAnon, pick: 0})
	}
	for i := 0; i < opt.Users/10+1; i++ {
		ev = append(ev, event{at: midnight + 7*3600 + r.Int64N(11*3600), user: -1, kind: kAnon, pick: uint16(1 + r.IntN(len(anonPaths)-1))})
	}
	slices.SortStableFunc(ev, func(a, b event) int { return cmp.Compare(a.at, b.at) })

	bw := bufio.NewWriterSize(w, 1<<16)
	var st Stats
	var line []byte
	var lastSec int64 = -1
	var stamp []byte
	for i, e := range ev {
		if e.at != lastSec {
			lastSec = e.at
			stamp = time.Unix(e.at, 0).In(opt.Zone).AppendFormat(stamp[:0], "02/Jan/2006:15:04:05 -0700")
		}
		line = appendLine(line[:0], opt.Format, stamp, e, d, i)
		if _, err := bw.Write(line); err != nil {
			return st, err
		}
		st.Lines++
		switch e.kind {
		case kWork:
			st.Activity++
		case kAnon:
			st.Anonymous++
		default:
			st.Noise++
		}
	}
	return st, bw.Flush()
}

// userDay appends one user's requests of one day.
func userDay(ev []event, seed uint64, u, d int, midnight int64, weekend bool) []event {
	p := userProfile(seed, u)
	r := rand.New(rand.NewPCG(seed+uint64(d)*0x51ed27, uint64(u)))
	pw := p.pWork
	if weekend {
		pw = p.pWeekend
	}
	if pw == 0 || r.Float64() >= pw {
		return ev
	}
	mins := func(m float64) int64 { return int64(m * 60) }
	start := midnight + mins(7*60+r.Float64()*180)    // 07:00–10:00
	end := start + mins(6*60+r.Float64()*240)         // 6–10 h later
	lunch := midnight + mins(11.75*60+r.Float64()*90) // 11:45–13:15
	lunchEnd := lunch + mins(30+r.Float64()*45)       // 30–75 min
	meet := start + mins(60+r.Float64()*240)          // one meeting
	meetEnd := meet + mins(30+r.Float64()*90)         // 30–120 min
	if p.pWork < 0.5 {                                // a short visit
		end = start + mins(20+r.Float64()*150)
	}
	busy := func(t int64) bool { return (t >= lunch && t < lunchEnd) || (t >= meet && t < meetEnd) }

	user := int32(u)
	ev = append(ev, event{at: start, user: user, kind: kWork, pick: 0}) // the login
	for t := start + 5; t < end; t += int64(r.ExpFloat64()*p.pace*60) + 1 {
		if busy(t) {
			continue
		}
		ev = append(ev, event{at: t, user: user, kind: kWork, pick: uint16(1 + r.IntN(len(workPaths)-1)), arg: uint32(1 + r.IntN(4000))})
		for k := 3 + r.IntN(4); k > 0; k-- {
			ev = append(ev, event{at: t + int64(r.IntN(3)), user: user, kind: kStatic, pick: uint16(r.IntN(len(staticPaths))), arg: uint32(r.IntN(90))})
		}
		if r.IntN(3) == 0 {
			ev = append(ev, event{at: t + 1 + int64(r.IntN(4)), user: user, kind: kNoise, pick: uint16(1 + r.IntN(len(noisePaths)-1))})
		}
	}
	// The notification bell polls (every 4 min, backed off) while the tab is open: through the
	// breaks, and on a fifth of days for hours after the person has gone
	// home (a tab left open: noise only, never work).
	tabClose := end
	if r.IntN(5) == 0 {
		tabClose = end + mins(120+r.Float64()*720)
	}
	for t := start + 240; t < tabClose; t += 240 {
		ev = append(ev, event{at: t, user: user, kind: kNoise, pick: 0})
	}
	return ev
}

var workPaths = []string{
	"POST /login.jsp",
	"GET /browse/PROJ-%d",
	"GET /secure/Dashboard.jspa",
	"GET /secure/RapidBoard.jspa?rapidView=%d",
	"GET /rest/api/2/search?jql=assignee%%3DcurrentUser()&startAt=%d",
	"POST /rest/api/2/issue/PROJ-%d/comment",
	"GET /issues/?jql=project%%3DPROJ&startAt=%d",
	"POST /secure/QuickCreateIssue.jspa?decorator=none",
	"GET /rest/greenhopper/1.0/xboard/work/allData.json?rapidViewId=%d",
	"PUT /rest/api/2/issue/PROJ-%d",
}

var staticPaths = []string{
	"GET /s/d41d8cd98f00b204e9800998ecf8427e-CDN/-fgb3ss/940003/6411e0087192541a09d88223fb51a6a0/_/download/batch/jira.webresources:global-static/jira.webresources:global-static.css?a=%d",
	"GET /s/d41d8cd98f00b204e9800998ecf8427e-CDN/-fgb3ss/940003/6411e0087192541a09d88223fb51a6a0/_/download/contextbatch/js/atl.general,jira.global/batch.js?locale=en-UK&x=%d",
	"GET /images/icons/priorities/major.svg?%d",
	"GET /secure/useravatar?size=xsmall&avatarId=%d",
}

var noisePaths = []string{
	"GET /rest/mywork/latest/status/notification/count?_=%d",
	"POST /rest/analytics/1.0/publish/bulk",
	"POST /rest/webResources/1.0/resources",
	"GET /rest/helptips/1.0/tips?_=%d",
	"GET /rest/menu/latest/appswitcher?_=%d",
}

var anonPaths = []string{
	"GET /status",
	"GET /login.jsp",
	"GET /secure/Dashboard.jspa",
	"GET /rest/api/2/serverInfo",
}

func request(e event) string {
	var tpl string
	switch e.kind {
	case kWork:
		tpl = workPaths[e.pick]
	case kStatic:
		tpl = staticPaths[e.pick]
	case kNoise:
		tpl = noisePaths[e.pick]
	default:
		tpl = anonPaths[e.pick]
	}
	return tpl
}

// appendLine formats one event in format f.
func appendLine(b []byte, f accesslog.Format, stamp []byte, e event, d, i int) []byte {
	req := request(e)
	sp := 0
	for sp < len(req) && req[sp] != ' ' {
		sp++
	}
	method, target := req[:sp], req[sp+1:]
	var user string
	ip := "10.20.0.9"
	if e.user >= 0 {
		user = UserName(int(e.user))
		ip = "10.1." + strconv.Itoa(int(e.user)/250) + "." + strconv.Itoa(int(e.user)%250+1)
	}
	status, size := "200", strconv.Itoa(300+int(e.arg)*7%40000)
	if method == "POST" && e.kind == kWork && e.pick == 0 {
		status = "302"
	}
	targetB := appendTarget(nil, target, e.arg)
	ms := strconv.Itoa(3 + (i*7919)%400)
	ua := `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36`
	if e.user < 0 && e.pick == 0 {
		ua = "ELB-HealthChecker/2.0"
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	// clf appends the part the quoted-request formats share:
	// user [time] "METHOD target HTTP/1.1" status bytes
	clf := func(b []byte) []byte {
		b = append(b, dash(user)...)
		b = append(b, " ["...)
		b = append(b, stamp...)
		b = append(b, `] "`...)
		b = append(b, method...)
		b = append(b, ' ')
		b = append(b, targetB...)
		b = append(b, ` HTTP/1.1" `...)
		b = append(b, status...)
		b = append(b, ' ')
		return append(b, size...)
	}
	switch f {
	case accesslog.Confluence:
		b = append(b, '[')
		b = append(b, stamp...)
		b = append(b, "] "...)
		b = append(b, dash(user)...)
		b = append(b, " http-nio-8090-exec-"...)
		b = strconv.AppendInt(b, int64(i%48+1), 10)
		b = append(b, ' ')
		b = append(b, ip...)
		b = append(b, ' ')
		b = append(b, method...)
		b = append(b, ' ')
		b = append(b, targetB...)
		b = append(b, " HTTP/1.1 "...)
		b = append(b, status...)
		b = append(b, ' ')
		b = append(b, ms...)
		b = append(b, "ms "...)
		b = append(b, size...)
		b = append(b, " - "...)
		b = append(b, ua...)
	case accesslog.ConfluenceDocker:
		b = append(b, ip...)
		b = append(b, ' ')
		b = clf(b)
		b = append(b, ' ')
		b = append(b, ms...)
		b = append(b, ' ')
		path := targetB
		for j, c := range targetB {
			if c == '?' {
				path = targetB[:j]
				break
			}
		}
		b = append(b, path...)
		b = append(b, " http-nio-8090-exec-"...)
		b = strconv.AppendInt(b, int64(i%48+1), 10)
		b = append(b, ` "`...)
		b = append(b, ua...)
		b = append(b, '"')
	case accesslog.Nginx:
		b = append(b, ip...)
		b = append(b, " - "...)
		b = clf(b)
		b = append(b, " 0."...)
		b = append(b, fmt.Sprintf("%03d", (i*7919)%400)...)
		b = append(b, ` "-" "`...)
		b = append(b, ua...)
		b = append(b, '"')
	default: // Jira
		b = append(b, ip...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(540+(i/1000)%900), 10)
		b = append(b, 'x')
		b = strconv.AppendInt(b, int64(d*1000000+i), 10)
		b = append(b, "x3 "...)
		b = clf(b)
		b = append(b, ' ')
		b = append(b, ms...)
		b = append(b, ` "-" "`...)
		b = append(b, ua...)
		b = append(b, `" "`...)
		if e.user >= 0 {
			b = strconv.AppendInt(b, int64(e.user)*31+int64(d), 36)
		} else {
			b = append(b, '-')
		}
		b = append(b, '"')
	}
	return append(b, '\n')
}

// appendTarget expands the one %d (and %% escapes) of a path template.
func appendTarget(b []byte, tpl string, arg uint32) []byte {
	for j := 0; j < len(tpl); j++ {
		if tpl[j] == '%' && j+1 < len(tpl) {
			j++
			if tpl[j] == 'd' {
				b = strconv.AppendUint(b, uint64(arg), 10)
			} else {
				b = append(b, tpl[j])
			}
			continue
		}
		b = append(b, tpl[j])
	}
	return b
}

// FileName is the name Jira gives day d's log (access_log.YYYY-MM-DD).
func FileName(opt Options, d int) string {
	opt = opt.norm()
	return "access_log." + opt.Start.AddDate(0, 0, d).Format("2006-01-02")
}

// Write writes every day into its own file in dir and returns the paths,
// in day order.
func Write(opt Options, dir string) ([]string, Stats, error) {
	var all Stats
	var paths []string
	for d := 0; d < opt.Days; d++ {
		p := filepath.Join(dir, FileName(opt, d))
		f, err := os.Create(p)
		if err != nil {
			return paths, all, err
		}
		st, err := Day(opt, d, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, all, fmt.Errorf("%s: %w", p, err)
		}
		all.Add(st)
		paths = append(paths, p)
	}
	return paths, all, nil
}
