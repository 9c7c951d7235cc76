package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// UsedMemory is Redis's used_memory in bytes (INFO memory), for sizing.
func (s *Store) UsedMemory(ctx context.Context) (int64, error) {
	info, err := s.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, s.fail("info", fmt.Errorf("info memory: %w", err))
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("info memory: no used_memory")
}

// KeyCount is the number of keys in the database (DBSIZE), for sizing.
func (s *Store) KeyCount(ctx context.Context) (int64, error) {
	n, err := s.rdb.DBSize(ctx).Result()
	if err != nil {
		return 0, s.fail("info", fmt.Errorf("dbsize: %w", err))
	}
	return n, nil
}
