package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The epoch names one lifetime of this Redis's data. It is written once and
// never expires, so when it is missing the data is gone: a restart without
// persistence, a failover to an empty replica, a flush, or a first start.
// floatseat then rebuilds the revoked view from the parking groups before
// it decides any seat (DESIGN §2.10).

// Epoch returns the current epoch, "" when there is none.
func (s *Store) Epoch(ctx context.Context) (string, error) {
	v, err := s.rdb.Get(ctx, s.Key("epoch")).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", s.fail("epoch", fmt.Errorf("read epoch: %w", err))
	}
	return v, nil
}

// SetEpoch stores id as the epoch unless another replica stored one first,
// and returns the epoch in force.
func (s *Store) SetEpoch(ctx context.Context, id string) (string, error) {
	k := s.Key("epoch")
	if err := s.rdb.SetNX(ctx, k, id, 0).Err(); err != nil {
		return "", s.fail("epoch", fmt.Errorf("set epoch: %w", err))
	}
	v, err := s.rdb.Get(ctx, k).Result()
	if err != nil {
		return "", s.fail("epoch", fmt.Errorf("read epoch: %w", err))
	}
	return v, nil
}

// RebuildRevoked writes the rebuilt records of pool, in one pipeline, and
// keeps any record already there (written since Redis came back: it is
// newer than what the parking groups say). It returns how many it wrote.
func (s *Store) RebuildRevoked(ctx context.Context, pool string, recs map[string]Revoked) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	key := s.Key("revoked", pool)
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.BoolCmd, 0, len(recs))
	for u, r := range recs {
		b, _ := json.Marshal(r)
		cmds = append(cmds, pipe.HSetNX(ctx, key, u, b))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, s.fail("revoked", fmt.Errorf("rebuild revoked users of %s: %w", pool, err))
	}
	n := 0
	for _, c := range cmds {
		if c.Val() {
			n++
		}
	}
	return n, nil
}
