package keeper

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
)

// failingMarks fails MarkRevoked while fail > 0; the rest of the seat
// ledger is the real store's.
type failingMarks struct {
	SeatLedger
	mu   sync.Mutex
	fail int
}

func (f *failingMarks) MarkRevoked(ctx context.Context, pool, user string, visibleAt time.Time) error {
	f.mu.Lock()
	failed := f.fail > 0
	if failed {
		f.fail--
	}
	f.mu.Unlock()
	if failed {
		return errors.New("injected: redis write failed")
	}
	return f.SeatLedger.MarkRevoked(ctx, pool, user, visibleAt)
}

// TestFailedMarkRevokedIsRetried: a revocation whose seat could not be
// marked as freed (MarkRevoked failed after the directory change and the
// record) is counted as a failure and marked later, by reconcile or the
// resync, so the reaper does not revoke someone else for a seat already
// freed. The retry stops when it would be wrong: once the user has their
// seat back, or once the app can see the revocation itself.
func TestFailedMarkRevokedIsRetried(t *testing.T) {
	for _, c := range []struct {
		name        string
		meanwhile   func(t *testing.T, e *env)
		retry       func(t *testing.T, e *env)
		wantPending int
	}{
		{"reconcile marks it", nil, reconcile, 1},
		{"the resync marks it", nil, func(t *testing.T, e *env) { e.k.resync(t.Context()) }, 1},
		{"not once the user is back", func(t *testing.T, e *env) {
			if v := e.k.Ensure(t.Context(), identity.Identity{User: "alice"}, nil); !v.Granted {
				t.Fatalf("alice's return: %+v", v)
			}
		}, reconcile, 0},
		{"not once the app can see it", func(t *testing.T, e *env) {
			e.advance(e.k.opt.VisibilityMargin)
		}, reconcile, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 10, true)
			e.k.ledger = &failingMarks{SeatLedger: e.st, fail: 1}
			revoke(t, e, "jira-software", "alice")
			if got := testutil.ToFloat64(e.k.failures.WithLabelValues("mark_revoked")); got != 1 {
				t.Errorf("seat_errors_total{op=mark_revoked}: got %v, want 1", got)
			}
			if n := e.pendingRevocations(t); n != 0 {
				t.Fatalf("pending revocations after the failed mark: got %d, want 0", n)
			}
			if c.meanwhile != nil {
				c.meanwhile(t, e)
			}
			c.retry(t, e)
			if n := e.pendingRevocations(t); n != c.wantPending {
				t.Errorf("pending revocations after the retry: got %d, want %d", n, c.wantPending)
			}
			// Done either way: nothing is marked again later.
			e.k.ledger = e.st
			if err := e.st.SetLicense(t.Context(), "jira-software", store.LicenseCount{Seats: 10, Used: 3}, e.clock().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			reconcile(t, e)
			if n := e.pendingRevocations(t); n != 0 {
				t.Errorf("pending revocations after a later report and reconcile: got %d, want 0", n)
			}
		})
	}
}

func reconcile(t *testing.T, e *env) {
	t.Helper()
	if err := e.k.Reconcile(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
}

func (e *env) pendingRevocations(t *testing.T) int {
	t.Helper()
	n, err := e.st.PendingRevocations(t.Context(), "jira-software")
	if err != nil {
		t.Fatal(err)
	}
	return n
}
