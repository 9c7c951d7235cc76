package store

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/testenv"
)

// The store's suites also run on a real 3-master Redis Cluster and a real
// Sentinel group (1 master, 1 replica, 3 sentinels): the hash tag keeps
// every script's keys in one slot, and the universal client finds the
// master. Each topology is started once for the package (TestMain).

func TestMain(m *testing.M) { testenv.Main(m) }

func sharedCluster(t *testing.T) *testenv.RedisCluster {
	if testing.Short() {
		t.Skip("integration: real Redis Cluster")
	}
	return testenv.Shared(t, "redis-cluster", testenv.StartRedisCluster)
}

func sharedSentinel(t *testing.T) *testenv.RedisSentinel {
	if testing.Short() {
		t.Skip("integration: real Redis Sentinel group")
	}
	return testenv.Shared(t, "redis-sentinel", testenv.StartRedisSentinel)
}

// clusterClient returns a client on the shared cluster, emptied first. It
// is reached through one seed address, as `redis.cluster: true` does.
func clusterClient(t *testing.T) redis.UniversalClient {
	c := sharedCluster(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: c.Addrs[:1], IsClusterMode: true, PoolSize: 64})
	t.Cleanup(func() { rdb.Close() })
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("IsClusterMode with one address gave a %T, want a cluster client", rdb)
	}
	if err := cc.ForEachMaster(t.Context(), func(ctx context.Context, n *redis.Client) error {
		return n.FlushAll(ctx).Err()
	}); err != nil {
		t.Fatal(err)
	}
	return rdb
}

// sentinelClient returns a client that finds the shared group's master
// through the sentinels, emptied first.
func sentinelClient(t *testing.T) redis.UniversalClient {
	s := sharedSentinel(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: s.Addrs, MasterName: s.MasterName, PoolSize: 64})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	return rdb
}

func TestStoreCluster(t *testing.T)  { runStoreSuite(t, clusterClient) }
func TestSeatsCluster(t *testing.T)  { runSeatSuite(t, clusterClient) }
func TestStoreSentinel(t *testing.T) { runStoreSuite(t, sentinelClient) }
func TestSeatsSentinel(t *testing.T) { runSeatSuite(t, sentinelClient) }

// TestClusterKeysShareOneSlot: every key of one instance hashes to the
// same slot, which is what lets the multi-key scripts run on a cluster.
func TestClusterKeysShareOneSlot(t *testing.T) {
	rdb := clusterClient(t)
	cc := rdb.(*redis.ClusterClient)
	ctx := t.Context()
	s := newStore(rdb, "floatseat:jira")
	slot := func(k string) int64 {
		n, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := slot(s.Key("activity"))
	for _, k := range []string{s.Key("revoked", "jsm"), s.Key("lock", "reaper"), s.Key("intents"), s.Key("seats", "jira-software")} {
		if got := slot(k); got != want {
			t.Errorf("%s in slot %d, want %d (the instance's hash tag)", k, got, want)
		}
	}
}
