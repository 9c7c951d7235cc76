// Package scale measures floatseat on a large estate: a reaper pass over N
// licensed users (policy and Redis reads; the directory is an in-memory
// stand-in), the directory calls a run costs when the membership view is
// fresh and in steady state, and the peak RSS of one replica holding N
// learned sessions, N users' activity and the revoked records of 90% of
// them. `floatseat-bench` prints its figures as the `scale:` line; a test
// runs it at a tiny size.
package scale

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/activity"
	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/keeper"
	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/reaper"
	"github.com/floatseat/floatseat/internal/store"
)

// Options of a run.
type Options struct {
	Users int // licensed users (default 100,000)
	// RevokedShare of them hold a revoked record in the steady state
	// (default 0.9, as on an estate where most named users are idle).
	RevokedShare float64
	// Store is an empty Redis (a key prefix of its own) the run fills.
	Store *store.Store
	// PageSize is how many members one directory call returns, for
	// counting calls as a paging backend would (default 50: the Jira and
	// Confluence REST maximum).
	PageSize int
	Log      *slog.Logger
}

// Result holds the figures of a run.
type Result struct {
	Users int
	// ReaperPass is a steady reaper run over Users licensed users
	// (membership view fresh, so no directory listing): lock, reconcile,
	// activity reads, policy, reports.
	ReaperPass time.Duration
	// ReaperPassCPU is the CPU time this process spent in that pass
	// (Redis's own excluded): on a loaded machine the wall time mostly
	// measures the wait for a core.
	ReaperPassCPU time.Duration
	// ReaperPassRevoked is a steady run with RevokedShare of them revoked
	// (fewer licensed users, the revoked records reconciled).
	ReaperPassRevoked time.Duration
	// DirCallsFresh is what the first run costs the directory (every
	// group listed in full, in pages); DirCallsSteady what a later run
	// within the refresh interval costs (the reconcile sweep only).
	DirCallsFresh, DirCallsSteady int
	// RSSMB is the peak resident set of this process while it held the
	// replica's state, in MiB; HeapMB the live heap after a GC.
	RSSMB, HeapMB float64
	// RedisBytesPerUser is Redis's used_memory growth per user (activity,
	// learned session, revoked record).
	RedisBytesPerUser float64
	Learned           int // learned sessions written to Redis
}

// Line is the summary `make bench` prints and scripts read.
func (r Result) Line() string {
	return fmt.Sprintf("scale: users=%d reaper_pass_ms=%d rss_mb=%d directory_calls_per_run=%d",
		r.Users, r.ReaperPass.Milliseconds(), int(r.RSSMB+0.5), r.DirCallsSteady)
}

const pool, group, admins = "jira-software", "jira-software-users", "jira-administrators"

// Run fills o.Store and measures. It takes a minute at 100,000 users.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Users <= 0 {
		o.Users = 100000
	}
	if o.RevokedShare <= 0 {
		o.RevokedShare = 0.9
	}
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	st := o.Store
	res := Result{Users: o.Users}
	now := time.Now()
	mem0, _ := st.UsedMemory(ctx)

	dir := newDirectory(o.PageSize)
	users := make([]string, o.Users)
	for i := range users {
		users[i] = fmt.Sprintf("user%06d", i)
		dir.add(users[i], group)
	}
	dir.add("admin", admins)

	// Every user active 6 h to 4 days ago: past the session timeout,
	// within max_idle, so a pass judges everybody and revokes nobody.
	batch := make([]store.Activity, 0, 1000)
	for i, u := range users {
		idle := 6*time.Hour + time.Duration(i%90)*time.Hour
		batch = append(batch, store.Activity{User: u, At: now.Add(-idle), Pools: []string{pool}})
		if len(batch) == cap(batch) || i == len(users)-1 {
			if err := st.RecordActivity(ctx, batch); err != nil {
				return res, err
			}
			batch = batch[:0]
		}
	}
	if err := st.Heartbeat(ctx, "scale-old", now.Add(-240*time.Hour)); err != nil {
		return res, err
	}
	if err := st.Heartbeat(ctx, "scale", now); err != nil {
		return res, err
	}
	if err := st.SetLicense(ctx, pool, store.LicenseCount{Seats: 2 * o.Users, Used: o.Users}, now); err != nil {
		return res, err
	}

	// The replica's parts, as app wires them.
	quiet := o.Log
	reg := prometheus.NewRegistry()
	view := membership.New(membership.Options{Dir: dir, Groups: []string{group},
		Exclude:  membership.Exclusions{Groups: []string{admins}, ServiceAccount: "svc"},
		Interval: time.Hour, Log: quiet})
	kp, err := keeper.New(keeper.Options{
		Pools: []keeper.Pool{{Name: pool, LicenseGroups: []string{group}, DefaultGroups: []string{group}}},
		Dir:   dir, Members: view, Store: st, Audit: audit.New(st, quiet, 1000, "scale", "enforce"),
		Immediate: true, GrantTimeout: 3 * time.Second, Floor: 5 * time.Hour, Log: quiet, Reg: reg,
	})
	if err != nil {
		return res, err
	}
	rp, err := reaper.New(reaper.Options{
		Pools: []reaper.Pool{{Name: pool, LicenseGroups: []string{group}, Reserve: 5}},
		Store: st, Members: view, Keeper: kp, Replica: "scale", Interval: time.Minute, LockTTL: 2 * time.Minute,
		HeartbeatMaxAge: time.Hour, Floor: 5 * time.Hour, Ceiling: 168 * time.Hour, MaxRevocations: 50,
		Log: quiet, Reg: reg,
	})
	if err != nil {
		return res, err
	}

	// Fresh: the first run lists every group.
	if err := rp.RunOnce(ctx); err != nil {
		return res, fmt.Errorf("first reaper run: %w", err)
	}
	res.DirCallsFresh = dir.take()
	cpu0 := cpuTime()
	d, err := timed(ctx, rp)
	if err != nil {
		return res, err
	}
	res.ReaperPass, res.ReaperPassCPU = d, cpuTime()-cpu0
	dir.take()

	// Steady state: RevokedShare of the users revoked by floatseat (their
	// licence group removed, a record kept), all of them with a learned
	// session. Peak RSS is measured from here, over what a replica holds.
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	nRevoked := int(float64(o.Users) * o.RevokedShare)
	if err := revokeAll(ctx, st, dir, view, users[:nRevoked], now); err != nil {
		return res, err
	}
	kp.Prime(ctx)
	learned, resolver, err := learnSessions(ctx, st, users, reg, quiet)
	if err != nil {
		return res, err
	}
	res.Learned = learned
	rec := activity.New(st, activity.Options{Resolution: 30 * time.Second, PoolNames: func(uint64) []string { return []string{pool} }}, reg, quiet)
	for _, u := range users {
		rec.Record(u, 1)
	}
	rec.Flush(ctx)
	for i := 0; i < 3; i++ {
		kp.Prime(ctx) // the periodic resync of the revoked view
		d, err := timed(ctx, rp)
		if err != nil {
			return res, err
		}
		res.ReaperPassRevoked = d
		res.DirCallsSteady = dir.take()
	}
	res.RSSMB = peakRSSMB()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	res.HeapMB = float64(ms.HeapAlloc) / (1 << 20)
	if mem1, err := st.UsedMemory(ctx); err == nil && mem0 > 0 {
		res.RedisBytesPerUser = float64(mem1-mem0) / float64(o.Users)
	}
	runtime.KeepAlive(kp) // what the replica holds, alive until measured
	runtime.KeepAlive(resolver)
	runtime.KeepAlive(rec)
	runtime.KeepAlive(view)
	return res, nil
}

func timed(ctx context.Context, rp *reaper.Reaper) (time.Duration, error) {
	start := time.Now()
	if err := rp.RunOnce(ctx); err != nil {
		return 0, fmt.Errorf("reaper run: %w", err)
	}
	return time.Since(start), nil
}

// revokeAll records users as revoked, as the keeper would after removing
// their licence group, 16 at a time.
func revokeAll(ctx context.Context, st *store.Store, dir *standIn, view *membership.View, users []string, now time.Time) error {
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	work := make(chan string, 256)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				rec := store.Revoked{Groups: []string{group}, At: now, Reason: "ceiling"}
				if err := st.CompleteRevoke(ctx, pool, u, rec); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
	}
	for _, u := range users {
		dir.remove(u, group)
		view.Removed(u, group)
		work <- u
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// learnSessions learns one session per user through the identity
// resolver, as the proxy does at each user's first request, and waits
// until the writes reached Redis.
func learnSessions(ctx context.Context, st *store.Store, users []string, reg prometheus.Registerer, log *slog.Logger) (int, *identity.Resolver, error) {
	r := identity.NewResolver(identity.NewHasher([]byte("scale-benchmark-key-0123456789ab")), st,
		identity.ResolverOptions{CacheSize: len(users), SessionTTL: 5 * time.Hour}, reg, log)
	base, err := st.KeyCount(ctx)
	if err != nil {
		return 0, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = r.Run(rctx); close(done) }()
	// Learn in bursts of 20,000 (new sessions arrive at thousands a
	// second, not all at once), each written before the next.
	n := 0
	for start := 0; start < len(users); start += 20000 {
		end := min(start+20000, len(users))
		for i := start; i < end; i++ {
			r.Learn(identity.KindSession, "session-"+strconv.Itoa(i), users[i])
		}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			keys, err := st.KeyCount(ctx)
			if err != nil {
				cancel()
				return 0, nil, err
			}
			if n = int(keys - base); n >= end {
				break
			}
			time.Sleep(20 * time.Millisecond) // polling Redis, not waiting on a guess
		}
	}
	cancel()
	<-done
	return n, r, nil
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the kernel's peak-RSS mark (VmHWM) of this process.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB reads VmHWM from /proc/self/status (0 where there is none).
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
