package store

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/testenv"
)

// The same suite runs against miniredis (fast, every run) and a real
// redis-server (the real semantics: Lua, transactions, pub/sub).
func TestStoreMiniredis(t *testing.T) {
	runStoreSuite(t, func(t *testing.T) redis.UniversalClient {
		mr := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { c.Close() })
		return c
	})
}

func TestStoreRealRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real redis-server")
	}
	r := testenv.StartRedis(t)
	runStoreSuite(t, func(t *testing.T) redis.UniversalClient {
		c := redis.NewClient(&redis.Options{Addr: r.Addr})
		if err := c.FlushAll(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
}

func runStoreSuite(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
	t.Run("keys share one hash tag", func(t *testing.T) {
		s := newStore(newClient(t), "floatseat:jira")
		if got := s.Key("revoked", "jsm"); got != "{floatseat:jira}:revoked:jsm" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("identity mappings", func(t *testing.T) {
		s := newStore(newClient(t), "fs")
		ctx := t.Context()
		if u, err := s.GetUser(ctx, "abc"); err != nil || u != "" {
			t.Fatalf("unknown key: got %q, %v; want empty, nil", u, err)
		}
		if err := s.SetUser(ctx, "abc", "alice", time.Minute); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.GetUser(ctx, "abc"); u != "alice" {
			t.Errorf("got %q, want alice", u)
		}
		_ = s.DeleteUser(ctx, "abc")
		if u, _ := s.GetUser(ctx, "abc"); u != "" {
			t.Errorf("after delete: got %q", u)
		}
		k1, err := s.IdentityKey(ctx)
		if err != nil || len(k1) != 32 {
			t.Fatalf("identity key: %d bytes, %v", len(k1), err)
		}
		k2, _ := s.IdentityKey(ctx)
		if string(k1) != string(k2) {
			t.Error("the identity key changed between calls; replicas would disagree")
		}
	})
	t.Run("heartbeat and observation start", func(t *testing.T) {
		s := newStore(newClient(t), "fs")
		ctx := t.Context()
		if hb, _ := s.LastHeartbeat(ctx); !hb.IsZero() {
			t.Fatalf("fresh store: heartbeat %v", hb)
		}
		t0 := time.UnixMilli(time.Now().UnixMilli())
		_ = s.Heartbeat(ctx, "a", t0)
		_ = s.Heartbeat(ctx, "b", t0.Add(time.Second))
		if hb, _ := s.LastHeartbeat(ctx); !hb.Equal(t0.Add(time.Second)) {
			t.Errorf("last heartbeat: got %v want %v", hb, t0.Add(time.Second))
		}
		if obs, _ := s.ObservedSince(ctx); !obs.Equal(t0) {
			t.Errorf("observed since: got %v, want the first heartbeat %v", obs, t0)
		}
		hbs, err := s.Heartbeats(ctx)
		if err != nil || len(hbs) != 2 || !hbs["a"].Equal(t0) || !hbs["b"].Equal(t0.Add(time.Second)) {
			t.Errorf("heartbeats: got %v, %v; want a at %v and b a second later", hbs, err, t0)
		}
	})
	t.Run("intent, revoke, grant", func(t *testing.T) {
		s := newStore(newClient(t), "fs")
		ctx := t.Context()
		in := Intent{Op: "revoke", User: "bob", Pool: "jsm", Groups: []string{"jira-servicedesk-users"}, Reason: "ceiling", At: time.Now()}
		if err := s.RecordIntent(ctx, in); err != nil {
			t.Fatal(err)
		}
		ins, _ := s.Intents(ctx)
		if len(ins) != 1 || ins[0].User != "bob" {
			t.Fatalf("intents: got %+v", ins)
		}
		state := func(want string) {
			t.Helper()
			_, recorded, revoking, err := s.RevokedOrRevoking(ctx, "jsm", "bob")
			got := map[[2]bool]string{{false, false}: "neither", {false, true}: "revoking", {true, false}: "recorded", {true, true}: "both"}[[2]bool{recorded, revoking}]
			if err != nil || got != want {
				t.Errorf("RevokedOrRevoking: got %s, %v; want %s", got, err, want)
			}
		}
		state("revoking")
		if err := s.CompleteRevoke(ctx, "jsm", "bob", Revoked{Groups: in.Groups, At: in.At, Reason: "ceiling"}); err != nil {
			t.Fatal(err)
		}
		if ins, _ := s.Intents(ctx); len(ins) != 0 {
			t.Errorf("intent left after completing: %+v", ins)
		}
		r, ok, _ := s.RevokedUser(ctx, "jsm", "bob")
		if !ok || len(r.Groups) != 1 || r.Groups[0] != "jira-servicedesk-users" {
			t.Errorf("revoked record: got %+v %v", r, ok)
		}
		state("recorded")
		if r2, _, _, _ := s.RevokedOrRevoking(ctx, "jsm", "bob"); len(r2.Groups) != 1 || !r2.At.Equal(r.At) {
			t.Errorf("RevokedOrRevoking record: got %+v, want %+v", r2, r)
		}
		if err := s.CompleteGrant(ctx, "jsm", "bob"); err != nil {
			t.Fatal(err)
		}
		state("neither")
		if all, _ := s.RevokedUsers(ctx, "jsm"); len(all) != 0 {
			t.Errorf("after grant: revoked %+v", all)
		}
	})
	t.Run("lock excludes a second holder and fences", func(t *testing.T) {
		s := newStore(newClient(t), "fs")
		ctx := t.Context()
		l1, ok, err := s.TryLock(ctx, "reaper", "a", time.Minute)
		if err != nil || !ok {
			t.Fatalf("first TryLock: %v %v", ok, err)
		}
		if _, ok, _ := s.TryLock(ctx, "reaper", "b", time.Minute); ok {
			t.Fatal("second holder got the lock")
		}
		if held, _ := l1.Held(ctx, time.Minute); !held {
			t.Error("holder lost its lock")
		}
		_ = l1.Release(ctx)
		l2, ok, _ := s.TryLock(ctx, "reaper", "b", time.Minute)
		if !ok || l2.Fence <= l1.Fence {
			t.Fatalf("after release: ok=%v fence %d, want a larger fence than %d", ok, l2.Fence, l1.Fence)
		}
		if held, _ := l1.Held(ctx, time.Minute); held {
			t.Error("the stale holder still believes it holds the lock")
		}
	})
}
