package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/username"
)

// Observe mode's virtual revoked set (DESIGN §2.12): who enforce mode
// would have revoked and not given back yet, per pool, in keys of their
// own ({prefix}:observe:…) that nothing in enforce mode reads. A
// would-revoke is recorded once (HSETNX), so it is audited once per idle
// spell; a would-grant removes it (HDEL), so one replica audits it.

func (s *Store) observeKey(pool, what string) string { return s.Key("observe", pool, what) }

// ObserveRevoke adds user to pool's virtual revoked set; false when the
// user was already in it.
func (s *Store) ObserveRevoke(ctx context.Context, pool, user string, at time.Time) (bool, error) {
	ok, err := s.rdb.HSetNX(ctx, s.observeKey(pool, "revoked"), username.Normalize(user), unixMs(at)).Result()
	if err != nil {
		return false, s.fail("observe_revoke", fmt.Errorf("store observe revoke %s in %s: %w", user, pool, err))
	}
	return ok, nil
}

// ObserveReturn removes user from pool's virtual revoked set; false when
// the user was not in it (or another replica removed them first).
func (s *Store) ObserveReturn(ctx context.Context, pool, user string) (bool, error) {
	n, err := s.rdb.HDel(ctx, s.observeKey(pool, "revoked"), username.Normalize(user)).Result()
	if err != nil {
		return false, s.fail("observe_return", fmt.Errorf("store observe return %s in %s: %w", user, pool, err))
	}
	return n == 1, nil
}

// ObserveRevoked is pool's virtual revoked set: user → when.
func (s *Store) ObserveRevoked(ctx context.Context, pool string) (map[string]time.Time, error) {
	m, err := s.rdb.HGetAll(ctx, s.observeKey(pool, "revoked")).Result()
	if err != nil {
		return nil, s.fail("observe_revoked", fmt.Errorf("store observe revoked of %s: %w", pool, err))
	}
	out := make(map[string]time.Time, len(m))
	for u, v := range m {
		ms, _ := strconv.ParseInt(v, 10, 64)
		out[u] = time.UnixMilli(ms).UTC()
	}
	return out, nil
}

// ObserveNote records a figure of observe mode for pool: "peak_needed"
// keeps the highest value noted, "would_deny" adds n.
func (s *Store) ObserveNote(ctx context.Context, pool, figure string, n int) error {
	var err error
	switch figure {
	case "would_deny":
		err = s.rdb.HIncrBy(ctx, s.observeKey(pool, "figures"), figure, int64(n)).Err()
	default:
		err = observeMaxScript.Run(ctx, s.rdb, []string{s.observeKey(pool, "figures")}, figure, n).Err()
	}
	if err != nil {
		return s.fail("observe_note", fmt.Errorf("store observe note %s of %s: %w", figure, pool, err))
	}
	return nil
}

var observeMaxScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0`)

// ObserveFigures is what observe mode found for pool: the seats enforce
// would free now (the virtual revoked set), the most seats enforce would
// have needed at once, and the requests that would have met the full page.
func (s *Store) ObserveFigures(ctx context.Context, pool string) (wouldFree, peakNeeded, wouldDeny int, err error) {
	var n *redis.IntCmd
	var f *redis.SliceCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.HLen(ctx, s.observeKey(pool, "revoked"))
		f = p.HMGet(ctx, s.observeKey(pool, "figures"), "peak_needed", "would_deny")
		return nil
	})
	if err != nil {
		return 0, 0, 0, s.fail("observe_figures", fmt.Errorf("store observe figures of %s: %w", pool, err))
	}
	num := func(v any) int {
		str, _ := v.(string)
		i, _ := strconv.Atoi(str)
		return i
	}
	vals := f.Val()
	return int(n.Val()), num(vals[0]), num(vals[1]), nil
}

// ObserveClear forgets everything observe mode simulated for pools: enforce
// mode starts clean.
func (s *Store) ObserveClear(ctx context.Context, pools []string) error {
	var keys []string
	for _, p := range pools {
		keys = append(keys, s.observeKey(p, "revoked"), s.observeKey(p, "figures"))
	}
	if len(keys) == 0 {
		return nil
	}
	if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
		return s.fail("observe_clear", fmt.Errorf("store observe clear: %w", err))
	}
	return nil
}
