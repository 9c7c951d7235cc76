package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// AuditEntry is one stored audit event: its stream ID and fields.
type AuditEntry struct {
	ID     string
	Fields map[string]string
}

// AppendAudit adds an event to the bounded audit stream. MAXLEN ~ keeps the
// stream near maxLen entries without the cost of exact trimming.
func (s *Store) AppendAudit(ctx context.Context, fields map[string]string, maxLen int64) (string, error) {
	vals := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		vals = append(vals, k, v)
	}
	id, err := s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: s.Key("audit"),
		MaxLen: maxLen,
		Approx: true,
		Values: vals,
	}).Result()
	if err != nil {
		return "", s.fail("audit_write", fmt.Errorf("append audit: %w", err))
	}
	return id, nil
}

// ReadAudit returns events at or after since, oldest first, at most limit.
func (s *Store) ReadAudit(ctx context.Context, since time.Time, limit int64) ([]AuditEntry, error) {
	start := "-"
	if !since.IsZero() {
		start = strconv.FormatInt(since.UnixMilli(), 10)
	}
	msgs, err := s.rdb.XRangeN(ctx, s.Key("audit"), start, "+", limit).Result()
	if err != nil {
		return nil, s.fail("audit_read", fmt.Errorf("read audit: %w", err))
	}
	return toEntries(msgs), nil
}

// RecentAudit returns the newest n events, newest first.
func (s *Store) RecentAudit(ctx context.Context, n int64) ([]AuditEntry, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.Key("audit"), "+", "-", n).Result()
	if err != nil {
		return nil, s.fail("audit_read", fmt.Errorf("read audit: %w", err))
	}
	return toEntries(msgs), nil
}

func toEntries(msgs []redis.XMessage) []AuditEntry {
	out := make([]AuditEntry, len(msgs))
	for i, m := range msgs {
		f := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			f[k] = fmt.Sprint(v)
		}
		out[i] = AuditEntry{ID: m.ID, Fields: f}
	}
	return out
}
