package keeper

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
)

// scanCounter counts full reads (chunks) of the revoked records.
type scanCounter struct {
	*store.Store
	scans atomic.Int64
}

func (s *scanCounter) ScanRevoked(ctx context.Context, pool string, cursor uint64, count int64, each func(string, store.Revoked)) (uint64, error) {
	s.scans.Add(1)
	return s.Store.ScanRevoked(ctx, pool, cursor, count, each)
}

// TestRevokedViewFollowsTheLog: a second replica learns of revocations and
// grants made by the first from the change log, without re-reading the
// records; only its first load, and a load after a gap longer than the log
// keeps, read them in full.
func TestRevokedViewFollowsTheLog(t *testing.T) {
	e := newEnv(t, 10, true)
	ctx := t.Context()
	other := &scanCounter{Store: e.st}
	b := newKeeper(t, Options{Pools: e.k.opt.Pools, Dir: e.dir, Store: other, Audit: e.audit, Immediate: true,
		GrantTimeout: 2 * time.Second, Floor: 5 * time.Hour, Clock: e.clock, Log: quiet, Reg: prometheus.NewRegistry()})
	revoke(t, e, "jira-software", "alice")
	b.Prime(ctx)
	if got := b.IsRevoked("alice"); len(got) != 1 || other.scans.Load() == 0 {
		t.Fatalf("first load: %+v after %d scans, want alice's record from a full read", got, other.scans.Load())
	}
	scans := other.scans.Load()
	revoke(t, e, "jira-software", "carol")
	revoke(t, e, "jsm", "bob")
	if v := e.k.Ensure(ctx, identity.Identity{User: "alice"}, nil); !v.Granted {
		t.Fatalf("alice's return: %+v", v)
	}
	b.resync(ctx)
	if got := b.IsRevoked("carol"); len(got) != 1 {
		t.Errorf("carol's revocation not followed: %+v", got)
	}
	if got := b.IsRevoked("bob"); got["jsm"].Groups[0] != "jira-servicedesk-users" {
		t.Errorf("bob's record: %+v, want the JSM group to give back", got)
	}
	if got := b.IsRevoked("alice"); len(got) != 0 {
		t.Errorf("alice's grant not followed: %+v", got)
	}
	if n := other.scans.Load() - scans; n != 0 {
		t.Errorf("following the log read the records in full %d times, want 0", n)
	}
	// Past what the log keeps: read in full again.
	b.logMu.Lock()
	b.caughtUp = time.Now().Add(-2 * logCatchUpLimit)
	b.logMu.Unlock()
	b.resync(ctx)
	if other.scans.Load() == scans {
		t.Error("after a gap the view was not read in full")
	}
	if got := b.IsRevoked("carol"); len(got) != 1 {
		t.Errorf("after the full read: carol %+v", got)
	}
}
