package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/config"
)

// ErrUnreachable wraps a Check failure where nothing answered at Redis's
// address: the connection was refused or timed out, there is no route,
// or the name does not resolve. From where `floatseat check` runs that may
// be the network rather than the configuration, so its caller decides how
// loud to be.
var ErrUnreachable = errors.New("redis not reachable")

// Check sends one PING and, when it fails, says why in terms of the
// redis: section: a server that answered and refused floatseat (its
// certificate is not trusted, it speaks TLS and floatseat does not or the
// other way round, it wants a client certificate or another password) is a
// problem of the configuration; ErrUnreachable wraps a failure where
// nothing answered.
func (s *Store) Check(ctx context.Context) error {
	err := s.rdb.Ping(ctx).Err()
	if err == nil {
		return nil
	}
	return explain(err)
}

func explain(err error) error {
	var (
		verify *tls.CertificateVerificationError
		header tls.RecordHeaderError
		op     *net.OpError
	)
	switch {
	case errors.As(err, &verify):
		return fmt.Errorf("the server's TLS certificate is not trusted (redis.tls.ca_file, redis.tls.server_name): %w", err)
	case errors.As(err, &header):
		return fmt.Errorf("the server does not speak TLS, but redis.tls.enabled is true: %w", err)
	case errors.As(err, &op) && op.Op == "remote error":
		return fmt.Errorf("the server refused the TLS handshake; does it want a client certificate (redis.tls.cert_file, redis.tls.key_file)? %w", err)
	case redis.IsAuthError(err):
		return fmt.Errorf("the server refused floatseat's credentials (redis.username, redis.password_file): %w", err)
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("the server closed the connection without answering; does it expect TLS (redis.tls.enabled)? %w", err)
	}
	return err
}

// CheckConfig sends the configured Redis one PING (floatseat check). A
// server that answered and refused floatseat is an error, named in terms
// of the redis: section (Check); a Redis that nothing answered for
// is a warning, since check may run where Redis cannot be reached (a build
// host, a laptop). The embedded store has nothing to check.
func CheckConfig(r config.Redis) (warning string, err error) {
	if r.Embedded() {
		return "", nil
	}
	// go-redis's own lines (a dial that failed) would repeat the answer
	// below in another form.
	st, err := Open(r, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return "", fmt.Errorf("redis: %w", err)
	}
	defer st.Close()
	// A few times redis.timeout: the dial, a TLS handshake and the PING
	// are each bounded by it, as they are when floatseat serves.
	ctx, cancel := context.WithTimeout(context.Background(), 4*r.Timeout)
	defer cancel()
	where := redisWhere(r)
	switch err := st.Check(ctx); {
	case err == nil:
		return "", nil
	case errors.Is(err, ErrUnreachable):
		return fmt.Sprintf("redis: %s not reachable from here, so TLS, credentials and topology were not checked: %v", where, err), nil
	default:
		return "", fmt.Errorf("redis: %s: %w", where, err)
	}
}

// redisWhere names the Redis of cfg for a message.
func redisWhere(r config.Redis) string {
	switch {
	case r.SentinelMaster != "":
		return fmt.Sprintf("master %s through sentinels %s", r.SentinelMaster, strings.Join(r.Addrs, ", "))
	case r.Addr != "":
		return r.Addr
	}
	return strings.Join(r.Addrs, ", ")
}
