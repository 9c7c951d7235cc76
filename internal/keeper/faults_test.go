package keeper

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/store/storetest"
	"github.com/floatseat/floatseat/proxy"
)

// faultyDir fails chosen directory writes: the nth AddMember from now on,
// and every RemoveMember while failRemove is set.
type faultyDir struct {
	directory.Directory
	mu         sync.Mutex
	adds       int
	failAddAt  int // 0: never
	failRemove bool
}

var errInjected = errors.New("injected: directory write failed")

func (d *faultyDir) AddMember(ctx context.Context, u, g string) error {
	d.mu.Lock()
	d.adds++
	fail := d.adds == d.failAddAt
	d.mu.Unlock()
	if fail {
		return errInjected
	}
	return d.Directory.AddMember(ctx, u, g)
}

func (d *faultyDir) RemoveMember(ctx context.Context, u, g string) error {
	d.mu.Lock()
	fail := d.failRemove
	d.mu.Unlock()
	if fail {
		return errInjected
	}
	return d.Directory.RemoveMember(ctx, u, g)
}

func (d *faultyDir) set(f func(d *faultyDir)) { d.mu.Lock(); f(d); d.mu.Unlock() }

// twoGroupEnv: erin holds both licence groups of one pool (Jira Software
// through two groups), floatseat revoked her.
func twoGroupEnv(t *testing.T) (*Keeper, *appsim.InternalDirectory, *faultyDir, *flakyStore) {
	t.Helper()
	st, _ := storetest.New(t, "floatseat:test")
	dir := appsim.NewInternalDirectory()
	dir.AddUser("erin", "pw-erin")
	groups := []string{"jira-software-users", "jira-software-extra"}
	for _, g := range groups {
		dir.AddGroup(g)
		_ = dir.AddMember(t.Context(), "erin", g)
	}
	fd := &faultyDir{Directory: dir}
	fs := &flakyStore{Store: st}
	now := time.Now()
	k := newKeeper(t, Options{
		Pools: []Pool{{Name: "jira-software", LicenseGroups: groups, DefaultGroups: groups[:1]}},
		Dir:   fd, Store: fs, Audit: audit.New(st, quiet, 1000, "test", "enforce"), Immediate: true,
		GrantTimeout: time.Second, Floor: time.Hour, Clock: func() time.Time { return now }, Log: quiet,
		Reg: prometheus.NewRegistry(),
	})
	if err := st.SetLicense(t.Context(), "jira-software", store.LicenseCount{Seats: 10, Used: 1}, now); err != nil {
		t.Fatal(err)
	}
	if err := k.Revoke(t.Context(), RevokeRequest{Pool: "jira-software", User: "erin", Reason: "ceiling", Trigger: "test"}); err != nil {
		t.Fatal(err)
	}
	return k, dir, fd, fs
}

// After any of these faults and a reconcile, erin is either licensed (both
// groups) or still recorded as revoked with both groups: never neither.
func TestFaultsLeaveUsersLicensedOrRecorded(t *testing.T) {
	basic := identity.Identity{User: "erin", Source: identity.SourceBasic, Password: "pw-erin"}
	for _, c := range []struct {
		name  string
		fault func(k *Keeper, dir *appsim.InternalDirectory, fd *faultyDir, fs *flakyStore)
	}{
		{"2nd AddMember fails", func(k *Keeper, _ *appsim.InternalDirectory, fd *faultyDir, _ *flakyStore) {
			fd.set(func(d *faultyDir) { d.adds, d.failAddAt = 0, 2 })
			k.Ensure(context.Background(), basic, nil)
		}},
		{"2nd AddMember fails and so does the undo", func(k *Keeper, _ *appsim.InternalDirectory, fd *faultyDir, _ *flakyStore) {
			fd.set(func(d *faultyDir) { d.adds, d.failAddAt, d.failRemove = 0, 2, true })
			k.Ensure(context.Background(), basic, nil)
			fd.set(func(d *faultyDir) { d.failRemove = false })
		}},
		{"crash after the 1st AddMember", func(k *Keeper, dir *appsim.InternalDirectory, _ *faultyDir, _ *flakyStore) {
			_ = dir.AddMember(context.Background(), "erin", "jira-software-users") // no intent survived
		}},
		{"RestoreRevoked fails once in a rollback", func(k *Keeper, _ *appsim.InternalDirectory, _ *faultyDir, fs *flakyStore) {
			fs.failRestore = 1
			v := k.Ensure(context.Background(), basic, nil)
			k.Settle(basic, v, proxy.Judgement{Why: proxy.WhyClientGone})
		}},
		{"RemoveMember fails in a rollback", func(k *Keeper, _ *appsim.InternalDirectory, fd *faultyDir, _ *flakyStore) {
			v := k.Ensure(context.Background(), basic, nil)
			fd.set(func(d *faultyDir) { d.failRemove = true })
			k.Settle(basic, v, proxy.Judgement{Why: proxy.WhyBadCredentials})
			fd.set(func(d *faultyDir) { d.failRemove = false })
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, dir, fd, fs := twoGroupEnv(t)
			c.fault(k, dir, fd, fs)
			if err := k.Reconcile(t.Context(), nil); err != nil {
				t.Fatalf("reconcile: %v", err)
			}
			held, _ := dir.UserGroups(t.Context(), "erin", false)
			rec, recorded, err := fs.Store.RevokedUser(t.Context(), "jira-software", "erin")
			if err != nil {
				t.Fatal(err)
			}
			licensed := len(held) == 2
			t.Logf("holds %v, recorded %v %v", held, recorded, rec.Groups)
			switch {
			case licensed && recorded:
				t.Error("licensed and still recorded as revoked: the next login would grant again")
			case !licensed && !recorded:
				t.Error("neither licensed nor recorded as revoked: locked out for good")
			case !licensed && (len(held) != 0 || len(rec.Groups) != 2):
				t.Errorf("recorded as revoked but holds %v, record %v", held, rec.Groups)
			}
			if ins, _ := fs.Store.Intents(t.Context()); len(ins) != 0 {
				t.Errorf("intents left after reconcile: %+v", ins)
			}
			// Whatever happened, her next login gets both groups.
			v := k.Ensure(t.Context(), basic, nil)
			k.Settle(basic, v, proxy.Judgement{Confirmed: true})
			if held, _ := dir.UserGroups(t.Context(), "erin", false); len(held) != 2 {
				t.Errorf("after her next login she holds %v", held)
			}
		})
	}
}

// A grant that failed after it reached the directory, and that reconcile
// will complete, keeps the seat it took: reconcile gives the groups back
// without taking one. Releasing it would let another login take the same
// seat, and the pool end one over its licence once reconcile runs. A grant
// that failed with the directory left as it was releases its seat.
func TestAGrantLeftForReconcileKeepsItsSeat(t *testing.T) {
	basic := identity.Identity{User: "erin", Source: identity.SourceBasic, Password: "pw-erin"}
	for _, c := range []struct {
		name     string
		fault    func(fd *faultyDir, fs *flakyStore)
		heal     func(fd *faultyDir)
		wantHeld int // pending grants after the failed grant
	}{
		{"2nd AddMember fails, the undo works", func(fd *faultyDir, _ *flakyStore) {
			fd.set(func(d *faultyDir) { d.adds, d.failAddAt = 0, 2 })
		}, nil, 0},
		{"2nd AddMember fails and so does the undo", func(fd *faultyDir, _ *flakyStore) {
			fd.set(func(d *faultyDir) { d.adds, d.failAddAt, d.failRemove = 0, 2, true })
		}, func(fd *faultyDir) { fd.set(func(d *faultyDir) { d.failRemove = false }) }, 1},
		{"the record is not dropped after every group was added", func(_ *faultyDir, fs *flakyStore) {
			fs.failGrant = 1
		}, nil, 1},
	} {
		for _, fresh := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/fresh=%v", c.name, fresh), func(t *testing.T) {
				k, dir, fd, fs := twoGroupEnv(t)
				ctx := t.Context()
				if fresh {
					// A report after the revocation showed: erin's return
					// takes a fresh seat. Otherwise it takes back the seat
					// the app still counts, a pending revocation.
					if err := fs.Store.SetLicense(ctx, "jira-software", store.LicenseCount{Seats: 10, Used: 0}, k.opt.Clock().Add(24*time.Hour)); err != nil {
						t.Fatal(err)
					}
				}
				c.fault(fd, fs)
				k.Ensure(ctx, basic, nil)
				if c.heal != nil {
					c.heal(fd)
				}
				_, _, held, _, _, err := fs.Store.PoolState(ctx, "jira-software")
				if err != nil {
					t.Fatal(err)
				}
				if held != c.wantHeld {
					t.Errorf("pending grants after the failed grant: got %d, want %d", held, c.wantHeld)
				}
				if err := k.Reconcile(ctx, nil); err != nil {
					t.Fatalf("reconcile: %v", err)
				}
				groups, _ := dir.UserGroups(ctx, "erin", false)
				if licensed := len(groups) == 2; licensed != (c.wantHeld == 1) {
					t.Errorf("after reconcile erin holds %v; licensed %v, want %v", groups, licensed, c.wantHeld == 1)
				}
				// Revoked still (the undo worked): pending as before, unless
				// a report showed it; licensed: not pending.
				wantRev := 0
				if !fresh && c.wantHeld == 0 {
					wantRev = 1
				}
				if n, _ := fs.Store.PendingRevocations(ctx, "jira-software"); n != wantRev {
					t.Errorf("pending revocations after reconcile: got %d, want %d", n, wantRev)
				}
			})
		}
	}
}
