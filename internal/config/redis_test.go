package config

import (
	"strings"
	"testing"
)

// TestRedisTopology: check refuses redis: combinations that cannot work
// and accepts the three topologies floatseat is tested on.
func TestRedisTopology(t *testing.T) {
	const from = "  addr: \"127.0.0.1:6379\""
	for _, tc := range []struct {
		name    string
		redis   string // replaces the valid config's addr line
		err     string // substring of an error; empty: no error
		warn    string // substring of a warning
		cluster bool   // ClusterMode
	}{
		{name: "one server", redis: from},
		{name: "cluster through one seed", redis: "  addr: r1:6379\n  cluster: true", cluster: true},
		{name: "cluster seed in addrs", redis: "  addrs: [r1:6379]\n  cluster: true", cluster: true},
		{name: "cluster through several addrs", redis: "  addrs: [r1:6379, r2:6379, r3:6379]", cluster: true},
		{name: "sentinel", redis: "  addrs: [s1:26379, s2:26379, s3:26379]\n  sentinel_master: mymaster\n  db: 2"},
		{name: "db with cluster", redis: "  addr: r1:6379\n  cluster: true\n  db: 1", err: "only database 0"},
		{name: "db with several addrs", redis: "  addrs: [r1:6379, r2:6379]\n  db: 3", err: "only database 0"},
		{name: "cluster and sentinel", redis: "  addrs: [s1:26379]\n  sentinel_master: m\n  cluster: true", err: "exclude each other"},
		{name: "cluster without address", redis: "  cluster: true", err: "needs a seed address"},
		{name: "sentinel master with addr", redis: "  addr: s1:26379\n  sentinel_master: m", err: "list the sentinels in redis.addrs"},
		{name: "sentinel master without addresses", redis: "  sentinel_master: m", err: "needs the sentinels"},
		{name: "one addrs entry without a topology", redis: "  addrs: [r1:6379]", warn: "set redis.cluster: true"},
		{name: "fewer than three sentinels", redis: "  addrs: [s1:26379, s2:26379]\n  sentinel_master: m", warn: "2 sentinel(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, warns, errs := Parse([]byte(strings.Replace(valid, from, tc.redis, 1)), "", secrets)
			all := ""
			for _, e := range errs {
				all += e.Error() + "\n"
			}
			if tc.err == "" {
				if len(errs) > 0 {
					t.Fatalf("got errors:\n%s", all)
				}
				if cfg.Redis.ClusterMode() != tc.cluster {
					t.Errorf("ClusterMode: got %v, want %v", cfg.Redis.ClusterMode(), tc.cluster)
				}
			} else if !strings.Contains(all, tc.err) {
				t.Errorf("got errors:\n%s want one mentioning %q", all, tc.err)
			}
			if w := strings.Join(warns, "\n"); tc.warn != "" && !strings.Contains(w, tc.warn) {
				t.Errorf("got warnings:\n%s\nwant one mentioning %q", w, tc.warn)
			}
		})
	}
}
