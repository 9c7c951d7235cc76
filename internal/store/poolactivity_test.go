package store

import (
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
