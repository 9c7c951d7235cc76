package keeper

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/identity"
)

// ClaimLimits bound grants made for claims (DESIGN §2.9), per user and per
// client address: token buckets of Burst, refilled one every Interval. Only
// a claim the app did not confirm (rolled back, or a wrong password caught
// by the password check) takes a token, so real users, who mostly type the
// right password, never meet the limit; a script replaying claims is held
// to Burst grants and then one per Interval. An address also has at most
// AddressBurst grants awaiting confirmation at once. The buckets are per
// replica: behind n replicas a script gets at most n times the burst.
type ClaimLimits struct {
	UserBurst       int
	UserInterval    time.Duration
	AddressBurst    int
	AddressInterval time.Duration
}

// limiterCacheSize bounds the buckets kept per scope.
const limiterCacheSize = 10000

// claimGate keeps the buckets and the in-flight counts.
type claimGate struct {
	mu       sync.Mutex
	lim      ClaimLimits
	users    *lru.Cache[string, *rate.Limiter]
	addrs    *lru.Cache[netip.Addr, *rate.Limiter]
	inflight map[netip.Addr]*slots
}

// slots bound an address's grants awaiting confirmation; refs counts the
// claims holding or waiting for one, so the entry goes when nobody does.
type slots struct {
	ch   chan struct{}
	refs int
}

func newClaimGate(l ClaimLimits) *claimGate {
	u, _ := lru.New[string, *rate.Limiter](limiterCacheSize)
	a, _ := lru.New[netip.Addr, *rate.Limiter](limiterCacheSize)
	return &claimGate{lim: normLimits(l), users: u, addrs: a, inflight: map[netip.Addr]*slots{}}
}

func normLimits(l ClaimLimits) ClaimLimits {
	if l.UserBurst <= 0 {
		l.UserBurst = 5
	}
	if l.UserInterval <= 0 {
		l.UserInterval = 2 * time.Minute
	}
	if l.AddressBurst <= 0 {
		l.AddressBurst = 30
	}
	if l.AddressInterval <= 0 {
		l.AddressInterval = 10 * time.Second
	}
	return l
}

// SetClaimLimits changes the limits at once (configuration reload); buckets
// already made keep their tokens and take the new rate.
func (k *Keeper) SetClaimLimits(l ClaimLimits) {
	g := k.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lim = normLimits(l)
	for _, key := range g.users.Keys() {
		if b, ok := g.users.Peek(key); ok {
			b.SetBurst(g.lim.UserBurst)
			b.SetLimit(rate.Every(g.lim.UserInterval))
		}
	}
	for _, key := range g.addrs.Keys() {
		if b, ok := g.addrs.Peek(key); ok {
			b.SetBurst(g.lim.AddressBurst)
			b.SetLimit(rate.Every(g.lim.AddressInterval))
		}
	}
}

// ClaimLimits returns the limits in force.
func (k *Keeper) ClaimLimits() ClaimLimits {
	k.gate.mu.Lock()
	defer k.gate.mu.Unlock()
	return k.gate.lim
}

func (g *claimGate) userBucket(u string) *rate.Limiter {
	b, ok := g.users.Get(u)
	if !ok {
		b = rate.NewLimiter(rate.Every(g.lim.UserInterval), g.lim.UserBurst)
		g.users.Add(u, b)
	}
	return b
}

func (g *claimGate) addrBucket(a netip.Addr) *rate.Limiter {
	b, ok := g.addrs.Get(a)
	if !ok {
		b = rate.NewLimiter(rate.Every(g.lim.AddressInterval), g.lim.AddressBurst)
		g.addrs.Add(a, b)
	}
	return b
}

// admit reports "" when a claim of u from addr may be granted, else the
// scope that refused it. An admitted claim holds one of the address's
// AddressBurst slots until release: a burst of simultaneous claims (a
// script, or an office behind one NAT address at nine) waits for a slot,
// at most wait, and each is checked against the buckets once it has one.
func (g *claimGate) admit(ctx context.Context, u string, addr netip.Addr, wait time.Duration, now time.Time) string {
	g.mu.Lock()
	if g.userBucket(u).TokensAt(now) < 1 {
		g.mu.Unlock()
		return "user"
	}
	if !addr.IsValid() {
		g.mu.Unlock()
		return ""
	}
	if g.addrBucket(addr).TokensAt(now) < 1 {
		g.mu.Unlock()
		return "address"
	}
	sl := g.inflight[addr]
	if sl == nil {
		sl = &slots{ch: make(chan struct{}, g.lim.AddressBurst)}
		g.inflight[addr] = sl
	}
	sl.refs++
	g.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case sl.ch <- struct{}{}:
	case <-t.C:
		g.unref(addr, sl, false)
		return "address"
	case <-ctx.Done():
		g.unref(addr, sl, false)
		return "address"
	}
	// Claims that went first may have emptied a bucket meanwhile, and each
	// claim still awaiting confirmation may yet take a token: count them
	// (this one included) as taken.
	g.mu.Lock()
	scope := ""
	if g.addrBucket(addr).TokensAt(now) < float64(len(sl.ch)) {
		scope = "address"
	} else if g.userBucket(u).TokensAt(now) < 1 {
		scope = "user"
	}
	g.mu.Unlock()
	if scope != "" {
		g.unref(addr, sl, true)
	}
	return scope
}

// release gives back the slot of an admitted claim.
func (g *claimGate) release(addr netip.Addr) {
	if !addr.IsValid() {
		return
	}
	g.mu.Lock()
	sl := g.inflight[addr]
	g.mu.Unlock()
	if sl != nil {
		g.unref(addr, sl, true)
	}
}

func (g *claimGate) unref(addr netip.Addr, sl *slots, held bool) {
	if held {
		<-sl.ch
	}
	g.mu.Lock()
	if sl.refs--; sl.refs == 0 && g.inflight[addr] == sl {
		delete(g.inflight, addr)
	}
	g.mu.Unlock()
}

// failed takes a token from both buckets: the claim was not confirmed.
func (g *claimGate) failed(u string, addr netip.Addr, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.userBucket(u).AllowN(now, 1)
	if addr.IsValid() {
		g.addrBucket(addr).AllowN(now, 1)
	}
}

// admitClaim runs before a grant for a claim: the rate limits, then the
// backend's own password check where it can do one. false: no grant, the
// request goes to the app unchanged (which decides), the refusal counted
// and audited (once a minute per user).
func (k *Keeper) admitClaim(ctx context.Context, u string, id identity.Identity) bool {
	now := k.opt.Clock()
	if scope := k.gate.admit(ctx, u, id.Client, k.opt.GrantTimeout/2, now); scope != "" {
		k.ratelimited.WithLabelValues(scope).Inc()
		k.auditRefusal(ctx, u, id, "rate-limited-"+scope, now)
		return false
	}
	if !k.checkPassword(ctx, u, id) {
		k.gate.release(id.Client)
		k.gate.failed(u, id.Client, now)
		k.auditRefusal(ctx, u, id, "bad-password", now)
		return false
	}
	return true
}

// checkPassword asks the backend (LDAP bind, Crowd /authentication)
// whether the claim's password is right, within half of the grant timeout.
// Only a definite "wrong password" or "no such user" refuses; a timeout or
// an unavailable backend lets the grant go ahead, provisional as ever.
func (k *Keeper) checkPassword(ctx context.Context, u string, id identity.Identity) bool {
	if k.opt.Verifier == nil || !id.FromPassword() || id.Route == identity.RouteSAML {
		return true
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.opt.GrantTimeout/2)
	err := k.opt.Verifier.VerifyPassword(cctx, id.User, id.Password.Reveal())
	cancel()
	switch {
	case err == nil:
		k.prechecks.WithLabelValues("ok").Inc()
		return true
	case errors.Is(err, directory.ErrBadCredentials), errors.Is(err, directory.ErrUserNotFound):
		k.prechecks.WithLabelValues("bad-password").Inc()
		return false
	default:
		k.prechecks.WithLabelValues("unavailable").Inc()
		k.opt.Log.Debug("password check unavailable; granting provisionally", "user", u, "err", err)
		return true
	}
}

// auditRefusal records a refused claim, at most once a minute per user and
// reason: a script cannot flood the audit log.
func (k *Keeper) auditRefusal(ctx context.Context, u string, id identity.Identity, reason string, now time.Time) {
	key := u + "\x00" + reason
	k.mu.Lock()
	last := k.denied[key]
	due := now.Sub(last) >= time.Minute
	if due {
		k.denied[key] = now
	}
	pools := make([]string, 0, len(k.revoked[u])+len(k.seatless[u]))
	for _, r := range k.revoked[u] {
		pools = append(pools, r.pool)
	}
	for _, p := range k.seatless[u] {
		if !contains(pools, p) {
			pools = append(pools, p)
		}
	}
	k.mu.Unlock()
	if !due {
		return
	}
	sort.Strings(pools)
	pool := ""
	if len(pools) > 0 {
		pool = pools[0]
	}
	k.opt.Audit.Record(ctx, audit.Event{Action: audit.Deny, User: u, Pool: pool, Reason: reason, Trigger: trigger(id)})
}
