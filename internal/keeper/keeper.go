// Package keeper gives seats back: before a request of a user floatseat
// revoked (or of a pool-group member without a seat) is forwarded, it takes
// a seat atomically in Redis and restores exactly the groups that were
// removed, so the app sees a licensed user when the request arrives. It also
// revokes on the reaper's or an admin's behalf, and reconciles after a crash.
//
// A grant made for a claim (identity.Identity.IsClaim: a login body, a Basic
// header, a SAML NameID) is provisional (DESIGN §2.9): Ensure returns it with
// a Verdict.Ticket, and the proxy settles the ticket with Settle once it has
// judged the app's answer (proxy.Judge). Confirmed keeps the grant; Await
// keeps it until AnsweredAs hears a response as the user or
// Options.ConfirmWait ends; anything else rolls it back at once, with an
// intent first, audited with the judgement's reason. An SSO route added
// later registers through the same path: an Identity that IsClaim, a case
// in proxy.Judge, nothing new here.
//
// The fast path, a user floatseat never revoked, is one read-locked map
// lookup: no network call and no allocation.
package keeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/username"
	"github.com/floatseat/floatseat/proxy"
)

// Pool is one licence as the keeper needs it.
type Pool struct {
	Name          string
	LicenseGroups []string
	DefaultGroups []string
	PoolGroups    []string
}

// Options configure a Keeper.
type Options struct {
	Pools []Pool
	Dir   directory.Directory
	// Members is the membership view shared with the reaper and the admin
	// read model (required); the keeper tells it about every change it
	// makes, and reads the pool groups from it every SeatlessRefresh.
	Members *membership.View
	// ReconcileBatch bounds the directory reads of one Reconcile pass over
	// the revoked records (default 50): the full sweep is spread over runs.
	ReconcileBatch int
	// Store is Redis; the keeper keeps it as its roles (store.go).
	Store Store
	Audit *audit.Log
	// Observe: decide and audit, change nothing.
	Observe bool
	// Virtual is observe mode's virtual revoked set (observe.go): with it,
	// each would-revoke is audited once and a return as a would-grant.
	Virtual Virtual
	// Immediate: the backend's changes are visible to the app at once (app
	// REST). Otherwise (Crowd, LDAP) only at a password login or the next
	// directory sync (DESIGN §2.6).
	Immediate    bool
	SyncInterval time.Duration
	GrantTimeout time.Duration
	// ConfirmWait: how long an SSO grant whose redirect named nobody waits
	// for a request the app answers as its user (default 2 minutes).
	ConfirmWait time.Duration
	// Verifier checks a claim's password before any grant, where the
	// backend can (LDAP bind, Crowd /authentication); nil: no check.
	Verifier directory.PasswordVerifier
	// ClaimLimits bound grants made for claims (SetClaimLimits changes them).
	ClaimLimits ClaimLimits
	// Reserve is a pool's reserve in force (a reload changes it); nil: 0.
	// Seat-page claims awaiting confirmation hold at most half of it
	// (seatpage.go).
	Reserve func(pool string) int
	// Floor is the session timeout: nobody active within it is revoked.
	Floor time.Duration
	// ReaperInterval: a holder past the floor is revoked at the next run.
	ReaperInterval time.Duration
	Refresh        time.Duration // full resync of revoked users from Redis
	// VisibilityMargin is added to when a change can first show in the
	// app's seat count (default 1 minute).
	VisibilityMargin time.Duration
	// SeatlessRefresh: how often pool groups are read from the directory.
	SeatlessRefresh time.Duration
	// EndSessions, when set, ends the user's sessions in the app after a
	// revocation (Jira 9.11+, app.end_sessions); a failure is logged.
	EndSessions func(ctx context.Context, user string) error
	// Need says which pools a request needs a seat in, as bits in the
	// order of Pools (DESIGN §2.11); nil: every pool.
	Need func(r *http.Request) uint64
	// ParkingPrefix names the parking groups (DESIGN §2.10); "" parks
	// nobody, and then a Redis that loses its data loses the revoked view.
	ParkingPrefix string
	Clock         func() time.Time
	Log           *slog.Logger
	Reg           prometheus.Registerer
}

// Keeper implements proxy.Seats.
type Keeper struct {
	opt   Options
	roles              // the store, by role: each part uses only its own
	floor atomic.Int64 // a reloaded Floor; 0: opt.Floor
	pools map[string]*Pool
	bits  map[string]uint64 // pool → its bit in a Need mask

	mu sync.RWMutex
	// revoked: normalised user → pool → what to give back.
	revoked map[string]userRecords
	intern  interner

	// logMu guards where the revoked view stands in the change log.
	logMu    sync.Mutex
	logID    string
	caughtUp time.Time
	// seatless: pool-group members who hold no licence group of the pool.
	seatless map[string][]string
	// invisible: users granted through a backend the app has not synced
	// yet, until when. Their remember-me cookie is not forwarded meanwhile.
	invisible map[string]time.Time
	// stale: hashes of the sessions each invisible user came back with,
	// kept from the app until a login or the sync (sessions.go).
	stale map[string][]uint64
	// pending: provisional grants made for claims, by ticket, until the
	// app confirms them (provisional.go). npending counts them, so the
	// proxy's AnsweredAs costs one atomic load when none is pending.
	pending    map[uint64]*provisional
	nextTicket uint64
	npending   atomic.Int64
	sweeps     atomic.Uint64
	// seatPage: pool → seat-page claims granting or awaiting confirmation
	// on this replica (seatpage.go).
	seatPage map[string]int
	// denied: when a user's denial was last audited, so a user retrying
	// against a full pool writes one event a minute, not one a request.
	denied map[string]time.Time
	// holds: users partly revoked who were seen holding a seat of another
	// pool, until when that answer is trusted (see needsAnySeat).
	holds map[string]time.Time
	// virtual: observe mode's virtual revoked set, user → pools, read
	// through vset; tally tells a would-deny (observe.go).
	virtual map[string]map[string]bool
	vset    VirtualSet
	tally   VirtualTally

	// unmarked: revocations whose freed seat is not counted yet (remark).
	unmarked unmarkedSeats

	// sweep is where the next reconcile pass resumes its sweep.
	sweepMu sync.Mutex
	sweep   recordRef

	flightMu sync.Mutex
	flight   map[string]*call

	// epoch is the Redis epoch the view belongs to (parking.go).
	epoch *epochGuard

	grants      *prometheus.CounterVec
	revocations *prometheus.CounterVec
	failures    *prometheus.CounterVec
	ratelimited *prometheus.CounterVec
	prechecks   *prometheus.CounterVec

	gate     *claimGate
	rebuilds prometheus.Counter
}

type call struct {
	done chan struct{}
	v    proxy.Verdict
}

var _ proxy.Seats = (*Keeper)(nil)

// ErrNoMembers: Options.Members is nil. The keeper reads pool groups and
// tells membership changes only through the view shared with the reaper
// and the admin read model; a view of its own would drift from theirs.
var ErrNoMembers = errors.New("keeper: Options.Members (the shared membership view) is required")

// New returns a Keeper; call Run to keep its view of revoked users current.
func New(opt Options) (*Keeper, error) {
	if opt.Members == nil {
		return nil, ErrNoMembers
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.Refresh <= 0 {
		opt.Refresh = 30 * time.Second
	}
	if opt.VisibilityMargin <= 0 {
		opt.VisibilityMargin = time.Minute
	}
	if opt.SeatlessRefresh <= 0 {
		opt.SeatlessRefresh = time.Minute
	}
	if opt.ReconcileBatch <= 0 {
		opt.ReconcileBatch = 50
	}
	if opt.ConfirmWait <= 0 {
		opt.ConfirmWait = 2 * time.Minute
	}
	k := &Keeper{
		opt:       opt,
		roles:     rolesOf(opt.Store),
		epoch:     newEpochGuard(opt.Store),
		vset:      opt.Virtual,
		tally:     opt.Virtual,
		pools:     make(map[string]*Pool, len(opt.Pools)),
		revoked:   map[string]userRecords{},
		seatless:  map[string][]string{},
		invisible: map[string]time.Time{},
		stale:     map[string][]uint64{},
		pending:   map[uint64]*provisional{},
		seatPage:  map[string]int{},
		denied:    map[string]time.Time{},
		holds:     map[string]time.Time{},
		virtual:   map[string]map[string]bool{},
		flight:    map[string]*call{},
		bits:      map[string]uint64{},
	}
	for i := range opt.Pools {
		k.pools[opt.Pools[i].Name] = &opt.Pools[i]
		k.bits[opt.Pools[i].Name] = 1 << uint(i)
	}
	f := promauto.With(opt.Reg)
	k.grants = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "grants_total",
		Help: "Seats given back, by pool and reason (login, return, pool-group, manual, rollback-undo).",
	}, []string{"pool", "reason"})
	k.revocations = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "revocations_total",
		Help: "Seats taken away, by pool and reason (ceiling, pressure, manual, rollback).",
	}, []string{"pool", "reason"})
	k.failures = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "seat_errors_total",
		Help: "Seat changes that failed, by operation (grant and revoke: nothing changed, the request was forwarded unchanged; rollback; mark_revoked: revoked, the freed seat not counted yet; end_sessions).",
	}, []string{"op"})
	k.ratelimited = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "grant_ratelimited_total",
		Help: "Claims (login body, Basic, SAML) refused a grant by the claim limits, by scope (user, address).",
	}, []string{"scope"})
	k.prechecks = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "grant_password_checks_total",
		Help: "Password checks by the backend before a grant for a claim, by result (ok, bad-password, unavailable).",
	}, []string{"result"})
	k.gate = newClaimGate(opt.ClaimLimits)
	k.rebuilds = f.NewCounter(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "state_rebuilds_total",
		Help: "Times the revoked view was rebuilt from the parking groups because Redis had no epoch (first start, restart without persistence, failover to an empty replica).",
	})
	return k, nil
}

// Ensure runs before a non-noise request of a known user is forwarded. A
// pool floatseat took from the user is given back only when the request
// needs it (DESIGN §2.11): a queue gives the agent seat back, a board never
// does.
func (k *Keeper) Ensure(ctx context.Context, id identity.Identity, r *http.Request) proxy.Verdict {
	u := username.Normalize(id.User)
	if id.Source == identity.SourceSeatPage && !k.opt.Observe {
		// Whatever comes of this claim, the client's previous one goes.
		k.supersede(id.Client, 0)
	}
	vw := k.lookup(u, id, r)
	if vw.vpools != nil && k.opt.Observe && k.vset != nil {
		return k.observeEnsure(ctx, u, vw.vpools, id, k.need(r))
	}
	if vw.lack == 0 && !k.opt.Observe && isLogin(id) && k.readRevoked(ctx, u, vw.missing) {
		vw = k.lookup(u, id, r)
	}
	missing, lack, inv, invisible, staleSession := vw.missing, vw.lack, vw.inv, vw.invisible, vw.staleSession
	if missing != 0 && lack == 0 && !k.opt.Observe && k.holdsNoSeat(ctx, u) {
		// Nothing this request needs is missing, but the user holds no
		// seat at all (a JSM-only agent opening the dashboard): without
		// one the app would refuse them, so what was taken comes back.
		lack = missing
	}
	if lack == 0 {
		if invisible && (id.RememberMeCookie != "" || staleSession) {
			if k.opt.Clock().Before(inv) {
				// Until the app can see the grant, its cookie paths would
				// fail: remember-me counts a failed login, a live session
				// keeps the groups it had (403s). Without them the app asks
				// for a login, which re-reads groups (DESIGN §2.6).
				return proxy.Verdict{DropRememberMe: id.RememberMeCookie != "", DropSession: staleSession}
			}
			k.mu.Lock()
			delete(k.invisible, u)
			delete(k.stale, u)
			k.mu.Unlock()
		}
		return proxy.Verdict{}
	}
	if k.opt.Observe {
		return proxy.Verdict{}
	}
	if !id.IsClaim() {
		return k.grantOnce(ctx, u, id, lack)
	}
	if !k.admitClaim(ctx, u, id) {
		return proxy.Verdict{}
	}
	v := k.grantOnce(ctx, u, id, lack)
	if v.Ticket == 0 {
		k.gate.release(id.Client) // nothing awaits confirmation
	}
	return v
}

// userView is what the view says of one user for one request.
type userView struct {
	// missing: the pools floatseat took from the user (or that a
	// pool-group member lacks); lack: those of them the request needs.
	missing, lack uint64
	// vpools: observe mode's virtual pools of the user.
	vpools map[string]bool
	// inv: until when the app cannot see the user's last grant (invisible).
	inv       time.Time
	invisible bool
	// staleSession: the request's session is one kept from the app.
	staleSession bool
}

// lookup reads the view of u for request r, under one read lock.
func (k *Keeper) lookup(u string, id identity.Identity, r *http.Request) userView {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var vw userView
	rev := k.revoked[u]
	seatless := k.seatless[u]
	if rev != nil || seatless != nil {
		for _, r := range rev {
			vw.missing |= k.bits[r.pool]
		}
		for _, p := range seatless {
			vw.missing |= k.bits[p]
		}
		vw.lack = vw.missing & k.need(r)
	}
	vw.inv, vw.invisible = k.invisible[u]
	if len(k.virtual[u]) > 0 {
		vw.vpools = maps.Clone(k.virtual[u])
	}
	vw.staleSession = vw.invisible && id.Creds.Session != "" && k.staleSessionLocked(u, id.Creds.Session)
	return vw
}

// isLogin reports a login route (a login form or JSON, the SAML consumer,
// the OIDC callback) or the seat page: the requests that decide whether
// the user gets in at all, about one per user a day. A Basic header is a
// login on every request of a script, so it is not one here.
func isLogin(id identity.Identity) bool {
	return id.IsClaim() && (id.Route != identity.RouteNone || id.Source == identity.SourceSeatPage)
}

// readRevoked asks Redis for u's revoked record of every pool the view
// does not know u revoked from (known), before a login is let through
// with nothing to give back. The view learns of a revocation on another
// replica by pub/sub and the periodic resync; a login in the moments in
// between would go out ungranted, and the app would refuse it. Each read
// is bounded by the store's own deadline (redis.timeout); the first error
// (counted by the store) ends the reads and the login goes on as the view
// says, the app deciding, as with Redis down (DESIGN §2.8). It reports
// whether it found a record, which it puts in the view.
//
// A revocation under way (its intent recorded, its record not yet
// written: a replica is removing the groups) is waited for, up to half
// the grant timeout for all pools together (awaitRevoke): once its record
// is written the login is granted as any return, and until then nothing
// here races the revoking replica's directory writes.
func (k *Keeper) readRevoked(ctx context.Context, u string, known uint64) bool {
	found := false
	var waitUntil time.Time
	for i := range k.opt.Pools {
		pool := k.opt.Pools[i].Name
		if known&k.bits[pool] != 0 {
			continue
		}
		rec, ok, revoking, err := k.reader.RevokedOrRevoking(ctx, pool, u)
		if err == nil && !ok && revoking {
			if waitUntil.IsZero() {
				waitUntil = time.Now().Add(k.opt.GrantTimeout / 2)
			}
			rec, ok, err = k.awaitRevoke(ctx, pool, u, waitUntil)
		}
		if err != nil {
			k.opt.Log.Debug("revoked record not read before a login; going by the view", "user", u, "pool", pool, "err", err)
			return found
		}
		if !ok {
			continue
		}
		k.mu.Lock()
		k.setRevokedLocked(u, pool, rec)
		k.mu.Unlock()
		k.opt.Members.Removed(u, rec.Groups...)
		found = true
	}
	return found
}

// awaitRevoke waits, until the deadline, for the revocation of u from
// pool that is under way to end: with its record written (ok: the login
// is then granted as any return, the revocation already counted as
// pending, so the seat is given back as to any return: without a free
// seat while the last licence report predates the revocation), or undone
// (its intent gone without a record: u still holds the groups). Why wait
// rather than grant at once: the revoking replica's removal may reach the
// directory after a grant's additions and undo them, and its record would
// then name a user who holds the groups; waiting leaves one writer of u's
// groups at a time. A revocation takes a few directory writes; one still
// under way at the deadline (a slow directory, or a replica that crashed
// half-way, which reconcile finishes) lets the login go on as the view
// says, the app deciding, as before this wait existed. The wait is real
// time, not the keeper's clock: it waits for another process.
func (k *Keeper) awaitRevoke(ctx context.Context, pool, u string, deadline time.Time) (store.Revoked, bool, error) {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	delay := 2 * time.Millisecond
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-wctx.Done():
			k.opt.Log.Warn("login: a revocation of the user is still under way; the login goes on ungranted and the app decides",
				"user", u, "pool", pool)
			return store.Revoked{}, false, nil
		case <-t.C:
		}
		rec, ok, revoking, err := k.reader.RevokedOrRevoking(wctx, pool, u)
		if err != nil && wctx.Err() != nil {
			continue // the deadline, seen at the top
		}
		if err != nil || ok || !revoking {
			return rec, ok, err
		}
		delay = min(2*delay, 50*time.Millisecond)
		t.Reset(delay)
	}
}

// need is the pools r needs; every pool when that cannot be told.
func (k *Keeper) need(r *http.Request) uint64 {
	if k.opt.Need == nil || r == nil {
		return ^uint64(0)
	}
	return k.opt.Need(r)
}

// holdsTTL is how long "this partly revoked user still holds a seat of
// another pool" is trusted before the directory is asked again.
const holdsTTL = 10 * time.Minute

// holdsNoSeat reports whether u, revoked from some pools, holds no licence
// group of any pool. The answer "holds one" is cached (it is the common
// case: a Software user who lost the agent seat, on every request); any
// doubt (directory down) answers false: the request goes on unchanged and
// the app decides.
func (k *Keeper) holdsNoSeat(ctx context.Context, u string) bool {
	now := k.opt.Clock()
	k.mu.RLock()
	until, ok := k.holds[u]
	k.mu.RUnlock()
	if ok && now.Before(until) {
		return false
	}
	dctx, cancel := context.WithTimeout(ctx, k.opt.GrantTimeout)
	groups, err := k.opt.Dir.UserGroups(dctx, u, true)
	cancel()
	if err != nil {
		return false
	}
	for _, g := range groups {
		for _, p := range k.opt.Pools {
			for _, lg := range p.LicenseGroups {
				if strings.EqualFold(g, lg) {
					k.mu.Lock()
					k.holds[u] = now.Add(holdsTTL)
					k.mu.Unlock()
					return false
				}
			}
		}
	}
	return true
}

// Floor is the session timeout in force (SetFloor changes it at reload).
func (k *Keeper) Floor() time.Duration {
	if f := k.floor.Load(); f != 0 {
		return time.Duration(f)
	}
	return k.opt.Floor
}

// SetFloor changes the session timeout (reload).
func (k *Keeper) SetFloor(d time.Duration) { k.floor.Store(int64(d)) }

func (k *Keeper) forgetLocked(u, pool string) {
	if rs, ok := k.revoked[u]; ok {
		if rs = rs.without(pool); len(rs) == 0 {
			delete(k.revoked, u)
		} else {
			k.revoked[u] = rs
		}
	}
	if ps := k.seatless[u]; ps != nil {
		out := ps[:0]
		for _, p := range ps {
			if p != pool {
				out = append(out, p)
			}
		}
		if len(out) == 0 {
			delete(k.seatless, u)
		} else {
			k.seatless[u] = out
		}
	}
}

// removeGroups parks u, then removes groups: from the first removal on,
// the directory itself says what to give back (DESIGN §2.10).
func (k *Keeper) removeGroups(ctx context.Context, pool, u string, groups []string) error {
	if err := k.park(ctx, u, groups); err != nil {
		return err
	}
	var errs []error
	for _, g := range groups {
		if err := k.opt.Dir.RemoveMember(ctx, u, g); err != nil {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", u, g, err))
		}
	}
	return errors.Join(errs...)
}

func (k *Keeper) setRevokedLocked(u, pool string, r store.Revoked) {
	k.revoked[u] = k.revoked[u].with(pool, k.intern.record(r))
}

func trigger(id identity.Identity) string {
	if id.Route != identity.RouteNone {
		return id.Route.String()
	}
	return id.Source.String()
}
