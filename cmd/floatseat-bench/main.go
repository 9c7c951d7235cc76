// Command floatseat-bench measures what floatseat costs per request. In one
// run it drives the same load at an upstream directly, through a bare
// httputil.ReverseProxy, and through floatseat (with a real redis-server),
// and prints requests/s, p50 and p99 latency and the ratios. `make bench`
// runs it; it reports and never fails on a number.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/floatseat/floatseat/internal/app"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/proxy"
)

func main() {
	dur := flag.Duration("duration", 10*time.Second, "length of each throughput run")
	conns := flag.Int("connections", 32, "concurrent connections for the throughput run")
	rate := flag.Int("rate", 1000, "requests/s of the moderate-load latency run")
	users := flag.Int("users", 200, "distinct users (sessions) in the load")
	flag.Parse()
	if err := run(*dur, *conns, *rate, *users); err != nil {
		fmt.Fprintln(os.Stderr, "floatseat-bench:", err)
		os.Exit(1)
	}
}

type result struct {
	name       string
	rps        float64
	p50, p99   time.Duration
	mp50, mp99 time.Duration // moderate load
	errors     int64
	tool       string
}

func run(dur time.Duration, conns, rate, users int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Upstream: a Jira-like answer naming the session's user.
	body := []byte(strings.Repeat("x", 1024))
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := "anonymous"
		if c, err := r.Cookie("JSESSIONID"); err == nil {
			u = "user-" + strings.TrimPrefix(c.Value, "s")
		}
		w.Header().Set("X-AUSERNAME", u)
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		_, _ = w.Write(body)
	})}
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go up.Serve(upLn)
	upURL, _ := url.Parse("http://" + upLn.Addr().String())

	// Bare ReverseProxy with the same transport floatseat uses.
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(upURL); pr.SetXForwarded() },
		Transport: proxy.Transport(5*time.Minute, 256),
		ErrorLog:  log.New(io.Discard, "", 0), // wrk closing connections at the end is not news
	}
	bareLn, _ := net.Listen("tcp", "127.0.0.1:0")
	go (&http.Server{Handler: bare}).Serve(bareLn)

	// floatseat with a real redis-server.
	redisAddr, stopRedis, err := startRedis()
	if err != nil {
		return err
	}
	defer stopRedis()
	yaml := fmt.Sprintf("product: jira\nlisten: 127.0.0.1:0\nupstream: %s\nmode: observe\nadmin: {listen: 127.0.0.1:0}\nredis: {addr: %q}\npools: [{name: jira-software, license_groups: [jira-software-users], seats: 100}]\nlog: {level: error}\n", upURL, redisAddr)
	cfg, _, errs := config.Parse([]byte(yaml), "", func(string) string { return "" })
	if len(errs) > 0 {
		return fmt.Errorf("config: %v", errs)
	}
	fs, err := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	go fs.Run(ctx)

	targets := []struct{ name, addr string }{
		{"direct", upLn.Addr().String()},
		{"bare-reverseproxy", bareLn.Addr().String()},
		{"floatseat", fs.ProxyAddr()},
	}
	wrk, _ := exec.LookPath("wrk")
	var results []result
	for _, t := range targets {
		base := "http://" + t.addr + "/browse/FS-1"
		warm(base, users)
		res := result{name: t.name}
		if wrk != "" {
			res.tool = "wrk"
			res.rps, res.p50, res.p99, err = runWrk(wrk, base, dur, conns, users)
			if err != nil {
				return err
			}
		} else {
			res.tool = "go"
			res.rps, res.p50, res.p99, res.errors = closedLoop(base, dur, conns, users)
		}
		res.mp50, res.mp99 = openLoop(base, dur/2, rate, users)
		results = append(results, res)
	}

	fmt.Printf("\nfloatseat benchmark: %d users, %v per run, %d connections (throughput), %d req/s (moderate load)\n\n", users, dur, conns, rate)
	fmt.Printf("%-18s %5s %12s %10s %10s %12s %12s\n", "target", "tool", "req/s", "p50", "p99", "p50@rate", "p99@rate")
	for _, r := range results {
		fmt.Printf("%-18s %5s %12.0f %10v %10v %12v %12v\n", r.name, r.tool, r.rps, r.p50, r.p99, r.mp50, r.mp99)
	}
	d, b, f := results[0], results[1], results[2]
	fmt.Printf("\nthroughput floatseat/bare   = %.3f  (target ≥ 0.90)\n", f.rps/b.rps)
	fmt.Printf("throughput floatseat/direct = %.3f\n", f.rps/d.rps)
	fmt.Printf("p99 added vs bare at %d req/s   = %v  (target < 1ms)\n", rate, f.mp99-b.mp99)
	fmt.Printf("p99 added vs direct at %d req/s = %v\n", rate, f.mp99-d.mp99)

	// Redis writes are bounded by users × runs/resolution, whatever the rate.
	time.Sleep(2 * cfg.Activity.FlushInterval) // let the last batch flush before reading the counter
	writes := counter(fs, "floatseat_activity_writes_total", "result", "ok")
	reqs := counter(fs, "floatseat_http_requests_total", "class", "activity")
	fmt.Printf("\nactivity requests through floatseat: %.0f; Redis activity writes: %.0f (%d users, resolution %v)\n",
		reqs, writes, users, cfg.Activity.Resolution)
	return nil
}

func warm(base string, users int) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for i := 0; i < users; i++ {
		req, _ := http.NewRequest(http.MethodGet, base, nil)
		req.Header.Set("Cookie", "JSESSIONID=s"+strconv.Itoa(i))
		if resp, err := c.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
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
	wrkRPS = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkLat = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
)

func runWrk(wrk, base string, dur time.Duration, conns, users int) (float64, time.Duration, time.Duration, error) {
	dir, _ := os.MkdirTemp("", "floatseat-bench")
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "s.lua")
	_ = os.WriteFile(script, []byte(fmt.Sprintf(wrkScript, users)), 0o644)
	out, err := exec.Command(wrk, "-t2", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(int(dur.Seconds()))+"s",
		"--latency", "-s", script, base).CombinedOutput()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return 0, 0, 0, fmt.Errorf("wrk output not understood:\n%s", out)
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	var p50, p99 time.Duration
	for _, l := range wrkLat.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(l[2]), 64)
		d := time.Duration(v * float64(map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(l[3])]))
		if string(l[1]) == "50" {
			p50 = d
		} else {
			p99 = d
		}
	}
	return rps, p50, p99, nil
}

// closedLoop: conns workers sending back to back.
func closedLoop(base string, dur time.Duration, conns, users int) (float64, time.Duration, time.Duration, int64) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	var n, errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	end := time.Now().Add(dur)
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<16)
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
	return float64(n.Load()) / dur.Seconds(), p50, p99, errs.Load()
}

// openLoop: a fixed request rate, so latency is measured below saturation.
func openLoop(base string, dur time.Duration, rate, users int) (time.Duration, time.Duration) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	interval := time.Second / time.Duration(rate)
	total := int(dur / interval)
	lat := make([]time.Duration, total)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
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
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[len(l)*50/100], l[len(l)*99/100]
}

func startRedis() (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("redis-server not found: run `make bench` (it installs it)")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, _ := os.MkdirTemp("", "floatseat-bench-redis")
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return addr, func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); os.RemoveAll(dir) }, nil
}

func counter(a *app.App, name, label, value string) float64 {
	mfs, _ := a.Registry().Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabel(m, label, value) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == k && lp.GetValue() == v {
			return true
		}
	}
	return false
}
