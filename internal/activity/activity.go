// Package activity records each user's last real activity without ever
// slowing a request: Record is a map lookup on the hot path, writes are
// coalesced to one per user per resolution, queued on a bounded channel and
// flushed to Redis in pipelined batches by Run.
package activity

import (
	"context"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/username"
)

// Writer persists a batch of activity; *store.Store implements it.
type Writer interface {
	RecordActivity(ctx context.Context, batch []store.Activity) error
}

// Options configure a Recorder.
type Options struct {
	Resolution    time.Duration // at most one write per user per Resolution
	QueueSize     int           // bounded queue; overflow is dropped and counted
	FlushInterval time.Duration // how often queued writes are sent
	MaxBatch      int           // writes per pipeline (default 500)
	WriteTimeout  time.Duration // deadline of one pipeline (default 2s)
	Clock         func() time.Time
	// PoolNames names the pools of a mask (bit i = pool i, DESIGN §2.11);
	// nil records overall activity only.
	PoolNames func(mask uint64) []string
}

const shards = 64

// Recorder coalesces and writes activity.
type Recorder struct {
	w      Writer
	log    *slog.Logger
	opt    Options
	res    int64 // resolution in ms
	seed   maphash.Seed
	shards [shards]shard
	queue  chan event

	writes  *prometheus.CounterVec
	dropped prometheus.Counter
	okW     prometheus.Counter
	errW    prometheus.Counter
}

type shard struct {
	mu   sync.Mutex
	last map[entry]int64 // (user, pools) → unix ms of the last write queued
}

// entry is what one write records: a user's activity in a set of pools.
type entry struct {
	user  string
	pools uint64
}

type event struct {
	entry
	at time.Time
}

// New returns a Recorder; call Run to flush.
func New(w Writer, opt Options, reg prometheus.Registerer, log *slog.Logger) *Recorder {
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 500
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 2 * time.Second
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = 65536
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = time.Second
	}
	r := &Recorder{
		w: w, log: log, opt: opt,
		res:   opt.Resolution.Milliseconds(),
		seed:  maphash.MakeSeed(),
		queue: make(chan event, opt.QueueSize),
	}
	for i := range r.shards {
		r.shards[i].last = make(map[entry]int64)
	}
	f := promauto.With(reg)
	r.writes = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "activity_writes_total",
		Help: "Per-user activity writes sent to Redis, by result.",
	}, []string{"result"})
	r.okW = r.writes.WithLabelValues("ok")
	r.errW = r.writes.WithLabelValues("error")
	r.dropped = f.NewCounter(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "activity_dropped_total",
		Help: "Activity events dropped because the write queue was full.",
	})
	return r
}

// Record notes that user did real work now, for the pools in mask. It
// never blocks: when the user was recorded for those pools less than a
// resolution ago it returns at once, and when the queue is full the event
// is dropped and counted.
func (r *Recorder) Record(user string, pools uint64) {
	if user == "" {
		return
	}
	e := entry{user: username.Normalize(user), pools: pools}
	now := r.opt.Clock()
	ms := now.UnixMilli()
	sh := &r.shards[maphash.String(r.seed, e.user)%shards]
	sh.mu.Lock()
	last, ok := sh.last[e]
	if ok && ms-last < r.res {
		sh.mu.Unlock()
		return
	}
	sh.last[e] = ms
	sh.mu.Unlock()
	select {
	case r.queue <- event{entry: e, at: now}:
	default:
		r.dropped.Inc()
		r.forget(e, ms)
	}
}

// forget clears a coalescing entry if it is still ms, so the next request
// queues again instead of waiting a whole resolution.
func (r *Recorder) forget(e entry, ms int64) {
	sh := &r.shards[maphash.String(r.seed, e.user)%shards]
	sh.mu.Lock()
	if sh.last[e] == ms {
		delete(sh.last, e)
	}
	sh.mu.Unlock()
}

// Run flushes queued activity until ctx ends, then flushes what is left.
func (r *Recorder) Run(ctx context.Context) error {
	tick := time.NewTicker(r.opt.FlushInterval)
	defer tick.Stop()
	prune := time.NewTicker(10 * r.opt.Resolution)
	defer prune.Stop()
	batch := make([]event, 0, r.opt.MaxBatch)
	for {
		select {
		case <-ctx.Done():
			// Give the last batch a short, fresh deadline: it is real activity.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opt.WriteTimeout)
			r.drain(fctx, batch)
			cancel()
			return nil
		case <-tick.C:
			batch = r.drain(ctx, batch)
		case <-prune.C:
			r.prune()
		}
	}
}

// Flush writes everything queued now; tests and shutdown use it.
func (r *Recorder) Flush(ctx context.Context) {
	r.drain(ctx, make([]event, 0, r.opt.MaxBatch))
}

func (r *Recorder) drain(ctx context.Context, batch []event) []event {
	for {
		batch = batch[:0]
	fill:
		for len(batch) < cap(batch) {
			select {
			case a := <-r.queue:
				batch = append(batch, a)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return batch
		}
		r.write(ctx, batch)
		if len(batch) < cap(batch) {
			return batch
		}
	}
}

func (r *Recorder) write(ctx context.Context, batch []event) {
	out := make([]store.Activity, len(batch))
	names := map[uint64][]string{}
	for i, e := range batch {
		out[i] = store.Activity{User: e.user, At: e.at}
		if r.opt.PoolNames != nil && e.pools != 0 {
			n, ok := names[e.pools]
			if !ok {
				n = r.opt.PoolNames(e.pools)
				names[e.pools] = n
			}
			out[i].Pools = n
		}
	}
	wctx, cancel := context.WithTimeout(ctx, r.opt.WriteTimeout)
	err := r.w.RecordActivity(wctx, out)
	cancel()
	if err != nil {
		r.errW.Add(float64(len(batch)))
		r.log.Warn("activity write failed; will retry on the users' next requests", "users", len(batch), "err", err)
		// Forget the coalescing entries so recording resumes as soon as
		// Redis is back, instead of a resolution later.
		for _, e := range batch {
			r.forget(e.entry, e.at.UnixMilli())
		}
		return
	}
	r.okW.Add(float64(len(batch)))
}

// prune drops coalescing entries older than a resolution: they no longer
// suppress anything and would otherwise grow with every user ever seen.
func (r *Recorder) prune() {
	cut := r.opt.Clock().UnixMilli() - r.res
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for e, ms := range sh.last {
			if ms < cut {
				delete(sh.last, e)
			}
		}
		sh.mu.Unlock()
	}
}
