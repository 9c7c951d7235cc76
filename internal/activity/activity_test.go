package activity

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/store/storetest"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newMini(t *testing.T) (*miniredis.Miniredis, *store.Store) {
	t.Helper()
	st, mr := storetest.New(t, "floatseat:test")
	return mr, st
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestCoalescing(t *testing.T) {
	_, st := newMini(t)
	clk := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	r := New(st, Options{Resolution: 30 * time.Second, QueueSize: 100, Clock: clk.Now}, reg, quiet)

	// 1,000 requests of one user within one resolution: one write.
	for i := 0; i < 1000; i++ {
		r.Record("Alice", 1)
		clk.Add(10 * time.Millisecond)
	}
	r.Flush(t.Context())
	if got := testutil.ToFloat64(r.okW); got != 1 {
		t.Fatalf("writes after 1000 requests in 10 s: got %v, want 1", got)
	}
	// After the resolution has passed, the next request writes again.
	clk.Add(21 * time.Second)
	r.Record("alice", 1)
	r.Flush(t.Context())
	if got := testutil.ToFloat64(r.okW); got != 2 {
		t.Fatalf("writes after the resolution passed: got %v, want 2", got)
	}
	last, err := st.LastActivity(t.Context(), []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	if !last["alice"].Equal(clk.Now().Truncate(time.Millisecond)) {
		t.Errorf("stored activity: got %v, want %v (user lower-cased)", last["alice"], clk.Now())
	}
}

func TestActivityNeverMovesBack(t *testing.T) {
	_, st := newMini(t)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	if err := st.RecordActivity(ctx, []store.Activity{{User: "bob", At: t0.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	// A slower replica flushes an older time afterwards.
	if err := st.RecordActivity(ctx, []store.Activity{{User: "bob", At: t0}}); err != nil {
		t.Fatal(err)
	}
	last, _ := st.LastActivity(ctx, []string{"bob"})
	if !last["bob"].Equal(t0.Add(time.Minute)) {
		t.Errorf("got %v, want the newer time %v", last["bob"], t0.Add(time.Minute))
	}
}

type failing struct {
	mu    sync.Mutex
	fail  bool
	calls int
}

func (f *failing) RecordActivity(ctx context.Context, b []store.Activity) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail {
		return errors.New("redis down")
	}
	return nil
}

func TestWriteFailureRetriesOnNextRequest(t *testing.T) {
	w := &failing{fail: true}
	clk := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	r := New(w, Options{Resolution: time.Minute, QueueSize: 10, Clock: clk.Now}, prometheus.NewRegistry(), quiet)
	r.Record("carol", 1)
	r.Flush(t.Context())
	if got := testutil.ToFloat64(r.errW); got != 1 {
		t.Fatalf("error writes: got %v, want 1", got)
	}
	w.mu.Lock()
	w.fail = false
	w.mu.Unlock()
	clk.Add(time.Second) // well within the resolution
	r.Record("carol", 1)
	r.Flush(t.Context())
	if got := testutil.ToFloat64(r.okW); got != 1 {
		t.Errorf("after Redis came back: got %v ok writes, want 1 without waiting a resolution", got)
	}
}

func TestOverflowIsDroppedAndCounted(t *testing.T) {
	w := &failing{}
	clk := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	r := New(w, Options{Resolution: time.Minute, QueueSize: 2, Clock: clk.Now}, prometheus.NewRegistry(), quiet)
	for _, u := range []string{"a", "b", "c", "d"} {
		r.Record(u, 1)
	}
	if got := testutil.ToFloat64(r.dropped); got != 2 {
		t.Errorf("dropped: got %v, want 2", got)
	}
	r.Flush(t.Context())
	r.Record("c", 1) // dropped before, so not coalesced away now
	r.Flush(t.Context())
	if got := testutil.ToFloat64(r.okW); got != 3 {
		t.Errorf("ok writes: got %v, want 3 (a, b, then c again)", got)
	}
}

func TestRunFlushesOnShutdown(t *testing.T) {
	_, st := newMini(t)
	r := New(st, Options{Resolution: time.Minute, FlushInterval: time.Hour}, prometheus.NewRegistry(), quiet)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	r.Record("dave", 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	last, _ := st.LastActivity(t.Context(), []string{"dave"})
	if last["dave"].IsZero() {
		t.Error("activity queued before shutdown was not flushed")
	}
}

func TestRecordDoesNotAllocateWhenCoalesced(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	r := New(&failing{}, Options{Resolution: time.Minute, Clock: clk.Now}, prometheus.NewRegistry(), quiet)
	r.Record("erin", 1)
	if n := testing.AllocsPerRun(1000, func() { r.Record("erin", 1) }); n != 0 {
		t.Errorf("Record of a coalesced user: got %v allocs, want 0", n)
	}
}

func BenchmarkRecordCoalesced(b *testing.B) {
	r := New(&failing{}, Options{Resolution: time.Minute}, prometheus.NewRegistry(), quiet)
	r.Record("frank", 1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Record("frank", 1)
		}
	})
}

// TestPerPoolActivity: each write lands in the user's overall activity and
// in the sorted set of every pool of its mask, and coalescing is per
// (user, pools) so a JSM request after a Software one is not swallowed.
func TestPerPoolActivity(t *testing.T) {
	_, st := newMini(t)
	ctx := t.Context()
	clk := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	names := func(m uint64) []string {
		var out []string
		for i, n := range []string{"jsw", "jsm"} {
			if m&(1<<i) != 0 {
				out = append(out, n)
			}
		}
		return out
	}
	r := New(st, Options{Resolution: 30 * time.Second, QueueSize: 100, Clock: clk.Now, PoolNames: names}, prometheus.NewRegistry(), quiet)
	r.Record("ann", 1) // Software work
	clk.Add(time.Second)
	r.Record("ann", 2) // a queue: JSM only
	r.Record("ben", 1)
	r.Flush(ctx)
	jsm, err := st.PoolActivity(ctx, "jsm", []string{"ann", "ben"})
	if err != nil {
		t.Fatal(err)
	}
	if jsm["ann"].IsZero() || !jsm["ben"].IsZero() {
		t.Errorf("JSM activity %v: want ann only", jsm)
	}
	jsw, _ := st.PoolActivity(ctx, "jsw", []string{"ann", "ben"})
	if jsw["ann"].IsZero() || jsw["ben"].IsZero() || !jsw["ann"].Before(jsm["ann"]) {
		t.Errorf("Software activity %v (JSM %v): want both, ann's before her queue", jsw, jsm)
	}
	all, _ := st.LastActivity(ctx, []string{"ann"})
	if !all["ann"].Equal(jsm["ann"]) {
		t.Errorf("overall activity %v, want the latest of any pool %v", all["ann"], jsm["ann"])
	}
}
