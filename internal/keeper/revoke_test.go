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

func (f *failingMarks) MarkRevoked(ctx context.Context, pool, user string, startedAt, visibleAt time.Time) error {
	f.mu.Lock()
	failed := f.fail > 0
	if failed {
		f.fail--
	}
	f.mu.Unlock()
	if failed {
		return errors.New("injected: redis write failed")
	}
	return f.SeatLedger.MarkRevoked(ctx, pool, user, startedAt, visibleAt)
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

// A revocation whose record could not be written (the groups removed, the
// intent left for reconcile) is undone by reconcile when the user was
// active since: the groups come back, and this replica's view, which
// named the revocation before the record was attempted, forgets it (the
// record is not in Redis).
func TestRevocationWithoutItsRecordUndoneByReconcile(t *testing.T) {
	e := newEnv(t, 10, true)
	e.k.records = &flakyStore{Store: e.st, failRevoke: 1}
	if err := e.k.Revoke(t.Context(), RevokeRequest{Pool: "jira-software", User: "alice", Reason: "ceiling", Trigger: "test"}); err == nil {
		t.Fatal("revoke with the record failing: got nil, want the error")
	}
	if e.member(t, "alice", "jira-software-users") {
		t.Fatal("the groups were not removed")
	}
	e.advance(time.Second)
	if err := e.st.RecordActivity(t.Context(), []store.Activity{{User: "alice", At: e.clock(), Pools: []string{"jira-software"}}}); err != nil {
		t.Fatal(err)
	}
	reconcile(t, e)
	if !e.member(t, "alice", "jira-software-users") {
		t.Error("alice, active since, did not get her groups back")
	}
	if got := e.k.IsRevoked("alice"); len(got) != 0 {
		t.Errorf("view after the undo: %+v, want alice forgotten", got)
	}
	if ins, _ := e.st.Intents(t.Context()); len(ins) != 0 {
		t.Errorf("intents left: %+v", ins)
	}
}
