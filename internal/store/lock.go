package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lock is a Redis lock with a TTL and a fencing token.
type Lock struct {
	s     *Store
	key   string
	token string
	Fence int64
}

var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// TryLock takes the named lock for ttl if nobody holds it. The fence grows
// with every acquisition, so a stale holder can be told apart.
func (s *Store) TryLock(ctx context.Context, name, owner string, ttl time.Duration) (*Lock, bool, error) {
	key := s.Key("lock", name)
	fence, err := s.rdb.Incr(ctx, s.Key("lock", name, "fence")).Result()
	if err != nil {
		return nil, false, s.fail("lock", fmt.Errorf("lock fence: %w", err))
	}
	token := fmt.Sprintf("%s#%d", owner, fence)
	ok, err := s.rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, false, s.fail("lock", fmt.Errorf("take lock %s: %w", name, err))
	}
	if !ok {
		return nil, false, nil
	}
	return &Lock{s: s, key: key, token: token, Fence: fence}, true, nil
}

// Held renews the lock for ttl and reports whether it is still ours. Every
// revocation checks it first: a reaper that lost its lock stops at once.
func (l *Lock) Held(ctx context.Context, ttl time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, l.s.rdb, []string{l.key}, l.token, ttl.Milliseconds()).Int()
	if err != nil {
		return false, l.s.fail("lock", fmt.Errorf("renew lock: %w", err))
	}
	return n == 1, nil
}

// Release gives the lock up if it is still ours.
func (l *Lock) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.s.rdb, []string{l.key}, l.token).Err(); err != nil {
		return l.s.fail("lock", fmt.Errorf("release lock: %w", err))
	}
	return nil
}
