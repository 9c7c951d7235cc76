package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a real Redis Cluster of three masters on loopback, each
// slot range on one node, with a replica per master when started by
// StartRedisClusterWithReplicas.
type RedisCluster struct {
	Nodes    []*Redis // the masters
	Replicas []*Redis // Replicas[i] replicates Nodes[i] (if any)
	Addrs    []string // every master; any one is a seed address
}

// StartRedisCluster starts three redis-server processes with
// cluster-enabled, gives each a third of the 16384 slots, joins them and
// waits until every node reports cluster_state:ok. They stop in t.Cleanup.
func StartRedisCluster(t TB) *RedisCluster {
	t.Helper()
	return startRedisCluster(t, false)
}

// StartRedisClusterWithReplicas is StartRedisCluster plus one replica per
// master, in sync before it returns, so a test can kill a master and watch
// the Cluster promote its replica (cluster-node-timeout 2 s).
func StartRedisClusterWithReplicas(t TB) *RedisCluster {
	t.Helper()
	return startRedisCluster(t, true)
}

func startRedisCluster(t TB, replicas bool) *RedisCluster {
	t.Helper()
	bin := Binary(t, "redis-server")
	c := &RedisCluster{}
	node := func() *Redis {
		return startRedisNode(t, bin, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "yes",
			"--cluster-replica-validity-factor", "0")
	}
	for i := 0; i < 3; i++ {
		r := node()
		c.Nodes = append(c.Nodes, r)
		c.Addrs = append(c.Addrs, r.Addr)
		if replicas {
			c.Replicas = append(c.Replicas, node())
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const slots = 16384
	host, port := splitAddr(c.Addrs[0])
	for i, r := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: r.Addr})
		lo, hi := i*slots/3, (i+1)*slots/3-1
		err := cl.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err()
		if err == nil {
			err = cl.ClusterAddSlotsRange(ctx, lo, hi).Err()
		}
		if err == nil && i > 0 {
			err = cl.ClusterMeet(ctx, host, port).Err()
		}
		cl.Close()
		if err != nil {
			t.Fatalf("testenv: build the cluster on %s: %v\n%s", r.Addr, err, r.Output())
		}
	}
	for _, r := range c.Replicas {
		cl := redis.NewClient(&redis.Options{Addr: r.Addr})
		err := cl.ClusterMeet(ctx, host, port).Err()
		cl.Close()
		if err != nil {
			t.Fatalf("testenv: join replica %s: %v\n%s", r.Addr, err, r.Output())
		}
	}
	all := append(append([]*Redis{}, c.Nodes...), c.Replicas...)
	known := fmt.Sprintf("cluster_known_nodes:%d", len(all))
	for _, r := range all {
		if err := pollRedis(ctx, r.Addr, func(cl *redis.Client) bool {
			info, err := cl.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, known)
		}); err != nil {
			t.Fatalf("testenv: cluster node %s never saw all %d nodes: %v\n%s", r.Addr, len(all), err, r.Output())
		}
	}
	for i, r := range c.Replicas {
		m := redis.NewClient(&redis.Options{Addr: c.Nodes[i].Addr})
		id, err := m.Do(ctx, "CLUSTER", "MYID").Text()
		m.Close()
		if err == nil {
			cl := redis.NewClient(&redis.Options{Addr: r.Addr})
			err = cl.Do(ctx, "CLUSTER", "REPLICATE", id).Err()
			cl.Close()
		}
		if err != nil {
			t.Fatalf("testenv: make %s a replica of %s: %v\n%s", r.Addr, c.Nodes[i].Addr, err, r.Output())
		}
	}
	for _, r := range all {
		if err := pollRedis(ctx, r.Addr, func(cl *redis.Client) bool {
			info, err := cl.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		}); err != nil {
			t.Fatalf("testenv: cluster node %s never reported cluster_state:ok: %v\n%s", r.Addr, err, r.Output())
		}
	}
	for _, r := range c.Replicas {
		if err := pollRedis(ctx, r.Addr, func(cl *redis.Client) bool {
			info, err := cl.Info(ctx, "replication").Result()
			return err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up")
		}); err != nil {
			t.Fatalf("testenv: cluster replica %s never synced: %v\n%s", r.Addr, err, r.Output())
		}
	}
	return c
}

// MasterOf returns the master node that was given key's slot at the
// start, and its replica (nil without replicas).
func (c *RedisCluster) MasterOf(ctx context.Context, key string) (master, replica *Redis, err error) {
	cl := redis.NewClient(&redis.Options{Addr: c.Addrs[0]})
	defer cl.Close()
	slot, err := cl.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return nil, nil, err
	}
	// The masters were given [i*16384/3, (i+1)*16384/3-1] at the start.
	i := 0
	for int(slot) > (i+1)*16384/3-1 {
		i++
	}
	master = c.Nodes[i]
	if len(c.Replicas) > i {
		replica = c.Replicas[i]
	}
	return master, replica, nil
}

// RedisSentinel is a Sentinel group on loopback: one master, one replica
// and three sentinels (quorum 2) watching MasterName.
type RedisSentinel struct {
	MasterName string
	Master     *Redis
	Replica    *Redis
	Sentinels  []*Redis
	Addrs      []string // the sentinels' addresses, as clients list them
}

// StartRedisSentinel starts the group and waits until the replica is in
// sync and every sentinel knows the replica and the two other sentinels,
// so a failover can happen from the first moment. The replica accepts
// writes of its own (replica-read-only no) so a test can make it lose
// data before a failover. Everything stops in t.Cleanup.
func StartRedisSentinel(t TB) *RedisSentinel {
	t.Helper()
	bin := Binary(t, "redis-server")
	s := &RedisSentinel{MasterName: "floatseat"}
	s.Master = startRedisNode(t, bin)
	host, port := splitAddr(s.Master.Addr)
	s.Replica = startRedisNode(t, bin, "--replicaof", host, port, "--replica-read-only", "no")
	for i := 0; i < 3; i++ {
		dir := t.TempDir()
		p := FreePort(t)
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\n"+
			"sentinel monitor %s %s %s 2\n"+
			"sentinel down-after-milliseconds %[3]s 1000\n"+
			"sentinel failover-timeout %[3]s 10000\n"+
			"sentinel parallel-syncs %[3]s 1\n", p, dir, s.MasterName, host, port)
		cf := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &Redis{Process: StartProcess(t, dir, bin, cf, "--sentinel", "--loglevel", "warning"), Addr: fmt.Sprintf("127.0.0.1:%d", p)}
		r.wait(t)
		s.Sentinels = append(s.Sentinels, r)
		s.Addrs = append(s.Addrs, r.Addr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := pollRedis(ctx, s.Replica.Addr, func(cl *redis.Client) bool {
		info, err := cl.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}); err != nil {
		t.Fatalf("testenv: the replica never synced: %v\n%s", err, s.Replica.Output())
	}
	for _, sn := range s.Sentinels {
		if err := pollRedis(ctx, sn.Addr, func(cl *redis.Client) bool {
			reps, err := cl.Do(ctx, "SENTINEL", "REPLICAS", s.MasterName).Slice()
			if err != nil || len(reps) != 1 {
				return false
			}
			sns, err := cl.Do(ctx, "SENTINEL", "SENTINELS", s.MasterName).Slice()
			return err == nil && len(sns) == 2
		}); err != nil {
			t.Fatalf("testenv: sentinel %s never saw the replica and its peers: %v\n%s", sn.Addr, err, sn.Output())
		}
	}
	return s
}

// CurrentMaster asks the first sentinel that answers which address is the
// master now.
func (s *RedisSentinel) CurrentMaster(ctx context.Context) (string, error) {
	var last error
	for _, a := range s.Addrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a})
		hp, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
		sc.Close()
		if err == nil && len(hp) == 2 {
			return hp[0] + ":" + hp[1], nil
		}
		last = err
	}
	return "", fmt.Errorf("testenv: no sentinel named the master: %v", last)
}

// pollRedis calls ok with a client on addr every 50 ms until it is true or
// ctx ends.
func pollRedis(ctx context.Context, addr string, ok func(*redis.Client) bool) error {
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	for {
		if ok(cl) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func splitAddr(addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

// Command sends one command to this server and returns its reply, so a
// test can reach a node directly (FLUSHALL a replica, ask its ROLE)
// without a Redis client of its own.
func (r *Redis) Command(ctx context.Context, args ...any) (any, error) {
	cl := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer cl.Close()
	return cl.Do(ctx, args...).Result()
}
