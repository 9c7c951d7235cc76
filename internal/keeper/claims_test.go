package keeper

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/proxy"
)

// writeCountingDir counts directory writes.
type writeCountingDir struct {
	directory.Directory
	writes atomic.Int64
}

func (d *writeCountingDir) AddMember(ctx context.Context, u, g string) error {
	d.writes.Add(1)
	return d.Directory.AddMember(ctx, u, g)
}

func (d *writeCountingDir) RemoveMember(ctx context.Context, u, g string) error {
	d.writes.Add(1)
	return d.Directory.RemoveMember(ctx, u, g)
}

// slowVerifier never answers within the deadline.
type slowVerifier struct{}

func (slowVerifier) VerifyPassword(ctx context.Context, _, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}

func claim(user, password string, addr string) identity.Identity {
	id := identity.Identity{User: user, Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin,
		Password: identity.Password(password)}
	if addr != "" {
		id.Client = netip.MustParseAddr(addr)
	}
	return id
}

func TestPasswordCheckedBeforeAnyGrant(t *testing.T) {
	e := newEnv(t, 10, false)
	revoke(t, e, "jira-software", "carol")
	cd := &writeCountingDir{Directory: e.dir}
	e.k.opt.Dir = cd
	e.k.opt.Verifier = e.dir

	v := e.k.Ensure(t.Context(), claim("carol", "wrong", "192.0.2.1"), nil)
	if v.Granted || v.Ticket != 0 || cd.writes.Load() != 0 {
		t.Fatalf("wrong password: got %+v and %d directory writes, want no grant and none", v, cd.writes.Load())
	}
	if got := e.lastAudit(t); got != "deny carol jira-software bad-password" {
		t.Errorf("audit: got %q", got)
	}
	if got := testutil.ToFloat64(e.k.prechecks.WithLabelValues("bad-password")); got != 1 {
		t.Errorf("bad-password checks: %v", got)
	}
	v = e.k.Ensure(t.Context(), claim("carol", "pw-carol", "192.0.2.1"), nil)
	if !v.Granted || v.Ticket == 0 {
		t.Fatalf("right password: got %+v, want a provisional grant", v)
	}
	e.k.Settle(claim("carol", "", ""), v, proxy.Judgement{Confirmed: true})
	if !e.member(t, "carol", "jira-software-users") {
		t.Error("no seat after the right password")
	}

	// A backend that does not answer in time: provisional grant as before.
	revoke(t, e, "jira-software", "alice")
	e.k.opt.Verifier = slowVerifier{}
	e.k.opt.GrantTimeout = 100 * time.Millisecond
	if v := e.k.Ensure(t.Context(), claim("alice", "whatever", ""), nil); !v.Granted || v.Ticket == 0 {
		t.Errorf("password check timed out: got %+v, want a provisional grant", v)
	}
}

// A script replaying wrong-password claims for many users from one
// address is held to the address burst; the real user from elsewhere is
// not; a confirmed login takes no token.
func TestClaimLimits(t *testing.T) {
	e := newEnv(t, 100, true)
	e.k.SetClaimLimits(ClaimLimits{UserBurst: 3, UserInterval: time.Minute, AddressBurst: 4, AddressInterval: time.Minute})
	users := []string{"alice", "bob", "carol"}
	for _, u := range users {
		revoke(t, e, "jira-software", u)
	}
	cd := &writeCountingDir{Directory: e.dir}
	e.k.opt.Dir = cd
	grants := 0
	for i := 0; i < 30; i++ {
		id := claim(users[i%len(users)], "wrong", "198.51.100.7")
		v := e.k.Ensure(t.Context(), id, nil)
		if v.Granted {
			grants++
			e.k.Settle(id, v, proxy.Judgement{Why: proxy.WhyBadCredentials})
		}
	}
	if grants != 4 {
		t.Errorf("grants for 30 wrong claims from one address: %d, want the burst of 4", grants)
	}
	t.Logf("directory writes for 30 wrong claims: %d", cd.writes.Load())
	if got := testutil.ToFloat64(e.k.ratelimited.WithLabelValues("address")); got != 26 {
		t.Errorf("address refusals: %v, want 26", got)
	}
	// bob's own login from his own address still works at once.
	id := claim("bob", "pw-bob", "203.0.113.9")
	v := e.k.Ensure(t.Context(), id, nil)
	if !v.Granted {
		t.Fatalf("the real user: got %+v, want a grant", v)
	}
	e.k.Settle(id, v, proxy.Judgement{Confirmed: true})

	// Per user: alice's claims failed twice above (claims 0 and 3); from
	// fresh addresses one more is granted, then none.
	for i, addr := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		id := claim("alice", "wrong", addr)
		v := e.k.Ensure(t.Context(), id, nil)
		if v.Granted != (i == 0) {
			t.Fatalf("claim %d for alice from a fresh address: got %+v", i, v)
		}
		if v.Granted {
			e.k.Settle(id, v, proxy.Judgement{Why: proxy.WhyClientGone})
		}
	}
	if got := testutil.ToFloat64(e.k.ratelimited.WithLabelValues("user")); got != 2 {
		t.Errorf("per-user refusals: %v, want 2", got)
	}
	var sawAudit bool
	for _, a := range e.actions(t) {
		if a == "deny alice jira-software rate-limited-user" {
			sawAudit = true
		}
	}
	if !sawAudit {
		t.Errorf("no audit of the per-user refusal: %q", e.actions(t))
	}
	// Time refills the buckets.
	e.advance(time.Minute)
	if v := e.k.Ensure(t.Context(), claim("alice", "pw-alice", "192.0.2.9"), nil); !v.Granted {
		t.Errorf("after a refill: got %+v", v)
	}
}

// Confirmed logins never consume the limits: a user logging in many times
// with the right password is never refused.
func TestConfirmedClaimsTakeNoToken(t *testing.T) {
	e := newEnv(t, 100, true)
	e.k.SetClaimLimits(ClaimLimits{UserBurst: 1, UserInterval: time.Hour, AddressBurst: 1, AddressInterval: time.Hour})
	for i := 0; i < 5; i++ {
		revoke(t, e, "jira-software", "carol")
		id := claim("carol", "pw-carol", "192.0.2.1")
		v := e.k.Ensure(t.Context(), id, nil)
		if !v.Granted {
			t.Fatalf("login %d: got %+v", i, v)
		}
		e.k.Settle(id, v, proxy.Judgement{Confirmed: true})
	}
}
