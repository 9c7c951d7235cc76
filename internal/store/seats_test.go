package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/testenv"
)

// newMiniredisClient starts a miniredis for one test.
func newMiniredisClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 64})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestSeatsMiniredis(t *testing.T) {
	runSeatSuite(t, newMiniredisClient)
}

var seatT0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

type poolState struct {
	seats, used, pending int
	unlimited            bool
	reportedAt           time.Time
}

func mustPoolState(t *testing.T, s *Store, pool string) poolState {
	t.Helper()
	seats, used, pending, unl, at, err := s.PoolState(t.Context(), pool)
	if err != nil {
		t.Fatalf("PoolState: %v", err)
	}
	return poolState{seats, used, pending, unl, at}
}

func mustSetLicense(t *testing.T, s *Store, pool string, c LicenseCount, at time.Time) {
	t.Helper()
	if err := s.SetLicense(t.Context(), pool, c, at); err != nil {
		t.Fatalf("SetLicense: %v", err)
	}
}

func mustPendingRevocations(t *testing.T, s *Store, pool string) int {
	t.Helper()
	n, err := s.PendingRevocations(t.Context(), pool)
	if err != nil {
		t.Fatalf("PendingRevocations: %v", err)
	}
	return n
}

func mustTake(t *testing.T, s *Store, pool, user string, now, vis time.Time) (bool, int) {
	t.Helper()
	ok, h, err := s.TakeSeat(t.Context(), pool, user, now, vis)
	if err != nil {
		t.Fatalf("TakeSeat(%s): %v", user, err)
	}
	return ok, h
}

// runSeatSuite is the seat-accounting contract, run against miniredis here
// and against a real redis-server by the integration tests. newClient must
// return a client on an empty database for each call.
func runSeatSuite(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
	newStore := func(t *testing.T) *Store {
		return newStore(newClient(t), "floatseat:test")
	}

	t.Run("race: 200 takers, 50 free seats", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 100, Used: 50}, seatT0)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			granted int
			errs    []error
		)
		for i := range 200 {
			wg.Go(func() {
				ok, _, err := s.TakeSeat(t.Context(), "jsw", fmt.Sprintf("user%03d", i), seatT0, seatT0.Add(time.Hour))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				if ok {
					granted++
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("TakeSeat errors: %v", errs[0])
		}
		if granted != 50 {
			t.Errorf("granted: got %d, want 50", granted)
		}
		if got := mustPoolState(t, s, "jsw"); got.pending != 50 {
			t.Errorf("pending: got %d, want 50", got.pending)
		}
	})

	t.Run("idempotent for a pending user", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 8}, seatT0)
		for i, user := range []string{"alice", "alice", "ALICE"} {
			ok, h := mustTake(t, s, "jsw", user, seatT0, seatT0)
			if !ok || h != 1 {
				t.Errorf("take %d (%s): got granted=%v headroom=%d, want true 1", i, user, ok, h)
			}
		}
		if got := mustPoolState(t, s, "jsw"); got.pending != 1 {
			t.Errorf("pending: got %d, want 1", got.pending)
		}
	})

	t.Run("idempotent even when full", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 9}, seatT0)
		if ok, h := mustTake(t, s, "jsw", "alice", seatT0, seatT0); !ok || h != 0 {
			t.Fatalf("first take: got %v %d, want true 0", ok, h)
		}
		if ok, _ := mustTake(t, s, "jsw", "bob", seatT0, seatT0); ok {
			t.Errorf("bob: got granted, want refused (full)")
		}
		if ok, h := mustTake(t, s, "jsw", "alice", seatT0, seatT0); !ok || h != 0 {
			t.Errorf("alice again: got %v %d, want true 0", ok, h)
		}
	})

	t.Run("full pool refuses with headroom", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 11}, seatT0)
		ok, h := mustTake(t, s, "jsw", "alice", seatT0, seatT0)
		if ok || h != -1 {
			t.Errorf("got granted=%v headroom=%d, want false -1", ok, h)
		}
		if got := mustPoolState(t, s, "jsw"); got.pending != 0 {
			t.Errorf("pending: got %d, want 0", got.pending)
		}
	})

	t.Run("no report: refused", func(t *testing.T) {
		s := newStore(t)
		ok, _, err := s.TakeSeat(t.Context(), "jsw", "alice", seatT0, seatT0)
		if ok || !errors.Is(err, ErrNoLicenseReport) {
			t.Errorf("got granted=%v err=%v, want false, ErrNoLicenseReport", ok, err)
		}
		if got := mustPoolState(t, s, "jsw"); got != (poolState{}) {
			t.Errorf("state: got %+v, want zero", got)
		}
	})

	t.Run("unlimited grants", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "conf", LicenseCount{Seats: 0, Used: 5000, Unlimited: true}, seatT0)
		for i := range 5 {
			ok, h := mustTake(t, s, "conf", fmt.Sprintf("u%d", i), seatT0, seatT0)
			if !ok || h != UnlimitedHeadroom {
				t.Errorf("take %d: got %v %d, want true %d", i, ok, h, UnlimitedHeadroom)
			}
		}
		if got := mustPoolState(t, s, "conf"); !got.unlimited || got.pending != 5 {
			t.Errorf("state: got %+v, want unlimited with 5 pending", got)
		}
	})

	t.Run("report drops grants visible by then", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 5}, seatT0)
		mustTake(t, s, "jsw", "rest", seatT0, seatT0.Add(time.Minute))
		mustTake(t, s, "jsw", "ldap", seatT0, seatT0.Add(time.Hour))
		if got := mustPoolState(t, s, "jsw"); got.pending != 2 {
			t.Fatalf("pending: got %d, want 2", got.pending)
		}
		// A report taken just before "rest" is visible keeps both.
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 5}, seatT0.Add(time.Minute-time.Millisecond))
		if got := mustPoolState(t, s, "jsw"); got.pending != 2 {
			t.Errorf("pending after early report: got %d, want 2", got.pending)
		}
		// At visible-at exactly, the app counts it.
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 6}, seatT0.Add(time.Minute))
		got := mustPoolState(t, s, "jsw")
		want := poolState{seats: 10, used: 6, pending: 1, reportedAt: seatT0.Add(time.Minute)}
		if got != want {
			t.Errorf("after report: got %+v, want %+v", got, want)
		}
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 7}, seatT0.Add(2*time.Hour))
		if got := mustPoolState(t, s, "jsw"); got.pending != 0 || got.used != 7 {
			t.Errorf("after sync report: got %+v, want used 7, pending 0", got)
		}
	})

	t.Run("stale report ignored", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 5}, seatT0.Add(time.Minute))
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 1}, seatT0)
		if got := mustPoolState(t, s, "jsw"); got.used != 5 || !got.reportedAt.Equal(seatT0.Add(time.Minute)) {
			t.Errorf("got %+v, want the newer report (used 5)", got)
		}
	})

	t.Run("visibleAt only moves later", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 5}, seatT0)
		mustTake(t, s, "jsw", "alice", seatT0, seatT0.Add(time.Hour))
		mustTake(t, s, "jsw", "alice", seatT0, seatT0) // earlier: ignored
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 5}, seatT0.Add(time.Minute))
		if got := mustPoolState(t, s, "jsw"); got.pending != 1 {
			t.Errorf("pending: got %d, want 1 (visible at +1h)", got.pending)
		}
		mustTake(t, s, "jsw", "alice", seatT0, seatT0.Add(2*time.Hour)) // later: kept
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 5}, seatT0.Add(90*time.Minute))
		if got := mustPoolState(t, s, "jsw"); got.pending != 1 {
			t.Errorf("pending: got %d, want 1 (visible at +2h)", got.pending)
		}
	})

	t.Run("visibleAt before now counts from now", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 5}, seatT0)
		mustTake(t, s, "jsw", "alice", seatT0.Add(time.Hour), seatT0)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 5}, seatT0.Add(time.Minute))
		if got := mustPoolState(t, s, "jsw"); got.pending != 1 {
			t.Errorf("pending: got %d, want 1", got.pending)
		}
	})

	t.Run("release rolls back", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 9}, seatT0)
		mustTake(t, s, "jsw", "Alice", seatT0, seatT0)
		if err := s.ReleaseSeat(t.Context(), "jsw", "alice", seatT0.Add(time.Minute)); err != nil {
			t.Fatalf("ReleaseSeat: %v", err)
		}
		if err := s.ReleaseSeat(t.Context(), "jsw", "nobody", seatT0.Add(time.Minute)); err != nil {
			t.Fatalf("ReleaseSeat of nobody: %v", err)
		}
		if ok, h := mustTake(t, s, "jsw", "bob", seatT0, seatT0); !ok || h != 0 {
			t.Errorf("bob after rollback: got %v %d, want true 0", ok, h)
		}
	})

	t.Run("a rolled-back return is a pending revocation again", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 10}, seatT0)
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0.Add(time.Second), seatT0.Add(time.Hour)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		// Alice's return is granted back, and her login rolled back.
		if ok, _ := mustTake(t, s, "jsw", "alice", seatT0.Add(time.Minute), seatT0.Add(2*time.Minute)); !ok {
			t.Fatal("alice: got refused, want granted back")
		}
		if n := mustPendingRevocations(t, s, "jsw"); n != 0 {
			t.Fatalf("pending revocations while her grant stands: got %d, want 0", n)
		}
		if err := s.ReleaseSeat(t.Context(), "jsw", "Alice", seatT0.Add(90*time.Minute)); err != nil {
			t.Fatalf("ReleaseSeat: %v", err)
		}
		// The app's report still counts her: her seat is on its way to
		// free again, not in use, and her next return needs no headroom.
		if n := mustPendingRevocations(t, s, "jsw"); n != 1 {
			t.Errorf("pending revocations after the rollback: got %d, want 1", n)
		}
		if got := mustPoolState(t, s, "jsw"); got.pending != 0 {
			t.Errorf("pending grants after the rollback: got %d, want 0", got.pending)
		}
		// Until the later of the two visible-at times (the rollback's).
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 10}, seatT0.Add(time.Hour))
		if n := mustPendingRevocations(t, s, "jsw"); n != 1 {
			t.Errorf("pending revocations after a report at the revocation's visible-at: got %d, want 1", n)
		}
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 9}, seatT0.Add(90*time.Minute))
		if n := mustPendingRevocations(t, s, "jsw"); n != 0 {
			t.Errorf("pending revocations after a report at the rollback's visible-at: got %d, want 0", n)
		}
		// Released twice (a rollback finished again): nothing more.
		if err := s.ReleaseSeat(t.Context(), "jsw", "alice", seatT0.Add(3*time.Hour)); err != nil {
			t.Fatalf("ReleaseSeat: %v", err)
		}
		if n := mustPendingRevocations(t, s, "jsw"); n != 0 {
			t.Errorf("pending revocations after a second release: got %d, want 0", n)
		}
	})

	t.Run("a rollback after the report that showed the revocation puts nothing back", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 10}, seatT0)
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0.Add(time.Second), seatT0.Add(time.Minute)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		if ok, _ := mustTake(t, s, "jsw", "alice", seatT0.Add(30*time.Second), seatT0.Add(2*time.Minute)); !ok {
			t.Fatal("alice: got refused, want granted back")
		}
		// A report after the revocation showed but before the grant did:
		// it counts her out.
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 9}, seatT0.Add(time.Minute))
		if err := s.ReleaseSeat(t.Context(), "jsw", "alice", seatT0.Add(3*time.Minute)); err != nil {
			t.Fatalf("ReleaseSeat: %v", err)
		}
		if n := mustPendingRevocations(t, s, "jsw"); n != 0 {
			t.Errorf("pending revocations: got %d, want 0 (the app's count already leaves her out)", n)
		}
	})

	t.Run("a released fresh grant marks nothing", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 5}, seatT0)
		mustTake(t, s, "jsw", "bob", seatT0, seatT0.Add(time.Minute))
		if err := s.ReleaseSeat(t.Context(), "jsw", "bob", seatT0.Add(time.Hour)); err != nil {
			t.Fatalf("ReleaseSeat: %v", err)
		}
		if n := mustPendingRevocations(t, s, "jsw"); n != 0 {
			t.Errorf("pending revocations: got %d, want 0", n)
		}
	})

	t.Run("pending revocations", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 10}, seatT0)
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0.Add(time.Second), seatT0.Add(time.Hour)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		if err := s.MarkRevoked(t.Context(), "jsw", "bob", seatT0, seatT0); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		pendingRev := func() int {
			t.Helper()
			n, err := s.PendingRevocations(t.Context(), "jsw")
			if err != nil {
				t.Fatalf("PendingRevocations: %v", err)
			}
			return n
		}
		if got := pendingRev(); got != 2 {
			t.Errorf("pending revocations: got %d, want 2", got)
		}
		// Pending revocations free nothing for grants: the app still counts them.
		if ok, _ := mustTake(t, s, "jsw", "carol", seatT0, seatT0); ok {
			t.Errorf("carol: got granted, want refused")
		}
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 9}, seatT0.Add(time.Minute))
		if got := pendingRev(); got != 1 {
			t.Errorf("pending revocations after report: got %d, want 1", got)
		}
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 8}, seatT0.Add(time.Hour))
		if got := pendingRev(); got != 0 {
			t.Errorf("pending revocations after sync: got %d, want 0", got)
		}
	})

	t.Run("returning user with a pending revocation", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 10}, seatT0)
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0.Add(time.Second), seatT0.Add(time.Hour)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		// The report still counts Alice: giving her seat back takes none.
		if ok, _ := mustTake(t, s, "jsw", "Alice", seatT0.Add(time.Minute), seatT0.Add(time.Minute)); !ok {
			t.Errorf("alice: got refused, want granted back")
		}
		n, err := s.PendingRevocations(t.Context(), "jsw")
		if err != nil || n != 0 {
			t.Errorf("pending revocations: got %d, %v; want 0", n, err)
		}
		if got := mustPoolState(t, s, "jsw"); got.pending != 1 {
			t.Errorf("pending grants: got %d, want 1 (counted until a report shows her)", got.pending)
		}
	})

	t.Run("a return after a report that left the user out needs a free seat", func(t *testing.T) {
		// 10 seats. Alice's revocation starts at T0; the app shows it at
		// once, and a report answered after that leaves her out (9 used)
		// although her mark is pending until T0+1m. Bob takes the last seat:
		// giving Alice hers back would make the app count 11 of 10.
		s := newStore(t)
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0, seatT0.Add(time.Minute)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 9}, seatT0.Add(10*time.Second))
		if n := mustPendingRevocations(t, s, "jsw"); n != 1 {
			t.Fatalf("pending revocations: got %d, want 1", n)
		}
		if ok, h := mustTake(t, s, "jsw", "bob", seatT0.Add(20*time.Second), seatT0.Add(20*time.Second)); !ok || h != 0 {
			t.Fatalf("bob: got %v %d, want true 0", ok, h)
		}
		if ok, h := mustTake(t, s, "jsw", "alice", seatT0.Add(30*time.Second), seatT0.Add(30*time.Second)); ok || h < 0 {
			t.Errorf("alice: got %v headroom %d, want refused with headroom 0", ok, h)
		}
		// Refused, her seat is still on its way to free.
		if n := mustPendingRevocations(t, s, "jsw"); n != 1 {
			t.Errorf("pending revocations after the refusal: got %d, want 1", n)
		}
	})

	t.Run("a report requested before the revocation but answered after it counts as after", func(t *testing.T) {
		// The app may count while the removal is under way: only a report
		// answered before the revocation started surely counts the user.
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 9, AnsweredAt: seatT0.Add(2 * time.Second)}, seatT0.Add(-time.Second))
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0, seatT0.Add(time.Minute)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		mustTake(t, s, "jsw", "bob", seatT0.Add(5*time.Second), seatT0.Add(5*time.Second))
		if ok, _ := mustTake(t, s, "jsw", "alice", seatT0.Add(6*time.Second), seatT0.Add(6*time.Second)); ok {
			t.Errorf("alice: got granted back, want refused (the report may leave her out)")
		}
	})

	t.Run("a return with headroom after such a report takes a seat", func(t *testing.T) {
		s := newStore(t)
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0, seatT0.Add(time.Minute)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 8}, seatT0.Add(10*time.Second))
		if ok, h := mustTake(t, s, "jsw", "alice", seatT0.Add(30*time.Second), seatT0.Add(30*time.Second)); !ok || h != 1 {
			t.Errorf("alice: got %v %d, want true 1", ok, h)
		}
		if n := mustPendingRevocations(t, s, "jsw"); n != 0 {
			t.Errorf("pending revocations: got %d, want 0 (her seat is taken again)", n)
		}
	})

	t.Run("a return whose revocation start is lost needs a free seat", func(t *testing.T) {
		// The start key gone (evicted, or written before starts were kept)
		// while the mark stands: the report cannot be told to count alice,
		// so a full pool refuses her, and her mark stays pending.
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 10}, seatT0)
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0.Add(time.Second), seatT0.Add(time.Hour)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		if err := s.rdb.Del(t.Context(), s.Key("seats", "jsw", "revoking")).Err(); err != nil {
			t.Fatal(err)
		}
		if ok, _ := mustTake(t, s, "jsw", "alice", seatT0.Add(time.Minute), seatT0.Add(time.Minute)); ok {
			t.Errorf("alice: got granted back, want refused (no start to compare the report with)")
		}
		if n := mustPendingRevocations(t, s, "jsw"); n != 1 {
			t.Errorf("pending revocations after the refusal: got %d, want 1", n)
		}
	})

	t.Run("a revocation's start goes with it", func(t *testing.T) {
		// Once a report shows a revocation its start is forgotten: a later
		// revocation of the same user starts afresh.
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 10}, seatT0)
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0.Add(time.Second), seatT0.Add(time.Minute)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 9}, seatT0.Add(2*time.Minute))
		mustTake(t, s, "jsw", "alice", seatT0.Add(3*time.Minute), seatT0.Add(3*time.Minute))
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 10}, seatT0.Add(30*time.Minute))
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0.Add(time.Hour), seatT0.Add(2*time.Hour)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		if ok, _ := mustTake(t, s, "jsw", "alice", seatT0.Add(61*time.Minute), seatT0.Add(61*time.Minute)); !ok {
			t.Errorf("alice: got refused, want granted back (the report was answered before her second revocation)")
		}
	})

	t.Run("revoked while the grant was pending, then back", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 10, Used: 5}, seatT0)
		mustTake(t, s, "jsw", "alice", seatT0, seatT0.Add(time.Hour))
		if err := s.MarkRevoked(t.Context(), "jsw", "alice", seatT0.Add(time.Second), seatT0.Add(time.Hour)); err != nil {
			t.Fatalf("MarkRevoked: %v", err)
		}
		if ok, _ := mustTake(t, s, "jsw", "alice", seatT0, seatT0.Add(time.Hour)); !ok {
			t.Fatalf("alice: got refused, want granted")
		}
		// Her seat is taken again: the reaper must not count it as freed.
		n, err := s.PendingRevocations(t.Context(), "jsw")
		if err != nil || n != 0 {
			t.Errorf("pending revocations: got %d, %v; want 0", n, err)
		}
		if got := mustPoolState(t, s, "jsw"); got.pending != 1 {
			t.Errorf("pending grants: got %d, want 1", got.pending)
		}
	})

	t.Run("pools are separate", func(t *testing.T) {
		s := newStore(t)
		mustSetLicense(t, s, "jsw", LicenseCount{Seats: 1, Used: 0}, seatT0)
		mustSetLicense(t, s, "jsm", LicenseCount{Seats: 1, Used: 0}, seatT0)
		a, _ := mustTake(t, s, "jsw", "alice", seatT0, seatT0)
		b, _ := mustTake(t, s, "jsm", "bob", seatT0, seatT0)
		if !a || !b {
			t.Errorf("got %v %v, want both granted", a, b)
		}
	})
}

// TestSeatsRedisDown checks that every seat call fails with an error naming
// the operation, and grants nothing, when Redis is gone.
func TestSeatsRedisDown(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	s := newStore(rdb, "floatseat:test")
	mr.Close()

	ctx := t.Context()
	ok, _, takeErr := s.TakeSeat(ctx, "jsw", "alice", seatT0, seatT0)
	if ok {
		t.Errorf("TakeSeat: got granted, want refused")
	}
	_, _, _, _, _, stateErr := s.PoolState(ctx, "jsw")
	_, revErr := s.PendingRevocations(ctx, "jsw")
	errs := map[string]error{
		"set licence":         s.SetLicense(ctx, "jsw", LicenseCount{Seats: 1}, seatT0),
		"take seat":           takeErr,
		"release seat":        s.ReleaseSeat(ctx, "jsw", "alice", seatT0),
		"mark alice revoked":  s.MarkRevoked(ctx, "jsw", "alice", seatT0, seatT0),
		"pool state":          stateErr,
		"pending revocations": revErr,
	}
	for op, err := range errs {
		if err == nil || !strings.Contains(err.Error(), op) {
			t.Errorf("%s: got %v, want an error naming the operation", op, err)
		}
	}
}

func TestSeatsRealRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real redis-server")
	}
	r := testenv.StartRedis(t)
	runSeatSuite(t, func(t *testing.T) redis.UniversalClient {
		c := redis.NewClient(&redis.Options{Addr: r.Addr})
		if err := c.FlushAll(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
}
