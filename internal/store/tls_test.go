package store

import (
	"errors"
	"strings"
	"testing"
	"time"

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

// TestTLSRefusals: what a TLS Redis refuses, Check names in terms of the
// redis: section, and none of it passes for "not reachable" (which
// `floatseat check` only warns about).
func TestTLSRefusals(t *testing.T) {
	plain := sharedTLS(t, false)
	mutual := sharedTLS(t, true)
	other := testenv.NewCA(t, "someone-else")
	wrongCA := tlsConfig(plain, false)
	wrongCA.TLS.CAFile = other.CertFile
	wrongName := tlsConfig(plain, false)
	wrongName.TLS.ServerName = "redis.example.com"
	noTLS := tlsConfig(plain, false)
	noTLS.TLS = config.TLS{}
	for _, tc := range []struct {
		name string
		cfg  config.Redis
		want string // in Check's error
	}{
		{"a CA that did not sign the server's certificate", wrongCA, "certificate is not trusted (redis.tls.ca_file"},
		{"a server name the certificate does not carry", wrongName, "certificate is not trusted"},
		{"mutual TLS without a client certificate", tlsConfig(mutual, false), "client certificate (redis.tls.cert_file"},
		{"plain TCP to a TLS-only server", noTLS, "does it expect TLS (redis.tls.enabled)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			err = s.Check(t.Context())
			t.Logf("Check: %v", err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: got %v, want an error containing %q", err, tc.want)
			}
			if errors.Is(err, ErrUnreachable) {
				t.Errorf("Check: %v is ErrUnreachable; a server answered", err)
			}
			if err := s.Heartbeat(t.Context(), "r1", time.Now()); err == nil {
				t.Error("Heartbeat: got nil, want the same refusal")
			}
		})
	}
	t.Run("the right CA and certificate", func(t *testing.T) {
		for _, cfg := range []config.Redis{tlsConfig(plain, false), tlsConfig(mutual, true)} {
			s, err := Open(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Check(t.Context()); err != nil {
				t.Errorf("%s: Check: %v", cfg.Addr, err)
			}
			_ = s.Close()
		}
	})
}

// TestCheckUnreachable: nothing listening is ErrUnreachable.
func TestCheckUnreachable(t *testing.T) {
	s, err := Open(config.Redis{Addr: "127.0.0.1:1", KeyPrefix: "fs"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Check(t.Context()); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Check on a closed port: got %v, want ErrUnreachable", err)
	}
}
