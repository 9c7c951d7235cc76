package store

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The virtual revoked set records a would-revoke once, a return once, keeps
// its figures, lives apart from the real revoked set, and is cleared for
// enforce mode.
func TestObserveVirtualSet(t *testing.T) {
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { c.Close() })
	s, ctx, now := newStore(c, "fs"), t.Context(), time.Now()
	if first, err := s.ObserveRevoke(ctx, "jsw", "Alice", now); err != nil || !first {
		t.Fatalf("first would-revoke: %v %v", first, err)
	}
	if first, _ := s.ObserveRevoke(ctx, "jsw", "alice", now.Add(time.Minute)); first {
		t.Fatal("a second would-revoke of the same idle spell counted as new")
	}
	if real, _ := s.RevokedUsers(ctx, "jsw"); len(real) != 0 {
		t.Fatalf("the virtual set leaked into the real one: %v", real)
	}
	_ = s.ObserveNote(ctx, "jsw", "peak_needed", 7)
	_ = s.ObserveNote(ctx, "jsw", "peak_needed", 5)
	_ = s.ObserveNote(ctx, "jsw", "would_deny", 1)
	_ = s.ObserveNote(ctx, "jsw", "would_deny", 1)
	if free, peak, deny, err := s.ObserveFigures(ctx, "jsw"); err != nil || free != 1 || peak != 7 || deny != 2 {
		t.Fatalf("figures %d %d %d %v; want 1 7 2", free, peak, deny, err)
	}
	if won, _ := s.ObserveReturn(ctx, "jsw", "ALICE"); !won {
		t.Fatal("the return was not recorded")
	}
	if won, _ := s.ObserveReturn(ctx, "jsw", "alice"); won {
		t.Fatal("a second replica also won the return")
	}
	_, _ = s.ObserveRevoke(ctx, "jsw", "bob", now)
	if err := s.ObserveClear(ctx, []string{"jsw"}); err != nil {
		t.Fatal(err)
	}
	if free, peak, deny, _ := s.ObserveFigures(ctx, "jsw"); free+peak+deny != 0 {
		t.Fatalf("enforce mode does not start clean: %d %d %d", free, peak, deny)
	}
}
