package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// GetUser returns the user learned for a hashed credential, "" if none.
// key is already an HMAC of the secret: no secret ever reaches Redis.
func (s *Store) GetUser(ctx context.Context, key string) (string, error) {
	u, err := s.rdb.Get(ctx, s.Key("ident", key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", s.fail("identity_read", fmt.Errorf("read identity: %w", err))
	}
	return u, nil
}

// SetUser remembers the user of a hashed credential for ttl.
func (s *Store) SetUser(ctx context.Context, key, user string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, s.Key("ident", key), user, ttl).Err(); err != nil {
		return s.fail("identity_write", fmt.Errorf("write identity: %w", err))
	}
	return nil
}

// DeleteUser forgets a hashed credential (logout, cookie deleted).
func (s *Store) DeleteUser(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.Key("ident", key)).Err(); err != nil {
		return s.fail("identity_write", fmt.Errorf("delete identity: %w", err))
	}
	return nil
}

// IdentityKey returns the HMAC key shared by every replica, creating a
// random one the first time. Replicas must agree on it so a mapping learned
// by one is found by another.
func (s *Store) IdentityKey(ctx context.Context) ([]byte, error) {
	cand := make([]byte, 32)
	if _, err := rand.Read(cand); err != nil {
		return nil, err
	}
	k := s.Key("identity_key")
	if err := s.rdb.SetNX(ctx, k, cand, 0).Err(); err != nil {
		return nil, s.fail("identity_key", fmt.Errorf("create identity key: %w", err))
	}
	b, err := s.rdb.Get(ctx, k).Bytes()
	if err != nil {
		return nil, s.fail("identity_key", fmt.Errorf("read identity key: %w", err))
	}
	return b, nil
}

// UserMapping is one learned-mapping write: User for TTL, or forgotten
// when User is "".
type UserMapping struct {
	Key  string
	User string
	TTL  time.Duration
}

// WriteUsers writes many learned mappings in one pipeline (one round trip).
func (s *Store) WriteUsers(ctx context.Context, ms []UserMapping) error {
	if len(ms) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, m := range ms {
		if m.User == "" {
			pipe.Del(ctx, s.Key("ident", m.Key))
		} else {
			pipe.Set(ctx, s.Key("ident", m.Key), m.User, m.TTL)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return s.fail("identity_write", fmt.Errorf("write %d identities: %w", len(ms), err))
	}
	return nil
}
