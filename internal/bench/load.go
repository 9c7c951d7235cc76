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
	"sync"
	"sync/atomic"
	"time"
)

// Every request carries one of users' session cookies, so floatseat learns
// and tracks that many users.

// warm sends one request per user, so every session is learned before the
// measured runs.
func warm(base string, users int) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer c.CloseIdleConnections()
	for i := 0; i < users; i++ {
		get(c, base, i)
	}
}

const wrkScript = `
local n = %d
local i = 0
request = function()
  i = (i + 1) %% n
  return wrk.format("GET", nil, {["Cookie"] = "JSESSIONID=s" .. i})
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
func runWrk(wrk, base string, dur time.Duration, conns, users int) (load, error) {
	dir, err := os.MkdirTemp("", "floatseat-bench")
	if err != nil {
		return load{}, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "s.lua")
	if err := os.WriteFile(script, fmt.Appendf(nil, wrkScript, users), 0o644); err != nil {
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
func closedLoop(base string, dur time.Duration, conns, users int) load {
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
				if !get(c, base, i%users) {
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
// saturation ("moderate load").
func openLoop(base string, dur time.Duration, rate, users int) (p50, p99 time.Duration) {
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
			get(c, base, i%users)
			lat[i] = time.Since(t)
		}(i)
	}
	wg.Wait()
	return pct(lat)
}

// sweep sends exactly one request for each of users sessions, conns at a
// time: it fills floatseat with that many learned sessions.
func sweep(base string, users, conns int) (errs int64) {
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
				if !get(c, base, i) {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return bad.Load()
}

func get(c *http.Client, base string, user int) bool {
	req, _ := http.NewRequest(http.MethodGet, base, nil)
	req.Header.Set("Cookie", "JSESSIONID=s"+strconv.Itoa(user))
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
