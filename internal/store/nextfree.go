package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetNextFree records when the next seat of pool is expected to free, for
// the Retry-After of a denied login; never says no seat can free (every
// holder is excluded).
func (s *Store) SetNextFree(ctx context.Context, pool string, at time.Time, never bool) error {
	v := at.UnixMilli()
	if never {
		v = -1
	}
	if err := s.rdb.Set(ctx, s.Key("next_free", pool), v, 0).Err(); err != nil {
		return s.fail("next_free", err)
	}
	return nil
}

// NextFree returns the last estimate (zero time if none), and whether it
// said no seat can ever free.
func (s *Store) NextFree(ctx context.Context, pool string) (time.Time, bool, error) {
	ms, err := s.rdb.Get(ctx, s.Key("next_free", pool)).Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, s.fail("next_free", err)
	}
	if ms < 0 {
		return time.Time{}, true, nil
	}
	return time.UnixMilli(ms), false, nil
}
