package app

// End-to-end ways in beyond the password form: tokens, SSO and live
// sessions, through nginx → floatseat → the simulator (e2e_test.go's
// world).

import (
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/identity"
)

// A script's PAT idle past the ceiling (7 days) is revoked; its next call,
// 8 days on, is granted before it is forwarded and succeeds at once. The
// app refuses unlicensed token calls here, so only a grant made before
// forwarding can make that one call work.
func TestE2EPATReturnsAfterEightDays(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, users: []string{"bot"}, rest: true, unlicensed: true, maxIdle: 7 * 24 * time.Hour})
	token := w.sim.CreatePAT("bot", "nightly")
	call := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, w.base+"/rest/api/2/issue/FS-1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := call(); resp.StatusCode != 200 || resp.Header.Get("X-Ausername") != "bot" {
		t.Fatalf("first call: %d as %q", resp.StatusCode, resp.Header.Get("X-Ausername"))
	}
	// The learned mapping outlives the ceiling in Redis.
	a := w.apps[0]
	key := a.store.Key("ident", a.who.hasher.Key(identity.KindBearer, token).String())
	rdb := redis.NewClient(&redis.Options{Addr: w.redis.Addr})
	defer rdb.Close()
	eventually(t, "the token's mapping shared", func() bool {
		ttl, err := rdb.PTTL(t.Context(), key).Result()
		return err == nil && ttl > 7*24*time.Hour
	})
	w.advance(8 * 24 * time.Hour)
	if w.licensed("bot", "jira-software-users") {
		t.Fatal("the idle token's user kept the seat past max_idle")
	}
	if resp := call(); resp.StatusCode != 200 || resp.Header.Get("X-Ausername") != "bot" {
		t.Errorf("the one call after 8 days: %d as %q, want 200 as bot", resp.StatusCode, resp.Header.Get("X-Ausername"))
	}
	if !w.licensed("bot", "jira-software-users") {
		t.Error("the call did not give the seat back")
	}
}
