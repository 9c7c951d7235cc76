// Package store is floatseat's only door to Redis: activity, learned
// identities, seat accounting, audit, locks and heartbeats. Every key of one
// instance shares the hash tag {key_prefix} so multi-key Lua scripts work on
// Redis Cluster.
package store

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/redis/go-redis/v9"
)

// Store wraps a go-redis universal client (single node, Sentinel or Cluster).
type Store struct {
	rdb     redis.UniversalClient
	mini    *Embedded // the embedded store, nil with a real Redis
	prefix  string    // "{floatseat:jira}"
	metrics *Metrics
}

// newStore returns a Store on rdb whose keys all start with the
// hash-tagged prefix. Callers outside store use Open.
func newStore(rdb redis.UniversalClient, keyPrefix string) *Store {
	return &Store{rdb: rdb, prefix: "{" + keyPrefix + "}"}
}

// Key joins parts under the instance's hash tag: Key("activity") is
// "{floatseat:jira}:activity".
func (s *Store) Key(parts ...string) string {
	var b strings.Builder
	b.WriteString(s.prefix)
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// Metrics counts Redis errors by operation. A nil *Metrics counts nothing.
type Metrics struct {
	errors *prometheus.CounterVec
}

// NewMetrics registers floatseat_redis_errors_total on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{errors: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Namespace: "floatseat",
		Name:      "redis_errors_total",
		Help:      "Redis commands that failed, by operation.",
	}, []string{"op"})}
}

// fail counts err under op and returns it.
func (s *Store) fail(op string, err error) error {
	if s.metrics != nil {
		s.metrics.errors.WithLabelValues(op).Inc()
	}
	return err
}
