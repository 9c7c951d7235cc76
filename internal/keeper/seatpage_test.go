package keeper

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/proxy"
)

// seatPageEnv: 10 Software seats, 3 used, reserve 5, and revoked users
// u0…u5 for the seat page to name.
func seatPageEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, 10, true)
	e.k.opt.Reserve = func(pool string) int { return 5 }
	for i := range 6 {
		u := fmt.Sprintf("u%d", i)
		e.dir.AddUser(u, "pw")
		_ = e.dir.AddMember(t.Context(), u, "jira-software-users")
		revoke(t, e, "jira-software", u)
	}
	return e
}

// claimSeat is what the proxy does with the seat page's form.
func (e *env) claimSeat(t *testing.T, user, client string) proxy.Verdict {
	t.Helper()
	id := identity.Identity{User: user, Source: identity.SourceSeatPage, Client: netip.MustParseAddr(client)}
	v := e.k.Ensure(t.Context(), id, nil)
	if v.Ticket != 0 {
		e.k.Settle(id, v, proxy.Judgement{Await: true})
	}
	return v
}

// One client holds at most one seat-page claim: typing another name rolls
// the previous pending claim back, audited; other clients' claims, and the
// client's password logins, are not touched.
func TestSeatPageClaimSupersedesTheClientsPreviousOne(t *testing.T) {
	e := seatPageEnv(t)
	if v := e.claimSeat(t, "u0", "10.0.0.1"); !v.Granted || v.Ticket == 0 {
		t.Fatalf("first seat-page claim: got %+v, want a provisional grant", v)
	}
	if v := e.claimSeat(t, "u1", "10.0.0.2"); !v.Granted {
		t.Fatalf("another client's claim: got %+v, want a grant", v)
	}
	login := identity.Identity{User: "u2", Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin,
		Client: netip.MustParseAddr("10.0.0.1")}
	if v := e.k.Ensure(t.Context(), login, nil); !v.Granted {
		t.Fatalf("a password login from the first client: got %+v, want a grant", v)
	} else {
		e.k.Settle(login, v, proxy.Judgement{Confirmed: true})
	}
	if v := e.claimSeat(t, "u3", "10.0.0.1"); !v.Granted {
		t.Fatalf("second seat-page claim of the first client: got %+v, want a grant", v)
	}
	if e.member(t, "u0", "jira-software-users") {
		t.Error("u0: the client's previous seat-page claim still holds a seat")
	}
	if !slices.Contains(e.actions(t), "rollback u0 jira-software superseded") {
		t.Errorf("audit: got %q, want u0's claim rolled back as superseded", e.actions(t))
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		if !e.member(t, u, "jira-software-users") {
			t.Errorf("%s lost the seat to another claim", u)
		}
	}
	if n := e.k.Pending(); n != 2 {
		t.Errorf("pending provisional grants: %d, want 2 (u1 and u3)", n)
	}
	if n := e.pending(t, "jira-software"); n != 3 {
		t.Errorf("pending seats: %d, want 3 (u1, u2, u3)", n)
	}
}

// Seat-page claims awaiting confirmation hold at most half a pool's
// reserve (rounded up, at least one): reserve 5, so 3 at once. The next
// one meets the full page, audited; a password login is not limited, and
// a confirmed claim makes room.
func TestSeatPageClaimsHoldAtMostHalfTheReserve(t *testing.T) {
	e := seatPageEnv(t)
	for i := range 3 {
		if v := e.claimSeat(t, fmt.Sprintf("u%d", i), fmt.Sprintf("10.0.0.%d", i+1)); !v.Granted {
			t.Fatalf("claim %d: got %+v, want a grant", i, v)
		}
	}
	v := e.claimSeat(t, "u3", "10.0.0.4")
	if !v.Deny || v.Pool != "jira-software" || v.RetryAfter <= 0 || v.Ticket != 0 {
		t.Fatalf("a fourth pending seat-page claim: got %+v, want the full page", v)
	}
	if e.member(t, "u3", "jira-software-users") {
		t.Error("u3 got a seat past the seat page's share")
	}
	if got := e.lastAudit(t); got != "deny u3 jira-software seat-page-limit" {
		t.Errorf("audit: got %q, want the refusal", got)
	}
	login := identity.Identity{User: "u4", Source: identity.SourceLoginBody, Route: identity.RouteJiraLogin,
		Client: netip.MustParseAddr("10.0.0.4")}
	if v := e.k.Ensure(t.Context(), login, nil); !v.Granted {
		t.Errorf("a password login beside the seat page's claims: got %+v, want a grant", v)
	}
	e.k.AnsweredAs("u0") // the SSO login after u0's claim confirmed it
	if v := e.claimSeat(t, "u3", "10.0.0.4"); !v.Granted {
		t.Errorf("after a confirmation made room: got %+v, want a grant", v)
	}
	if v := e.claimSeat(t, "u5", "10.0.0.5"); !v.Deny {
		t.Errorf("full again: got %+v, want the full page", v)
	}
}

func TestSeatPageShareOfTheReserve(t *testing.T) {
	for reserve, want := range map[int]int{0: 1, 1: 1, 2: 1, 3: 2, 5: 3, 20: 10} {
		k := &Keeper{opt: Options{Reserve: func(string) int { return reserve }}}
		if got := k.seatPageCap("p"); got != want {
			t.Errorf("reserve %d: got %d seat-page claims, want %d", reserve, got, want)
		}
	}
}
