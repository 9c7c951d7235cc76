package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { Main(m) }

// TestRedisTLS: the TLS server answers a client that trusts its CA, and
// refuses one that trusts another; the mutual one refuses a client
// without a certificate.
func TestRedisTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real TLS redis-server")
	}
	ping := func(r *RedisTLS, trust *CA, cert bool) error {
		cfg, err := (&RedisTLS{CA: trust, ClientCertFile: r.ClientCertFile, ClientKeyFile: r.ClientKeyFile}).ClientTLS(cert)
		if err != nil {
			t.Fatal(err)
		}
		cl := redis.NewClient(&redis.Options{Addr: r.Addr, TLSConfig: cfg, MaxRetries: -1})
		defer cl.Close()
		return cl.Ping(t.Context()).Err()
	}
	r := StartRedisTLS(t)
	if err := ping(r, r.CA, false); err != nil {
		t.Errorf("a client with the server's CA: %v", err)
	}
	if err := ping(r, NewCA(t, "other"), false); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("a client trusting another CA: %v, want unknown authority", err)
	}
	m := StartRedisMutualTLS(t)
	if err := ping(m, m.CA, true); err != nil {
		t.Errorf("mutual TLS with the client certificate: %v", err)
	}
	if err := ping(m, m.CA, false); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("mutual TLS without a client certificate: %v, want certificate required", err)
	}
}

// TestRedisWithoutTLS: a redis-server built without TLS refuses the tls-*
// directives at start; that skips the test loudly, and fails it under
// CI=true, as a missing binary does. The server here is a stand-in that
// answers as such a build does.
func TestRedisWithoutTLS(t *testing.T) {
	dir := t.TempDir()
	fake := "#!/bin/sh\n" +
		"echo '*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***'\n" +
		"echo \">>> 'tls-port \\\"6380\\\"'\"\n" +
		"echo 'Bad directive or wrong number of arguments'\n" +
		"exit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "redis-server"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		sc := NewScope()
		err := sc.Run(func(tb TB) { StartRedisTLS(tb) })
		sc.Close()
		switch {
		case err == nil || !strings.Contains(err.Error(), "built without TLS"):
			t.Errorf("CI=%q: got %v, want a message saying the build lacks TLS", ci, err)
		case ci == "true" && errors.Is(err, ErrSkipped):
			t.Errorf("CI=true: got a skip (%v), want a failure", err)
		case ci == "" && !errors.Is(err, ErrSkipped):
			t.Errorf("CI unset: got a failure (%v), want a skip", err)
		}
	}
}
