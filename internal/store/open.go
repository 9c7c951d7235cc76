package store

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/config"
)

// Options are what Open needs beyond the redis: section.
type Options struct {
	// Metrics counts the store's Redis errors; nil counts nothing.
	Metrics *Metrics
	// Log receives go-redis's own lines (a dial that failed, a Sentinel
	// failover) at Warn, each kind at most once per 10 s, instead of
	// go-redis printing them to stderr. go-redis has one logger per
	// process: the last Open with a Log sets it. Nil leaves it alone.
	Log *slog.Logger
}

// Open builds the go-redis client the redis: section describes (one
// address, Sentinel or Cluster; TLS; password; db) and returns a Store on
// it. Without an address it starts the embedded in-process store instead.
// Open does not dial: a Redis that is down is found by the first command.
// Close releases the client and the embedded store.
func Open(cfg config.Redis, o Options) (*Store, error) {
	opt, err := universalOptions(cfg)
	if err != nil {
		return nil, err
	}
	if o.Log != nil {
		routeClientLog(o.Log, cfg.Password.Reveal())
	}
	var mini *Embedded
	if cfg.Embedded() {
		if mini, err = StartEmbedded(); err != nil {
			return nil, err
		}
		opt.Addrs = []string{mini.Addr()}
	}
	s := newStore(newClient(cfg, opt), cfg.KeyPrefix)
	s.mini = mini
	s.metrics = o.Metrics
	return s, nil
}

// clusterStateReload is how old a Cluster client's slot map may get before
// the next command reloads it (CLUSTER SLOTS, once per interval under
// traffic). go-redis reloads on a MOVED reply but not when a master stops
// answering, and defaults to 60 s: after a Cluster failover every command
// for the dead master's slots would fail for up to a minute.
const clusterStateReload = 5 * time.Second

// newClient builds the universal client, with the Cluster settings
// UniversalOptions cannot carry.
func newClient(cfg config.Redis, opt *redis.UniversalOptions) redis.UniversalClient {
	if cfg.ClusterMode() && !cfg.Embedded() {
		co := opt.Cluster()
		co.ClusterStateReloadInterval = clusterStateReload
		return redis.NewClusterClient(co)
	}
	return redis.NewUniversalClient(opt)
}

// universalOptions maps the redis: section onto go-redis. Every new
// client setting belongs here, so that one function says how floatseat
// talks to Redis.
func universalOptions(c config.Redis) (*redis.UniversalOptions, error) {
	opt := &redis.UniversalOptions{
		Addrs:         c.Addrs,
		MasterName:    c.SentinelMaster,
		IsClusterMode: c.Cluster,
		Username:      c.Username,
		Password:      c.Password.Reveal(),
		DB:            c.DB,
		// One bound on every command (DESIGN §2.8): redis.timeout for the
		// dial, the read and the write, never retried (a retry would
		// double the wait), and any shorter deadline of the caller's
		// context honoured (identity.lookup_timeout on the request path).
		DialTimeout:           c.Timeout,
		ReadTimeout:           c.Timeout,
		WriteTimeout:          c.Timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		PoolSize:              32,
	}
	if c.Addr != "" {
		opt.Addrs = []string{c.Addr}
	}
	tc, err := c.TLS.ClientConfig("redis.tls")
	if err != nil {
		return nil, err
	}
	opt.TLSConfig = tc // nil: plain TCP
	return opt, nil
}

// Embedded is an in-process Redis speaking the real protocol (miniredis):
// the embedded store of observe mode without a redis: address, and the
// demo's store.
type Embedded struct {
	m *miniredis.Miniredis
}

// StartEmbedded starts an embedded Redis on a free loopback port.
func StartEmbedded() (*Embedded, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	return &Embedded{m: m}, nil
}

// Addr is where it listens.
func (e *Embedded) Addr() string { return e.m.Addr() }

// Close stops it; what it held is gone.
func (e *Embedded) Close() { e.m.Close() }

// Close closes the client and stops the embedded store, if any.
func (s *Store) Close() error {
	err := s.rdb.Close()
	if s.mini != nil {
		s.mini.Close()
	}
	return err
}
