package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisTLS is a real redis-server that speaks only TLS (its plain port is
// off), with a server certificate for 127.0.0.1 signed by a CA made for
// the test. Debian's redis-server 7.0 is built with TLS (BUILD_TLS=yes,
// linked to libssl3); a build without it refuses the tls-* directives at
// start, which skips the test (fails under CI=true) as a missing binary
// does.
type RedisTLS struct {
	*Redis // Addr is the TLS port
	// CA signed the server's certificate and the client certificate
	// below; CA.CertFile is what a client verifies the server with.
	CA *CA
	// ClientCertFile and ClientKeyFile are a client certificate signed by
	// CA: what a client of StartRedisMutualTLS must present.
	ClientCertFile, ClientKeyFile string
}

// StartRedisTLS starts a TLS-only redis-server that asks no client
// certificate (tls-auth-clients no) and stops it in t.Cleanup.
func StartRedisTLS(t TB) *RedisTLS {
	t.Helper()
	return startRedisTLS(t, false)
}

// StartRedisMutualTLS is StartRedisTLS with mutual TLS: the server refuses
// a client without a certificate signed by CA (tls-auth-clients yes).
func StartRedisMutualTLS(t TB) *RedisTLS {
	t.Helper()
	return startRedisTLS(t, true)
}

func startRedisTLS(t TB, mutual bool) *RedisTLS {
	t.Helper()
	bin := Binary(t, "redis-server")
	ca := NewCA(t, "redis-test")
	cert, key := ca.IssueServer(t, "redis-server")
	r := &RedisTLS{CA: ca}
	r.ClientCertFile, r.ClientKeyFile = ca.IssueClient(t, "floatseat")
	auth := "no"
	if mutual {
		auth = "yes"
	}
	r.Redis = launchRedis(t, bin, func(port int) []string {
		return []string{"--port", "0", "--tls-port", strconv.Itoa(port)}
	}, "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca.CertFile, "--tls-auth-clients", auth)
	cfg, err := r.ClientTLS(true)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitTLSRedis(t.Context(), r.Redis, cfg, 10*time.Second); err != nil {
		out := r.Output()
		if strings.Contains(out, "FATAL CONFIG FILE ERROR") && strings.Contains(strings.ToLower(out), "tls") {
			missing(t, "testenv: this redis-server was built without TLS (it refuses tls-port); install Debian's redis-server, which has it")
		}
		t.Fatalf("testenv: TLS redis-server on %s: %v\n%s", r.Addr, err, out)
	}
	return r
}

// ClientTLS is a client TLS configuration that trusts the server's CA
// and, with cert, presents the client certificate.
func (r *RedisTLS) ClientTLS(cert bool) (*tls.Config, error) {
	pem, err := os.ReadFile(r.CA.CertFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}
	cfg.RootCAs.AppendCertsFromPEM(pem)
	if cert {
		kp, err := tls.LoadX509KeyPair(r.ClientCertFile, r.ClientKeyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// waitTLSRedis waits until r answers PING over TLS. It gives up at once
// when redis-server reported a fatal error (it has exited), rather than
// waiting out the timeout.
func waitTLSRedis(ctx context.Context, r *Redis, cfg *tls.Config, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl := redis.NewClient(&redis.Options{Addr: r.Addr, TLSConfig: cfg, MaxRetries: -1, DialTimeout: time.Second})
	defer cl.Close()
	for {
		err := cl.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		if strings.Contains(r.Output(), "FATAL") {
			return fmt.Errorf("redis-server exited: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no PONG over TLS within %v: %w", timeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
