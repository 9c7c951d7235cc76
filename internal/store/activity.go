package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Activity is one user's latest real activity, for the pools it counts
// for (DESIGN §2.11).
type Activity struct {
	User  string
	At    time.Time
	Pools []string
}

// RecordActivity writes a batch of last-activity times in one pipeline: to
// the user's overall activity (any pool) and to each pool's own sorted set.
// ZADD GT only ever moves a user's time forward, so replicas that flush out
// of order never move someone back into the past.
func (s *Store) RecordActivity(ctx context.Context, batch []Activity) error {
	if len(batch) == 0 {
		return nil
	}
	members := make([]redis.Z, len(batch))
	perPool := map[string][]redis.Z{}
	for i, a := range batch {
		z := redis.Z{Score: float64(a.At.UnixMilli()), Member: a.User}
		members[i] = z
		for _, p := range a.Pools {
			perPool[p] = append(perPool[p], z)
		}
	}
	pipe := s.rdb.Pipeline()
	pipe.ZAddGT(ctx, s.Key("activity"), members...)
	for p, zs := range perPool {
		pipe.ZAddGT(ctx, s.Key("activity", p), zs...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return s.fail("activity_write", fmt.Errorf("record activity of %d users: %w", len(batch), err))
	}
	return nil
}

// PoolActivity returns the last real activity in one pool of each user
// that has one.
func (s *Store) PoolActivity(ctx context.Context, pool string, users []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(users))
	if len(users) == 0 {
		return out, nil
	}
	scores, err := s.rdb.ZMScore(ctx, s.Key("activity", pool), users...).Result()
	if err != nil {
		return nil, s.fail("activity_read", fmt.Errorf("read activity of pool %s: %w", pool, err))
	}
	for i, sc := range scores {
		if sc > 0 {
			out[users[i]] = time.UnixMilli(int64(sc))
		}
	}
	return out, nil
}

// PoolObservedSince returns when this Redis started recording the pool's
// own activity (zero if it never did: then the observation start stands).
// A floatseat upgraded from one that recorded activity for all pools at
// once starts the pools' windows afresh, so nobody loses a seat for lack of
// records nobody kept.
func (s *Store) PoolObservedSince(ctx context.Context, pool string) (time.Time, error) {
	ms, err := s.rdb.Get(ctx, s.Key("observed_since", pool)).Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, s.fail("heartbeat", fmt.Errorf("read observation start of pool %s: %w", pool, err))
	}
	return time.UnixMilli(ms), nil
}

// LastActivity returns the last real activity of each user that has one.
func (s *Store) LastActivity(ctx context.Context, users []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(users))
	if len(users) == 0 {
		return out, nil
	}
	// The admin user list asks for every licensed user (100k and more): one
	// ZMSCORE that size holds Redis, and every proxy's activity write, for
	// its whole run, so it is sent as a pipeline of bounded commands.
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.FloatSliceCmd, 0, (len(users)+activityBatch-1)/activityBatch)
	for chunk := range slices.Chunk(users, activityBatch) {
		cmds = append(cmds, pipe.ZMScore(ctx, s.Key("activity"), chunk...))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, s.fail("activity_read", fmt.Errorf("read activity: %w", err))
	}
	for c, cmd := range cmds {
		for i, sc := range cmd.Val() {
			if sc > 0 {
				out[users[c*activityBatch+i]] = time.UnixMilli(int64(sc))
			}
		}
	}
	return out, nil
}

// activityBatch bounds the members one ZMSCORE of LastActivity asks for.
const activityBatch = 1000

// AllActivity returns every recorded user's last activity.
func (s *Store) AllActivity(ctx context.Context) (map[string]time.Time, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.Key("activity"), 0, -1).Result()
	if err != nil {
		return nil, s.fail("activity_read", fmt.Errorf("read activity: %w", err))
	}
	out := make(map[string]time.Time, len(zs))
	for _, z := range zs {
		out[z.Member.(string)] = time.UnixMilli(int64(z.Score))
	}
	return out, nil
}

// Heartbeat announces that replica is proxying traffic, and fixes the
// observation start (the first time this Redis saw any proxy) if unset, and
// that of each pool whose activity the replica records.
func (s *Store) Heartbeat(ctx context.Context, replica string, now time.Time, pools ...string) error {
	ms := now.UnixMilli()
	pipe := s.rdb.TxPipeline()
	pipe.ZAdd(ctx, s.Key("heartbeats"), redis.Z{Score: float64(ms), Member: replica})
	pipe.SetNX(ctx, s.Key("observed_since"), ms, 0)
	for _, p := range pools {
		pipe.SetNX(ctx, s.Key("observed_since", p), ms, 0)
	}
	// Forget replicas silent for a day so the set stays small.
	pipe.ZRemRangeByScore(ctx, s.Key("heartbeats"), "-inf", strconv.FormatInt(now.Add(-24*time.Hour).UnixMilli(), 10))
	if _, err := pipe.Exec(ctx); err != nil {
		return s.fail("heartbeat", fmt.Errorf("heartbeat: %w", err))
	}
	return nil
}

// LastHeartbeat returns the newest heartbeat of any replica (zero if none).
func (s *Store) LastHeartbeat(ctx context.Context) (time.Time, error) {
	zs, err := s.rdb.ZRevRangeWithScores(ctx, s.Key("heartbeats"), 0, 0).Result()
	if err != nil {
		return time.Time{}, s.fail("heartbeat", fmt.Errorf("read heartbeats: %w", err))
	}
	if len(zs) == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(int64(zs[0].Score)), nil
}

// Heartbeats returns the newest heartbeat of each replica heard from in
// the last day.
func (s *Store) Heartbeats(ctx context.Context) (map[string]time.Time, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.Key("heartbeats"), 0, -1).Result()
	if err != nil {
		return nil, s.fail("heartbeat", fmt.Errorf("read heartbeats: %w", err))
	}
	out := make(map[string]time.Time, len(zs))
	for _, z := range zs {
		out[z.Member.(string)] = time.UnixMilli(int64(z.Score))
	}
	return out, nil
}

// ObservedSince returns when this Redis first saw a proxy (zero if never).
func (s *Store) ObservedSince(ctx context.Context) (time.Time, error) {
	ms, err := s.rdb.Get(ctx, s.Key("observed_since")).Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, s.fail("heartbeat", fmt.Errorf("read observation start: %w", err))
	}
	return time.UnixMilli(ms), nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return s.fail("ping", err)
	}
	return nil
}
