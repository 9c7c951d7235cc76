// Package bench measures what floatseat costs in the chain users run:
// nginx (the shipped deploy/nginx config) → floatseat → the app, against
// nginx → the app, under the same load in one run, with a real Redis. It
// reports requests/s, p50/p99 latency, the ratios, and the CPU time per
// request of floatseat's and nginx's own processes over the run. `make
// bench` runs it through cmd/floatseat-bench; it reports and never fails
// on a number.
package bench

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/floatseat/floatseat/internal/testenv"
	"github.com/floatseat/floatseat/proxy"
)

// Options size one run.
type Options struct {
	Duration   time.Duration // each throughput run
	Conns      int           // connections of the throughput runs
	Rate       int           // requests/s of the moderate-load latency runs
	Users      int           // distinct sessions in the load
	ScaleUsers int           // sessions sent once each for the RSS figure; 0 skips it
	// Wrk is the wrk binary; empty uses the Go load generator.
	Wrk string
	// Floatseat returns the command that runs floatseat with args
	// ("serve --config FILE"): the shipped binary in `make bench`.
	Floatseat func(args ...string) *exec.Cmd
	// Bare returns the command that runs ServeBare(listen, upstream, stdlib) in
	// its own process, so its CPU is measured like floatseat's.
	Bare func(listen, upstream string, stdlib bool) *exec.Cmd
	// Scale measures the reaper and directory figures of the scale line
	// (nil: not measured, printed as n/a).
	Scale func(tb testenv.TB, users int) (Scale, error)
}

// Scale is the second summary line's figures; a negative value was not
// measured.
type Scale struct {
	Users          int
	ReaperPassMS   float64
	RSSMB          float64
	DirectoryCalls float64
}

// Summary is the chain line's figures.
type Summary struct {
	DirectRPS, FloatseatRPS, Ratio float64
	AddedP99MS                     float64
	CPUUsPerReq, NginxCPUUsPerReq  float64
	Scale                          Scale
}

// ChainLine is the first of the two lines `make bench` ends with.
func (s Summary) ChainLine() string {
	return fmt.Sprintf("chain: direct_rps=%.0f floatseat_rps=%.0f ratio=%.3f added_p99_ms=%.3f cpu_us_per_req=%.1f nginx_cpu_us_per_req=%.1f",
		s.DirectRPS, s.FloatseatRPS, s.Ratio, s.AddedP99MS, s.CPUUsPerReq, s.NginxCPUUsPerReq)
}

// ScaleLine is the second; figures not measured are "n/a".
func (s Summary) ScaleLine() string {
	f := func(v float64) string {
		if v < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("scale: users=%d reaper_pass_ms=%s rss_mb=%s directory_calls_per_run=%s",
		s.Scale.Users, f(s.Scale.ReaperPassMS), f(s.Scale.RSSMB), f(s.Scale.DirectoryCalls))
}

// row is one target of the run.
type row struct {
	name       string
	base       string
	load       load
	mp50, mp99 time.Duration  // moderate load
	proc       *child         // the Go proxy process this row goes through, if any
	procCPU    time.Duration  // its CPU over the throughput run
	nginx      *testenv.Nginx // the nginx this row goes through, if any
	ngCPU      time.Duration  // its CPU over the throughput run
}

func (r row) perReq(d time.Duration) float64 {
	if r.load.requests == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(r.load.requests)
}

// Run starts the upstream, Redis, floatseat and two nginx instances in tb,
// drives the same load at every target, prints the tables to out and
// returns the summary. The two summary lines are left to the caller.
func Run(tb testenv.TB, o Options, out io.Writer) (Summary, error) {
	upURL, err := startUpstream(tb)
	if err != nil {
		return Summary{}, err
	}
	bareAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(tb))
	bare, err := startChild(tb, o.Bare(bareAddr, upURL.String(), false), bareAddr)
	if err != nil {
		return Summary{}, err
	}
	stdAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(tb))
	bareStd, err := startChild(tb, o.Bare(stdAddr, upURL.String(), true), stdAddr)
	if err != nil {
		return Summary{}, err
	}
	rd := testenv.StartRedis(tb)
	fs, err := startFloatseat(tb, o, upURL, rd.Addr)
	if err != nil {
		return Summary{}, err
	}
	ngDirect := testenv.StartNginx(tb, upURL.Host)
	ngFS := testenv.StartNginx(tb, fs.proxy)

	rows := []*row{
		{name: "direct", base: "http://" + upURL.Host},
		{name: "bare-reverseproxy", base: "http://" + bareAddr, proc: bare},
		{name: "floatseat", base: "http://" + fs.proxy, proc: fs.child},
		{name: "nginx", base: "http://" + ngDirect.Addr, nginx: ngDirect},
		{name: "nginx+floatseat", base: "http://" + ngFS.Addr, nginx: ngFS, proc: fs.child},
		{name: "bare-stdlib-transport", base: "http://" + stdAddr, proc: bareStd},
	}
	tool := "go"
	if o.Wrk != "" {
		tool = "wrk"
	}
	const path = "/browse/FS-1"
	ss := newSessions("s", o.Users)
	ss.learn("http://" + fs.proxy + path)
	for _, r := range rows {
		url := r.base + path
		ss.warm(url)
		var p0, ng0 time.Duration
		if r.proc != nil {
			if p0, err = cpuTime(r.proc.pid); err != nil {
				return Summary{}, err
			}
		}
		if r.nginx != nil {
			if ng0, err = cpuTime(r.nginx.Pid()); err != nil {
				return Summary{}, err
			}
		}
		if o.Wrk != "" {
			if r.load, err = runWrk(o.Wrk, url, o.Duration, o.Conns, ss); err != nil {
				return Summary{}, err
			}
		} else {
			r.load = closedLoop(url, o.Duration, o.Conns, ss)
		}
		if r.proc != nil {
			p1, _ := cpuTime(r.proc.pid)
			r.procCPU = p1 - p0
		}
		if r.nginx != nil {
			ng1, _ := cpuTime(r.nginx.Pid())
			r.ngCPU = ng1 - ng0
		}
	}
	// Latency at a moderate rate: the targets take turns in short rounds,
	// so a neighbour's burst on shared cores falls on all of them alike;
	// p99 is the median of the rounds' p99s, so one burst does not decide it.
	const rounds = 10
	all := make([][]time.Duration, len(rows))
	p99s := make([][]time.Duration, len(rows))
	for range rounds {
		for i, r := range rows {
			l := openLoop(r.base+path, o.Duration/(2*rounds), o.Rate, ss)
			all[i] = append(all[i], l...)
			_, p99 := pct(l)
			p99s[i] = append(p99s[i], p99)
		}
	}
	for i, r := range rows {
		r.mp50, _ = pct(all[i])
		r.mp99, _ = pct(p99s[i]) // the median round
	}

	fmt.Fprintf(out, "\nfloatseat benchmark: %d users, %v per run, %d connections (%s), %d req/s (moderate load; p99@rate is the median of 10 rounds' p99); floatseat in observe mode on a real redis-server\n\n",
		o.Users, o.Duration, o.Conns, tool, o.Rate)
	fmt.Fprintf(out, "%-21s %10s %9s %9s %9s %10s %10s %14s %14s\n", "target", "req/s", "errors", "p50", "p99", "p50@rate", "p99@rate", "Go proxy µs/req", "nginx µs/req")
	for _, r := range rows {
		fsc, ngc := "-", "-"
		if r.proc != nil {
			fsc = fmt.Sprintf("%.1f", r.perReq(r.procCPU))
		}
		if r.nginx != nil {
			ngc = fmt.Sprintf("%.1f", r.perReq(r.ngCPU))
		}
		fmt.Fprintf(out, "%-21s %10.0f %9d %9v %9v %10v %10v %14s %14s\n", r.name, r.load.rps, r.load.errors,
			r.load.p50.Round(time.Microsecond), r.load.p99.Round(time.Microsecond), r.mp50.Round(time.Microsecond), r.mp99.Round(time.Microsecond), fsc, ngc)
	}
	direct, bareRow, fsRow, ng, chain, stdRow := rows[0], rows[1], rows[2], rows[3], rows[4], rows[5]
	s := Summary{
		DirectRPS:        ng.load.rps,
		FloatseatRPS:     chain.load.rps,
		AddedP99MS:       float64(chain.mp99-ng.mp99) / float64(time.Millisecond),
		CPUUsPerReq:      chain.perReq(chain.procCPU),
		NginxCPUUsPerReq: ng.perReq(ng.ngCPU),
	}
	if s.DirectRPS > 0 {
		s.Ratio = s.FloatseatRPS / s.DirectRPS
	}
	cpuRatio := 0.0
	if s.NginxCPUUsPerReq > 0 {
		cpuRatio = s.CPUUsPerReq / s.NginxCPUUsPerReq
	}
	fmt.Fprintf(out, "\nthe chain users run: nginx → floatseat → app against nginx → app\n")
	fmt.Fprintf(out, "  floatseat CPU per proxied request   %6.1f µs   (target ≤ 25 µs)\n", s.CPUUsPerReq)
	fmt.Fprintf(out, "  nginx CPU per proxied request       %6.1f µs\n", s.NginxCPUUsPerReq)
	fmt.Fprintf(out, "  floatseat CPU / nginx CPU           %6.2f      (target ≤ 2)\n", cpuRatio)
	if c := chain.perReq(chain.ngCPU); c > 0 {
		// The same two processes over the same requests and seconds: the
		// contention of the shared cores falls on both alike.
		fmt.Fprintf(out, "  same ratio, both in the chain run   %6.2f      (nginx %.1f µs/req in front of floatseat)\n", s.CPUUsPerReq/c, c)
	}
	fmt.Fprintf(out, "  p99 added at %d req/s             %6.3f ms   (target ≤ 0.3 ms)\n", o.Rate, s.AddedP99MS)
	fmt.Fprintf(out, "  throughput ratio                    %6.3f      (2 shared cores: a third process shares the CPUs; printed, not chased)\n", s.Ratio)
	fmt.Fprintf(out, "without nginx:\n")
	if bareRow.load.rps > 0 && direct.load.rps > 0 {
		fmt.Fprintf(out, "  throughput floatseat/bare ReverseProxy (same transport and buffer pool) = %.3f; /direct = %.3f\n", fsRow.load.rps/bareRow.load.rps, fsRow.load.rps/direct.load.rps)
	}
	if b := bareRow.perReq(bareRow.procCPU); b > 0 {
		fmt.Fprintf(out, "  CPU per request floatseat/bare ReverseProxy = %.2f (%.1f µs of it is net/http's own proxying)\n", fsRow.perReq(fsRow.procCPU)/b, b)
	}
	fmt.Fprintf(out, "  p99 added vs bare at %d req/s = %.3f ms\n", o.Rate, float64(fsRow.mp99-bareRow.mp99)/float64(time.Millisecond))
	if b, sd := bareRow.perReq(bareRow.procCPU), stdRow.perReq(stdRow.procCPU); b > 0 && sd > 0 {
		fmt.Fprintf(out, "  floatseat's upstream client against net/http's Transport (bare proxies): %.1f against %.1f µs/req (%.2f)\n", b, sd, b/sd)
	}

	s.Scale = Scale{Users: o.ScaleUsers, ReaperPassMS: -1, RSSMB: -1, DirectoryCalls: -1}
	if o.ScaleUsers > 0 {
		mem0, _ := redisUsedMemory(rd.Addr)
		errs := sweep("http://"+fs.proxy+"/browse/FS-1", o.ScaleUsers, o.Conns)
		_, peak, err := rssMB(fs.child.pid)
		if err != nil {
			return s, err
		}
		s.Scale.RSSMB = peak
		fmt.Fprintf(out, "\nfloatseat after %d distinct sessions and users through the proxy (%d errors): peak RSS %.0f MiB\n", o.ScaleUsers, errs, peak)
		// The last activity batches reach Redis within flush_interval (1 s):
		// wait until the write counter stops moving.
		const writesOK = `floatseat_activity_writes_total{result="ok"}`
		for prev, i := fs.metric(tb, writesOK), 0; i < 8; i++ {
			time.Sleep(1500 * time.Millisecond)
			cur := fs.metric(tb, writesOK)
			if cur == prev {
				break
			}
			prev = cur
		}
		if mem1, err := redisUsedMemory(rd.Addr); err == nil && mem0 > 0 && mem1 > mem0 {
			fmt.Fprintf(out, "Redis used_memory grew by %.1f MiB: %.0f bytes per user (a learned session and its activity)\n",
				float64(mem1-mem0)/(1<<20), float64(mem1-mem0)/float64(o.ScaleUsers))
		}
	}
	if o.Scale != nil {
		sc, err := o.Scale(tb, o.ScaleUsers)
		if err != nil {
			return s, err
		}
		if sc.ReaperPassMS >= 0 {
			s.Scale.ReaperPassMS = sc.ReaperPassMS
		}
		if sc.DirectoryCalls >= 0 {
			s.Scale.DirectoryCalls = sc.DirectoryCalls
		}
		if sc.RSSMB > s.Scale.RSSMB { // the larger of the two peaks
			s.Scale.RSSMB = sc.RSSMB
		}
	}
	writes := fs.metric(tb, `floatseat_activity_writes_total{result="ok"}`)
	fmt.Fprintf(out, "Redis activity writes over the whole run: %s (bounded by users × runs / activity.resolution, whatever the rate)\n", writes)
	return s, nil
}

// startUpstream serves a Jira-like page naming the session's user in
// X-AUSERNAME.
func startUpstream(tb testenv.TB) (*url.URL, error) {
	body := []byte(strings.Repeat("x", 1024))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := "anonymous"
		if c, err := r.Cookie("JSESSIONID"); err == nil {
			u = "user-" + strings.TrimPrefix(c.Value, "s")
		}
		w.Header().Set("X-AUSERNAME", u)
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		_, _ = w.Write(body)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return url.Parse("http://" + ln.Addr().String())
}

// ServeBare runs a stdlib ReverseProxy on listen in front of upstream
// with floatseat's transport and buffer pool: the cost of proxying in Go,
// without floatseat's work. With stdlib, the transport is net/http's own
// (proxy.StdlibTransport), configured alike. The benchmark runs it as its
// own process.
func ServeBare(listen, upstream string, stdlib bool) error {
	up, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	tr := proxy.Transport(5*time.Minute, 256)
	if stdlib {
		tr = proxy.StdlibTransport(5*time.Minute, 256)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(up); pr.SetXForwarded() },
		Transport:  tr,
		BufferPool: proxy.NewBufferPool(256),
		ErrorLog:   log.New(io.Discard, "", 0), // wrk closing connections at the end is not news
	}
	// The server timeouts floatseat serves with by default
	// (proxy.read_header_timeout, proxy.idle_timeout): each costs deadline
	// changes per request, and a Go proxy in production sets them.
	srv := &http.Server{Addr: listen, Handler: rp, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: log.New(io.Discard, "", 0)}
	return srv.ListenAndServe()
}

// child is a Go proxy running as its own process.
type child struct {
	pid int
	out *lockedBuf
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startChild starts cmd, stops it in tb's cleanup, and waits until every
// address in addrs accepts connections.
func startChild(tb testenv.TB, cmd *exec.Cmd, addrs ...string) (*child, error) {
	c := &child{out: &lockedBuf{}}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	c.pid = cmd.Process.Pid
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	for _, a := range addrs {
		if err := testenv.WaitTCP(tb.Context(), a, 30*time.Second); err != nil {
			return nil, fmt.Errorf("%s did not start: %w\n%s", cmd.Path, err, c.out.String())
		}
	}
	return c, nil
}

// fsProc is floatseat running as its own process.
type fsProc struct {
	*child
	proxy, admin string
}

func startFloatseat(tb testenv.TB, o Options, up *url.URL, redisAddr string) (*fsProc, error) {
	dir := tb.TempDir()
	p := &fsProc{
		proxy: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(tb)),
		admin: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(tb)),
	}
	yaml := fmt.Sprintf(`product: jira
listen: %q
upstream: %q
mode: observe
admin: {listen: %q}
redis: {addr: %q, key_prefix: "floatseat:bench"}
pools: [{name: jira-software, license_groups: [jira-software-users], seats: 100}]
log: {level: error}
`, p.proxy, up.String(), p.admin, redisAddr)
	cf := filepath.Join(dir, "floatseat.yaml")
	if err := os.WriteFile(cf, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	cmd := o.Floatseat("serve", "--config", cf)
	cmd.Dir = dir
	c, err := startChild(tb, cmd, p.proxy, p.admin)
	if err != nil {
		return nil, err
	}
	p.child = c
	return p, nil
}

// metric returns the value of one sample line of floatseat's /metrics.
func (p *fsProc) metric(tb testenv.TB, sample string) string {
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return "0"
}
