package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sample is one point of the status page's 24-hour chart.
type Sample struct {
	At       time.Time
	Headroom int
	Licensed int
}

// AddSample stores a chart point for pool and forgets points older than
// keep.
func (s *Store) AddSample(ctx context.Context, pool string, p Sample, keep time.Duration) error {
	key := s.Key("samples", pool)
	member := fmt.Sprintf("%d:%d:%d", p.At.UnixMilli(), p.Headroom, p.Licensed)
	pipe := s.rdb.TxPipeline()
	pipe.ZAdd(ctx, key, redis.Z{Score: float64(p.At.UnixMilli()), Member: member})
	pipe.ZRemRangeByScore(ctx, key, "-inf", fmt.Sprint(p.At.Add(-keep).UnixMilli()))
	if _, err := pipe.Exec(ctx); err != nil {
		return s.fail("samples", fmt.Errorf("add sample: %w", err))
	}
	return nil
}

// Samples returns pool's chart points since since, oldest first.
func (s *Store) Samples(ctx context.Context, pool string, since time.Time) ([]Sample, error) {
	ms, err := s.rdb.ZRangeByScore(ctx, s.Key("samples", pool), &redis.ZRangeBy{
		Min: fmt.Sprint(since.UnixMilli()), Max: "+inf"}).Result()
	if err != nil {
		return nil, s.fail("samples", fmt.Errorf("read samples: %w", err))
	}
	out := make([]Sample, 0, len(ms))
	for _, m := range ms {
		var at int64
		var p Sample
		if _, err := fmt.Sscanf(m, "%d:%d:%d", &at, &p.Headroom, &p.Licensed); err == nil {
			p.At = time.UnixMilli(at)
			out = append(out, p)
		}
	}
	return out, nil
}
