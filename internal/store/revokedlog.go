package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RevokedLogKeep is how long the change log of revoked records keeps an
// entry. A reader that last caught up longer ago than this may have missed
// changes and must read the records in full.
const RevokedLogKeep = 2 * time.Hour

// RevokedChange is one change of a revoked record, in the order made: op
// is "revoke" (a record written) or "grant" (a record dropped).
type RevokedChange struct {
	ID, Op, Pool, User string
}

// logChange appends a change to the log in the same transaction as the
// change itself, trimming entries older than RevokedLogKeep (by their
// time-based IDs).
func (s *Store) logChange(ctx context.Context, pipe redis.Pipeliner, op, pool, user string) {
	minID := strconv.FormatInt(time.Now().Add(-RevokedLogKeep).UnixMilli(), 10) + "-0"
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.Key("revoked_log"), MinID: minID, Approx: true,
		Values: []string{"op", op, "pool", pool, "user", user}})
}

// RevokedLogLast is the ID of the newest change ("0-0" if none): read it
// before a full read of the records, then apply the changes after it.
func (s *Store) RevokedLogLast(ctx context.Context) (string, error) {
	ms, err := s.rdb.XRevRangeN(ctx, s.Key("revoked_log"), "+", "-", 1).Result()
	if err != nil {
		return "", s.fail("revoked", fmt.Errorf("read the revoked log: %w", err))
	}
	if len(ms) == 0 {
		return "0-0", nil
	}
	return ms[0].ID, nil
}

// RevokedChanges returns up to count changes made after the change with
// ID after, oldest first.
func (s *Store) RevokedChanges(ctx context.Context, after string, count int64) ([]RevokedChange, error) {
	ms, err := s.rdb.XRangeN(ctx, s.Key("revoked_log"), "("+after, "+", count).Result()
	if err != nil {
		return nil, s.fail("revoked", fmt.Errorf("read the revoked log: %w", err))
	}
	out := make([]RevokedChange, 0, len(ms))
	for _, m := range ms {
		c := RevokedChange{ID: m.ID}
		c.Op, _ = m.Values["op"].(string)
		c.Pool, _ = m.Values["pool"].(string)
		c.User, _ = m.Values["user"].(string)
		out = append(out, c)
	}
	return out, nil
}

// ScanRevoked reads pool's records a chunk at a time (HSCAN): call with
// cursor 0, then with the cursor returned until it is 0 again. A record
// may come twice; a change made meanwhile may be missed (read the log
// after).
func (s *Store) ScanRevoked(ctx context.Context, pool string, cursor uint64, count int64, each func(user string, r Revoked)) (uint64, error) {
	kv, next, err := s.rdb.HScan(ctx, s.Key("revoked", pool), cursor, "", count).Result()
	if err != nil {
		return 0, s.fail("revoked", fmt.Errorf("scan revoked users: %w", err))
	}
	for i := 0; i+1 < len(kv); i += 2 {
		var r Revoked
		if json.Unmarshal([]byte(kv[i+1]), &r) == nil {
			each(kv[i], r)
		}
	}
	return next, nil
}

// RevokedCount is how many users floatseat revoked from pool.
func (s *Store) RevokedCount(ctx context.Context, pool string) (int, error) {
	n, err := s.rdb.HLen(ctx, s.Key("revoked", pool)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, s.fail("revoked", fmt.Errorf("count revoked users: %w", err))
	}
	return int(n), nil
}
