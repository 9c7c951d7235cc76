package keeper

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/store/storetest"
)

// countingDir counts UserGroups calls (reconcile's per-record read).
type countingDir struct {
	directory.Directory
	userGroups atomic.Int64
}

func (c *countingDir) UserGroups(ctx context.Context, user string, nested bool) ([]string, error) {
	c.userGroups.Add(1)
	return c.Directory.UserGroups(ctx, user, nested)
}

// reconcileEnv: n users revoked from jira-software by floatseat, a keeper
// with a shared membership view and a reconcile batch of batch.
func reconcileEnv(t *testing.T, n, batch int) (*Keeper, *appsim.InternalDirectory, *countingDir, *membership.View) {
	t.Helper()
	st, _ := storetest.New(t, "floatseat:test")
	dir := appsim.NewInternalDirectory()
	dir.AddGroup("jira-software-users")
	ctx := t.Context()
	for i := 0; i < n; i++ {
		u := fmt.Sprintf("u%02d", i)
		dir.AddUser(u, "pw")
		_ = dir.AddMember(ctx, u, "jira-software-users")
	}
	cd := &countingDir{Directory: dir}
	now := time.Now()
	view := membership.New(membership.Options{Dir: cd, Groups: []string{"jira-software-users"}, Interval: time.Hour,
		Clock: func() time.Time { return now }})
	if err := view.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	k := newKeeper(t, Options{
		Pools: []Pool{{Name: "jira-software", LicenseGroups: []string{"jira-software-users"}, DefaultGroups: []string{"jira-software-users"}}},
		Dir:   cd, Members: view, ReconcileBatch: batch, Store: st, Audit: audit.New(st, quiet, 1000, "test", "enforce"),
		Immediate: true, GrantTimeout: time.Second, Floor: time.Hour, Clock: func() time.Time { return now },
		Log: quiet, Reg: prometheus.NewRegistry(),
	})
	for i := 0; i < n; i++ {
		if err := k.Revoke(ctx, RevokeRequest{Pool: "jira-software", User: fmt.Sprintf("u%02d", i), Reason: "ceiling", Trigger: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	cd.userGroups.Store(0)
	return k, dir, cd, view
}

// TestReconcileIsIncremental: each pass reads the directory at most
// ReconcileBatch times; the sweep resumes where it stopped, so a deleted
// user is found within ⌈records/batch⌉ passes; drift the view sees is
// handled in the next pass whatever the sweep's position.
func TestReconcileIsIncremental(t *testing.T) {
	const n, batch = 20, 4
	k, dir, cd, view := reconcileEnv(t, n, batch)
	ctx := t.Context()
	dir.DeleteUser("u13")
	for pass := 0; pass < n/batch; pass++ {
		if err := k.Reconcile(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if got := cd.userGroups.Swap(0); got > batch {
			t.Fatalf("pass %d: %d directory reads, want at most %d", pass, got, batch)
		}
	}
	if got := k.IsRevoked("u13"); len(got) != 0 {
		t.Errorf("a user deleted from the directory still has a record after a full sweep: %+v", got)
	}
	if got := k.IsRevoked("u12"); len(got) != 1 {
		t.Errorf("u12's record was dropped: %+v", got)
	}
	// An admin gives u02 the seat back by hand and the view sees it at its
	// refresh: the next pass drops the record, wherever the sweep is.
	_ = dir.AddMember(ctx, "u02", "jira-software-users")
	if err := view.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := k.IsRevoked("u02"); len(got) != 0 {
		t.Errorf("drift seen by the view not reconciled in one pass: %+v", got)
	}
	if got := cd.userGroups.Load(); got > batch {
		t.Errorf("%d directory reads, want at most %d", got, batch)
	}
}

// TestReconcileStopsWhenNoLongerAllowed: the pass asks as it goes (the
// reaper renews its lock there) and stops at the first no.
func TestReconcileStopsWhenNoLongerAllowed(t *testing.T) {
	k, _, cd, _ := reconcileEnv(t, 120, 100)
	asked := 0
	err := k.Reconcile(t.Context(), func(context.Context) bool { asked++; return false })
	if err == nil || asked != 1 {
		t.Errorf("got %v after %d checks, want a stop at the first check", err, asked)
	}
	if got := cd.userGroups.Load(); got >= 100 {
		t.Errorf("%d directory reads after the lock was lost, want the pass stopped", got)
	}
}
