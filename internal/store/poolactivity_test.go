package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestPoolObservationStart: the first heartbeat naming a pool fixes when
// that pool's own activity began to be recorded, and later ones keep it; a
// pool never named has none (the overall observation start stands).
func TestPoolObservationStart(t *testing.T) {
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { c.Close() })
	s, ctx := newStore(c, "fs"), t.Context()
	t0 := time.UnixMilli(time.Now().UnixMilli())
	if err := s.Heartbeat(ctx, "r1", t0); err != nil { // an older floatseat: no pools
		t.Fatal(err)
	}
	if got, err := s.PoolObservedSince(ctx, "jsm"); err != nil || !got.IsZero() {
		t.Fatalf("before any pool heartbeat: %v %v, want none", got, err)
	}
	t1 := t0.Add(time.Hour) // the upgrade
	_ = s.Heartbeat(ctx, "r1", t1, "jsw", "jsm")
	_ = s.Heartbeat(ctx, "r2", t1.Add(time.Minute), "jsw", "jsm")
	if got, _ := s.PoolObservedSince(ctx, "jsm"); !got.Equal(t1) {
		t.Errorf("pool observation start %v, want the first pool heartbeat %v", got, t1)
	}
	if got, _ := s.ObservedSince(ctx); !got.Equal(t0) {
		t.Errorf("overall observation start moved: %v, want %v", got, t0)
	}
}

// TestLastActivityAcrossBatches: a user list longer than one ZMSCORE batch
// still maps every user to its own time, at the batch edges too, and
// leaves out those never seen.
func TestLastActivityAcrossBatches(t *testing.T) {
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { c.Close() })
	s, ctx := newStore(c, "fs"), t.Context()
	t0 := time.UnixMilli(time.Now().UnixMilli())
	n := 2*activityBatch + 7
	users := make([]string, n)
	var batch []Activity
	for i := range users {
		users[i] = fmt.Sprintf("u%05d", i)
		if i%3 != 1 { // every third never seen
			batch = append(batch, Activity{User: users[i], At: t0.Add(time.Duration(i) * time.Millisecond)})
		}
	}
	if err := s.RecordActivity(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got, err := s.LastActivity(ctx, users)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(batch) {
		t.Errorf("%d users with activity, want %d", len(got), len(batch))
	}
	for i, u := range users {
		at, ok := got[u]
		if i%3 == 1 {
			if ok {
				t.Errorf("%s never seen, got %v", u, at)
			}
			continue
		}
		if want := t0.Add(time.Duration(i) * time.Millisecond); !at.Equal(want) {
			t.Errorf("%s: %v, want %v", u, at, want)
		}
	}
}
