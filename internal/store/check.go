package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/redis/go-redis/v9"
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
