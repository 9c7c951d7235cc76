package keeper

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/proxy"
)

// pausingDir holds the first RemoveMember of user from group until the
// test releases it (with fail set, the removal then fails): a revocation
// stopped between its intent and its record, the directory write in
// flight.
type pausingDir struct {
	directory.Directory
	user, group string
	once        sync.Once
	entered     chan struct{} // closed when the removal is held
	release     chan struct{} // close to let it go on
	fail        bool
}

func newPausingDir(d directory.Directory, user, group string) *pausingDir {
	return &pausingDir{Directory: d, user: user, group: group, entered: make(chan struct{}), release: make(chan struct{})}
}

func (d *pausingDir) RemoveMember(ctx context.Context, u, g string) error {
	held := false
	if u == d.user && g == d.group {
		d.once.Do(func() { held = true })
	}
	if held {
		close(d.entered)
		<-d.release
		if d.fail {
			return errInjected
		}
	}
	return d.Directory.RemoveMember(ctx, u, g)
}

// watchingReader tells when a login's read found a revocation under way.
type watchingReader struct {
	RevokedReader
	once sync.Once
	saw  chan struct{}
}

func (w *watchingReader) RevokedOrRevoking(ctx context.Context, pool, user string) (store.Revoked, bool, bool, error) {
	r, recorded, revoking, err := w.RevokedReader.RevokedOrRevoking(ctx, pool, user)
	if err == nil && !recorded && revoking {
		w.once.Do(func() { close(w.saw) })
	}
	return r, recorded, revoking, err
}

// recordsBefore runs before on every CompleteRevoke: what must be done
// before a revocation's record lets a waiting login grant.
type recordsBefore struct {
	RevokedRecords
	before func(pool, user string)
}

func (r *recordsBefore) CompleteRevoke(ctx context.Context, pool, user string, rec store.Revoked) error {
	r.before(pool, user)
	return r.RevokedRecords.CompleteRevoke(ctx, pool, user, rec)
}

// inflight is two replicas on one Redis and one directory, with parking
// groups and a full pool: replica A revokes through a directory that holds
// the removal of user0001's licence group; replica B serves the login.
type inflight struct {
	*parkEnv
	a, b *Keeper
	dir  *pausingDir
	seen *watchingReader
}

const inflightUser = "user0001"

func newInflight(t *testing.T, loginWait time.Duration) *inflight {
	t.Helper()
	pe := newParkEnv(t, 4)
	if err := pe.st.SetLicense(t.Context(), "jira-software", store.LicenseCount{Seats: 4, Used: 4}, pe.clock()); err != nil {
		t.Fatal(err)
	}
	f := &inflight{parkEnv: pe, dir: newPausingDir(pe.dir, inflightUser, "jira-software-users")}
	oa := pe.opt
	oa.Dir, oa.Reg = f.dir, prometheus.NewRegistry()
	var ended sync.Map
	oa.EndSessions = func(_ context.Context, u string) error { ended.Store(u, true); return nil }
	f.a = newKeeper(t, oa)
	f.a.Prime(t.Context())
	// A login that found the intent grants as soon as the record is
	// written: by then the seat must be pending (so the grant gives it
	// back whatever the headroom), the app sessions ended (or they would
	// end the session the login opens), and A's own view set (or it would
	// overwrite the grant).
	f.a.records = &recordsBefore{RevokedRecords: f.a.records, before: func(pool, u string) {
		if n := f.pendingRevocations(t); n != 1 {
			t.Errorf("pending revocations before the record: %d, want 1", n)
		}
		if _, ok := ended.Load(u); !ok {
			t.Error("the record was written before the app sessions were ended")
		}
		if len(f.a.IsRevoked(u)) == 0 {
			t.Error("the record was written before replica A's view named the revocation")
		}
	}}
	ob := pe.opt
	ob.Reg, ob.GrantTimeout = prometheus.NewRegistry(), 2*loginWait // B waits half of it
	f.b = newKeeper(t, ob)
	f.b.Prime(t.Context())
	f.seen = &watchingReader{RevokedReader: f.b.reader, saw: make(chan struct{})}
	f.b.reader = f.seen
	return f
}

// revokeOnA starts the revocation on replica A and returns once its
// removal is held: the intent is recorded and the user parked, the record
// not written.
func (f *inflight) revokeOnA(t *testing.T) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		done <- f.a.Revoke(context.Background(), RevokeRequest{Pool: "jira-software", User: inflightUser, Reason: "pressure", Trigger: "reaper"})
	}()
	<-f.dir.entered
	_, recorded, revoking, err := f.st.RevokedOrRevoking(t.Context(), "jira-software", inflightUser)
	if err != nil || recorded || !revoking {
		t.Fatalf("while A's removal is held: recorded %v, revoking %v, %v; want the revocation under way", recorded, revoking, err)
	}
	return done
}

var inflightLogin = identity.Identity{User: inflightUser, Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin}

// state is what the user ends with, in the directory and in Redis.
func (f *inflight) state(t *testing.T) (licensed, parked, recorded bool, intents []store.Intent) {
	t.Helper()
	licensed = f.member(t, inflightUser, "jira-software-users")
	parked = f.member(t, inflightUser, prefix+"jira-software-users")
	_, recorded, err := f.st.RevokedUser(t.Context(), "jira-software", inflightUser)
	if err != nil {
		t.Fatal(err)
	}
	intents, err = f.st.Intents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return licensed, parked, recorded, intents
}

// A login on replica B while replica A is half-way through revoking the
// user (intent recorded, groups being removed, no record yet): B waits for
// A's revocation to finish, then gives the seat back before the login is
// forwarded, as to any returning user. Before, B found no record and let
// the login go out ungranted: the app, re-reading groups, refused it. The
// grant wins cleanly: A's revocation runs to its end untouched, then B's
// grant follows it, and a reconcile afterwards finds nothing to do.
func TestLoginDuringARevocationOnAnotherReplicaWaitsAndIsGranted(t *testing.T) {
	f := newInflight(t, time.Minute)
	revoked := f.revokeOnA(t)
	verdict := make(chan proxy.Verdict, 1)
	go func() { verdict <- f.b.Ensure(context.Background(), inflightLogin, nil) }()
	<-f.seen.saw // B found the revocation under way and waits
	close(f.dir.release)
	if err := <-revoked; err != nil {
		t.Fatalf("A's revocation: %v", err)
	}
	v := <-verdict
	if !v.Granted || v.Deny || v.Ticket == 0 {
		t.Fatalf("login on B: got %+v, want a provisional grant before forwarding", v)
	}
	f.b.Settle(inflightLogin, v, proxy.Judgement{Confirmed: true})

	check := func(when string) {
		t.Helper()
		licensed, parked, recorded, intents := f.state(t)
		if !licensed || parked || recorded || len(intents) != 0 {
			t.Errorf("%s: licensed %v, parked %v, recorded %v, intents %+v; want licensed, unparked, no record, no intent",
				when, licensed, parked, recorded, intents)
		}
		// The pool was full: the seat came back as the revocation's own
		// (pending, still counted by the app), not as a new one.
		if n := f.pendingRevocations(t); n != 0 {
			t.Errorf("%s: pending revocations %d, want 0", when, n)
		}
		if n := f.pending(t, "jira-software"); n != 1 {
			t.Errorf("%s: pending grants %d, want 1", when, n)
		}
		want := []string{"revoke " + inflightUser + " jira-software pressure", "grant " + inflightUser + " jira-software login"}
		if got := f.actions(t); !equal(got, want) {
			t.Errorf("%s: audit %q, want %q", when, got, want)
		}
	}
	check("after the login")
	if err := f.a.Reconcile(t.Context(), nil); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	f.a.resync(t.Context())
	f.b.resync(t.Context())
	check("after reconcile and resync")
	for name, k := range map[string]*Keeper{"A": f.a, "B": f.b} {
		if got := k.IsRevoked(inflightUser); len(got) != 0 {
			t.Errorf("replica %s still sees %s revoked: %+v", name, inflightUser, got)
		}
	}
}

// The wait is bounded: a revocation still under way when it ends (a slow
// directory, a replica that crashed half-way) lets the login go on as the
// view says, the app deciding, as before. The revocation then completes,
// and the next login is granted.
func TestLoginWaitForARevocationIsBounded(t *testing.T) {
	f := newInflight(t, time.Millisecond)
	revoked := f.revokeOnA(t)
	if v := f.b.Ensure(t.Context(), inflightLogin, nil); v != (proxyVerdictZero) {
		t.Errorf("login while the revocation outlasts the wait: got %+v, want it forwarded unchanged", v)
	}
	close(f.dir.release)
	if err := <-revoked; err != nil {
		t.Fatalf("A's revocation: %v", err)
	}
	if licensed, parked, recorded, _ := f.state(t); licensed || !parked || !recorded {
		t.Fatalf("after A's revocation: licensed %v, parked %v, recorded %v; want revoked", licensed, parked, recorded)
	}
	f.b.opt.GrantTimeout = time.Minute // the grant's own deadline, no longer the wait's
	v := f.b.Ensure(t.Context(), inflightLogin, nil)
	if !v.Granted || v.Ticket == 0 {
		t.Errorf("the next login: got %+v, want a provisional grant", v)
	}
}

// A revocation that fails while a login waits for it is undone by its
// replica (groups back, intent dropped): the wait ends there, and the
// login goes on with the user holding the groups, nothing to give back.
func TestLoginWaitEndsWhenTheRevocationIsUndone(t *testing.T) {
	f := newInflight(t, time.Minute)
	f.dir.fail = true
	revoked := f.revokeOnA(t)
	verdict := make(chan proxy.Verdict, 1)
	go func() { verdict <- f.b.Ensure(context.Background(), inflightLogin, nil) }()
	<-f.seen.saw
	close(f.dir.release)
	if err := <-revoked; !errors.Is(err, errInjected) {
		t.Fatalf("A's revocation: got %v, want the injected failure", err)
	}
	if v := <-verdict; v != (proxyVerdictZero) {
		t.Errorf("login: got %+v, want it forwarded with nothing to give back", v)
	}
	if licensed, parked, recorded, intents := f.state(t); !licensed || parked || recorded || len(intents) != 0 {
		t.Errorf("licensed %v, parked %v, recorded %v, intents %+v; want licensed as before the revocation", licensed, parked, recorded, intents)
	}
}
