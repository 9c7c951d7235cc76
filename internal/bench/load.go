package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Every request carries one of the sessions' Cookie headers, so floatseat
// learns and tracks that many users. Like a browser, a session sends back
// the hint cookie floatseat set on its first response; every target gets
// the same bytes.
type sessions []string

// newSessions returns n sessions with only their JSESSIONID, prefix and
// a number.
func newSessions(prefix string, n int) sessions {
	s := make(sessions, n)
	for i := range s {
		s[i] = "JSESSIONID=" + prefix + strconv.Itoa(i)
	}
	return s
}

// learn sends one request per session to base and keeps the cookies the
// response sets (floatseat's hint), as a browser would.
func (s sessions) learn(base string) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer c.CloseIdleConnections()
	for i := range s {
		req, _ := http.NewRequest(http.MethodGet, base, nil)
		req.Header.Set("Cookie", s[i])
		resp, err := c.Do(req)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		for _, ck := range resp.Cookies() {
			s[i] += "; " + ck.Name + "=" + ck.Value
		}
	}
}

// warm sends one request per session, so every session is known before
// the measured runs.
func (s sessions) warm(base string) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer c.CloseIdleConnections()
	for i := range s {
		s.get(c, base, i)
	}
}

const wrkScript = `
local cookies = {%s}
local n = #cookies
local i = 0
request = function()
  i = i %% n + 1
  return wrk.format("GET", nil, {["Cookie"] = cookies[i]})
end
`

var (
	wrkRPS  = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkReqs = regexp.MustCompile(`(\d+) requests in`)
	wrkLat  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	wrkErrs = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// load is what one throughput run measured.
type load struct {
	rps      float64
	requests int64
	errors   int64
	p50, p99 time.Duration
}

// runWrk runs wrk against base for dur with conns connections.
func runWrk(wrk, base string, dur time.Duration, conns int, ss sessions) (load, error) {
	dir, err := os.MkdirTemp("", "floatseat-bench")
	if err != nil {
		return load{}, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "s.lua")
	quoted := make([]string, len(ss))
	for i, c := range ss {
		quoted[i] = strconv.Quote(c)
	}
	if err := os.WriteFile(script, fmt.Appendf(nil, wrkScript, strings.Join(quoted, ",")), 0o644); err != nil {
		return load{}, err
	}
	secs := max(1, int(dur.Round(time.Second)/time.Second))
	out, err := exec.Command(wrk, "-t2", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(secs)+"s",
		"--latency", "-s", script, base).CombinedOutput()
	if err != nil {
		return load{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	m, n := wrkRPS.FindSubmatch(out), wrkReqs.FindSubmatch(out)
	if m == nil || n == nil {
		return load{}, fmt.Errorf("wrk output not understood:\n%s", out)
	}
	var l load
	l.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	l.requests, _ = strconv.ParseInt(string(n[1]), 10, 64)
	if e := wrkErrs.FindSubmatch(out); e != nil {
		l.errors, _ = strconv.ParseInt(string(e[1]), 10, 64)
	}
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}
	for _, s := range wrkLat.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(s[2]), 64)
		d := time.Duration(v * float64(unit[string(s[3])]))
		if string(s[1]) == "50" {
			l.p50 = d
		} else {
			l.p99 = d
		}
	}
	return l, nil
}

// closedLoop is the stand-in for wrk: conns workers sending back to back.
func closedLoop(base string, dur time.Duration, conns int, ss sessions) load {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	defer c.CloseIdleConnections()
	var n, errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	end := start.Add(dur)
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<12)
			for i := w; time.Now().Before(end); i += conns {
				t := time.Now()
				if !ss.get(c, base, i%len(ss)) {
					errs.Add(1)
				}
				local = append(local, time.Since(t))
				n.Add(1)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	p50, p99 := pct(lat)
	return load{rps: float64(n.Load()) / time.Since(start).Seconds(), requests: n.Load(), errors: errs.Load(), p50: p50, p99: p99}
}

// openLoop sends a fixed request rate, so latency is measured below
// saturation ("moderate load"), and returns every request's latency.
func openLoop(base string, dur time.Duration, rate int, ss sessions) []time.Duration {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer c.CloseIdleConnections()
	interval := time.Second / time.Duration(rate)
	total := max(1, int(dur/interval))
	lat := make([]time.Duration, total)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d) // pacing the load, not waiting for a condition
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t := time.Now()
			ss.get(c, base, i%len(ss))
			lat[i] = time.Since(t)
		}(i)
	}
	wg.Wait()
	return lat
}

// sweep sends exactly one request for each of users sessions, conns at a
// time: it fills floatseat with that many learned sessions.
func sweep(base string, users, conns int) (errs int64) {
	ss := newSessions("scale", users) // none of them seen before
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	defer c.CloseIdleConnections()
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= users {
					return
				}
				if !ss.get(c, base, i) {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return bad.Load()
}

func (s sessions) get(c *http.Client, base string, i int) bool {
	req, _ := http.NewRequest(http.MethodGet, base, nil)
	req.Header.Set("Cookie", s[i])
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func pct(l []time.Duration) (time.Duration, time.Duration) {
	if len(l) == 0 {
		return 0, 0
	}
	slices.Sort(l)
	return l[len(l)*50/100], l[len(l)*99/100]
}
