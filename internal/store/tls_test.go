package store

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/testenv"
)

// The store's suites also run over TLS against a real redis-server that
// speaks only TLS, reached through the redis.tls settings as an operator
// writes them (universalOptions, the code Open runs): once with a server
// that asks no client certificate and once with mutual TLS. Each server is
// started once for the package.

func sharedTLS(t *testing.T, mutual bool) *testenv.RedisTLS {
	if testing.Short() {
		t.Skip("integration: real TLS redis-server")
	}
	if mutual {
		return testenv.Shared(t, "redis-mutual-tls", testenv.StartRedisMutualTLS)
	}
	return testenv.Shared(t, "redis-tls", testenv.StartRedisTLS)
}

// tlsConfig is the redis: section for r: its CA, and the client
// certificate when withCert.
func tlsConfig(r *testenv.RedisTLS, withCert bool) config.Redis {
	c := config.Redis{Addr: r.Addr, KeyPrefix: "fs", TLS: config.TLS{Enabled: true, CAFile: r.CA.CertFile}}
	if withCert {
		c.TLS.CertFile, c.TLS.KeyFile = r.ClientCertFile, r.ClientKeyFile
	}
	return c
}

// tlsClient returns a suite's client factory on the shared TLS server,
// emptied first.
func tlsClient(mutual bool) func(t *testing.T) redis.UniversalClient {
	return func(t *testing.T) redis.UniversalClient {
		r := sharedTLS(t, mutual)
		cfg := tlsConfig(r, mutual)
		opt, err := universalOptions(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rdb := newClient(cfg, opt)
		t.Cleanup(func() { rdb.Close() })
		if err := rdb.FlushAll(t.Context()).Err(); err != nil {
			t.Fatalf("FLUSHALL over TLS: %v", err)
		}
		return rdb
	}
}

func TestStoreTLS(t *testing.T)       { runStoreSuite(t, tlsClient(false)) }
func TestSeatsTLS(t *testing.T)       { runSeatSuite(t, tlsClient(false)) }
func TestStoreMutualTLS(t *testing.T) { runStoreSuite(t, tlsClient(true)) }
func TestSeatsMutualTLS(t *testing.T) { runSeatSuite(t, tlsClient(true)) }
