package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Revoked is what floatseat must give back to a user of one pool: exactly
// the groups it removed (so a JSM agent gets JSM back, not Jira Software).
type Revoked struct {
	Groups []string  `json:"groups"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Intent is a directory change announced before it is made, so that a crash
// between the two can be completed or undone on restart.
type Intent struct {
	Op     string    `json:"op"` // "revoke", "grant" or "rollback" (of an unconfirmed grant)
	User   string    `json:"user"`
	Pool   string    `json:"pool"`
	Groups []string  `json:"groups"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// IntentKey identifies an intent by op, pool and user.
func IntentKey(op, pool, user string) string { return op + "|" + pool + "|" + user }

// RecordIntent stores an intent before its directory change.
func (s *Store) RecordIntent(ctx context.Context, in Intent) error {
	b, _ := json.Marshal(in)
	if err := s.rdb.HSet(ctx, s.Key("intents"), IntentKey(in.Op, in.Pool, in.User), b).Err(); err != nil {
		return s.fail("intent", fmt.Errorf("record intent: %w", err))
	}
	return nil
}

// Intents lists intents not yet completed.
func (s *Store) Intents(ctx context.Context) ([]Intent, error) {
	m, err := s.rdb.HGetAll(ctx, s.Key("intents")).Result()
	if err != nil {
		return nil, s.fail("intent", fmt.Errorf("read intents: %w", err))
	}
	out := make([]Intent, 0, len(m))
	for _, v := range m {
		var in Intent
		if json.Unmarshal([]byte(v), &in) == nil {
			out = append(out, in)
		}
	}
	return out, nil
}

// CompleteRevoke records the user as revoked from pool and drops the intent,
// in one transaction: either both happen or neither.
func (s *Store) CompleteRevoke(ctx context.Context, pool, user string, r Revoked) error {
	b, _ := json.Marshal(r)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.Key("revoked", pool), user, b)
	pipe.HDel(ctx, s.Key("intents"), IntentKey("revoke", pool, user))
	s.logChange(ctx, pipe, "revoke", pool, user)
	pipe.Publish(ctx, s.Key("events"), Event{Op: "revoke", Pool: pool, User: user}.String())
	if _, err := pipe.Exec(ctx); err != nil {
		return s.fail("revoked", fmt.Errorf("complete revoke of %s: %w", user, err))
	}
	return nil
}

// CompleteGrant drops the user's revoked record of pool and any intent.
func (s *Store) CompleteGrant(ctx context.Context, pool, user string) error {
	pipe := s.rdb.TxPipeline()
	pipe.HDel(ctx, s.Key("revoked", pool), user)
	pipe.HDel(ctx, s.Key("intents"), IntentKey("grant", pool, user), IntentKey("revoke", pool, user),
		IntentKey("rollback", pool, user))
	s.logChange(ctx, pipe, "grant", pool, user)
	pipe.Publish(ctx, s.Key("events"), Event{Op: "grant", Pool: pool, User: user}.String())
	if _, err := pipe.Exec(ctx); err != nil {
		return s.fail("revoked", fmt.Errorf("complete grant of %s: %w", user, err))
	}
	return nil
}

// DropIntent forgets an intent that turned out not to be needed.
func (s *Store) DropIntent(ctx context.Context, op, pool, user string) error {
	if err := s.rdb.HDel(ctx, s.Key("intents"), IntentKey(op, pool, user)).Err(); err != nil {
		return s.fail("intent", fmt.Errorf("drop intent: %w", err))
	}
	return nil
}

// RevokedUsers returns every user floatseat revoked from pool.
func (s *Store) RevokedUsers(ctx context.Context, pool string) (map[string]Revoked, error) {
	m, err := s.rdb.HGetAll(ctx, s.Key("revoked", pool)).Result()
	if err != nil {
		return nil, s.fail("revoked", fmt.Errorf("read revoked users: %w", err))
	}
	out := make(map[string]Revoked, len(m))
	for u, v := range m {
		var r Revoked
		if json.Unmarshal([]byte(v), &r) == nil {
			out[u] = r
		}
	}
	return out, nil
}

// RevokedUser returns one user's record of pool, ok false if none.
func (s *Store) RevokedUser(ctx context.Context, pool, user string) (Revoked, bool, error) {
	return s.revokedRecord(user, s.rdb.HGet(ctx, s.Key("revoked", pool), user))
}

// revokedRecord decodes the answer to an HGET of user's revoked record:
// ok false if there is none.
func (s *Store) revokedRecord(user string, cmd *redis.StringCmd) (Revoked, bool, error) {
	v, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return Revoked{}, false, nil
	}
	if err != nil {
		return Revoked{}, false, s.fail("revoked", fmt.Errorf("read revoked user: %w", err))
	}
	var r Revoked
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return Revoked{}, false, fmt.Errorf("revoked record of %s: %w", user, err)
	}
	return r, true, nil
}

// RevokedOrRevoking reads user's revoked record of pool and whether a
// revocation of them from pool is under way (its intent recorded, its
// record not yet written), in one transaction: CompleteRevoke writes the
// record and drops the intent together, so the answer is one or the
// other (or neither), never a mix of two moments.
func (s *Store) RevokedOrRevoking(ctx context.Context, pool, user string) (r Revoked, recorded, revoking bool, err error) {
	var rec *redis.StringCmd
	var in *redis.BoolCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		rec = p.HGet(ctx, s.Key("revoked", pool), user)
		in = p.HExists(ctx, s.Key("intents"), IntentKey("revoke", pool, user))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Revoked{}, false, false, s.fail("revoked", fmt.Errorf("read revoked user: %w", err))
	}
	r, recorded, err = s.revokedRecord(user, rec)
	return r, recorded, in.Val(), err
}

// RestoreRevoked puts a revoked record back (rollback of a grant whose login
// failed) and tells the other replicas.
func (s *Store) RestoreRevoked(ctx context.Context, pool, user string, r Revoked) error {
	b, _ := json.Marshal(r)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.Key("revoked", pool), user, b)
	s.logChange(ctx, pipe, "revoke", pool, user)
	pipe.Publish(ctx, s.Key("events"), Event{Op: "revoke", Pool: pool, User: user}.String())
	if _, err := pipe.Exec(ctx); err != nil {
		return s.fail("revoked", fmt.Errorf("restore revoked %s: %w", user, err))
	}
	return nil
}

// PublishSeatless tells the other replicas that a pool-group member holds
// no seat of pool again (a provisional grant was rolled back), so the next
// request of that user gets a grant on whichever replica it lands.
func (s *Store) PublishSeatless(ctx context.Context, pool, user string) error {
	if err := s.rdb.Publish(ctx, s.Key("events"), Event{Op: "seatless", Pool: pool, User: user}.String()).Err(); err != nil {
		return s.fail("revoked", fmt.Errorf("publish seatless %s: %w", user, err))
	}
	return nil
}

// Subscribe delivers the Events of every replica until ctx ends (payloads
// that are not an Event are dropped). The channel closes when the subscription
// ends; callers resubscribe and resynchronise.
func (s *Store) Subscribe(ctx context.Context) (<-chan Event, func()) {
	sub := s.rdb.Subscribe(ctx, s.Key("events"))
	out := make(chan Event, 256)
	go func() {
		defer close(out)
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				e, ok := ParseEvent(m.Payload)
				if !ok {
					continue
				}
				select {
				case out <- e:
				default: // a full reader resynchronises from Redis anyway
				}
			}
		}
	}()
	return out, func() { _ = sub.Close() }
}

// Announce tells every replica's Subscribe Event{op, arg, user}: what one replica
// learned that the others must act on at once (the keeper's stale
// sessions). Delivery is best effort, like every event.
func (s *Store) Announce(ctx context.Context, op, arg, user string) error {
	if err := s.rdb.Publish(ctx, s.Key("events"), Event{Op: op, Pool: arg, User: user}.String()).Err(); err != nil {
		return s.fail("announce", fmt.Errorf("announce %s of %s: %w", op, user, err))
	}
	return nil
}
