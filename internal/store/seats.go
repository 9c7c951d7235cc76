package store

// Seat accounting shared by every replica.
//
// Per pool, four keys under the instance's hash tag (so the scripts below
// may touch them all on Redis Cluster):
//
//	{prefix}:seats:<pool>:license   hash: seats, used, unlimited, reported_at (Unix ms)
//	{prefix}:seats:<pool>:grants    sorted set: user → visible-at (Unix ms)
//	{prefix}:seats:<pool>:revoked   sorted set: user → visible-at (Unix ms)
//	{prefix}:seats:<pool>:returned  sorted set: user → visible-at (Unix ms) of
//	                                the pending revocation a grant cancelled
//
// The app's own count is the truth: going over the licence stops issue
// creation in Jira and makes Confluence read-only. floatseat only adds what
// the app cannot know yet. A pending grant is a seat floatseat handed out that
// the app may not count yet; it is dropped when a licence report taken at or
// after its visible-at time arrives, because from then on the app's "used"
// includes it. A pending revocation is symmetrical: a seat floatseat freed
// that the app may still count. Grants ignore pending revocations (the app
// still counts those seats); the reaper counts them as freed so it does not
// revoke more people because the app is slow to notice. A grant that
// cancels a pending revocation keeps it aside (returned) until a report
// shows it, so that undoing the grant (ReleaseSeat) puts it back: the app
// still counts that seat.
//
// Usernames are stored lower-cased: the apps compare them case-insensitively.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/username"
)

// ErrNoLicenseReport is returned by TakeSeat when the pool has no licence
// report yet: without the app's count floatseat cannot know a seat is free,
// so grants fail closed.
var ErrNoLicenseReport = errors.New("no licence report for pool yet")

// UnlimitedHeadroom is the headroom TakeSeat reports for an unlimited pool.
const UnlimitedHeadroom = math.MaxInt32

// LicenseCount is the app's report on one pool.
type LicenseCount struct {
	Seats     int
	Unlimited bool
	Used      int
}

func (s *Store) seatKeys(pool string) []string {
	return []string{
		s.Key("seats", pool, "license"),
		s.Key("seats", pool, "grants"),
		s.Key("seats", pool, "revoked"),
		s.Key("seats", pool, "returned"),
	}
}

func unixMs(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// setLicenseScript stores a report unless a newer one is already stored (two
// replicas polling may answer out of order), then drops the pending grants
// and revocations the report already reflects (the revocations grants
// cancelled too: a grant undone after this report leaves a seat the app
// no longer counts).
var setLicenseScript = redis.NewScript(`
local prev = redis.call('HGET', KEYS[1], 'reported_at')
if prev and tonumber(prev) > tonumber(ARGV[4]) then
  return 0
end
redis.call('HSET', KEYS[1], 'seats', ARGV[1], 'used', ARGV[2], 'unlimited', ARGV[3], 'reported_at', ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[4])
return 1
`)

// SetLicense stores the app's report on pool, taken at reportedAt, and drops
// pending grants and revocations whose visible-at is ≤ reportedAt: the app
// counts them now. reportedAt must be when the request to the app was sent,
// not when its answer came: a grant made while the request was in flight may
// be missing from the answer. A report older than the stored one is ignored.
func (s *Store) SetLicense(ctx context.Context, pool string, c LicenseCount, reportedAt time.Time) error {
	unl := "0"
	if c.Unlimited {
		unl = "1"
	}
	err := setLicenseScript.Run(ctx, s.rdb, s.seatKeys(pool),
		c.Seats, c.Used, unl, unixMs(reportedAt)).Err()
	if err != nil {
		return fmt.Errorf("store set licence of %s: %w", pool, err)
	}
	return nil
}

// takeSeatScript returns {status, headroom, unlimited}: status -1 no report, 0 refused,
// 1 granted (or already pending), 2 granted back to a user whose revocation
// the app had not seen yet.
var takeSeatScript = redis.NewScript(`
local lic = redis.call('HMGET', KEYS[1], 'seats', 'used', 'unlimited', 'reported_at')
if not lic[4] then
  return {-1, 0, 0}
end
local unl = 0
if lic[3] == '1' then unl = 1 end
local user, vis = ARGV[1], tonumber(ARGV[2])
local function headroom()
  return tonumber(lic[1]) - tonumber(lic[2]) - redis.call('ZCARD', KEYS[2])
end
-- Every path below that finds the user revoked grants, so the revocation
-- can go first: a returning user's seat is no longer freed. It is kept
-- aside until a report shows it, for ReleaseSeat to put back.
local revokedVis = redis.call('ZSCORE', KEYS[3], user)
local wasRevoked = false
if revokedVis then
  redis.call('ZREM', KEYS[3], user)
  redis.call('ZADD', KEYS[4], revokedVis, user)
  wasRevoked = true
end
local cur = redis.call('ZSCORE', KEYS[2], user)
if cur then
  if tonumber(cur) < vis then
    redis.call('ZADD', KEYS[2], vis, user)
  end
  return {1, headroom(), unl}
end
if wasRevoked then
  redis.call('ZADD', KEYS[2], vis, user)
  return {2, headroom(), unl}
end
if unl == 0 and headroom() < 1 then
  return {0, headroom(), unl}
end
redis.call('ZADD', KEYS[2], vis, user)
return {1, headroom(), unl}
`)

// TakeSeat atomically takes a seat in pool for user, across all replicas.
//
// visibleAt is when the app will count the grant: now for the app-REST
// backends and for password logins through Crowd/LDAP (the app re-reads the
// groups while authenticating), now plus the directory sync interval for a
// Crowd/LDAP grant the app sees only at its next sync. Choose it as an upper
// bound: if the directory write or the app's own licence-count cache may lag,
// add that. Calling TakeSeat again for a pending user is free (granted, no
// second seat) and moves visibleAt later, never earlier, so a caller may
// first take the seat, then write the directory, then confirm with the time
// the write finished.
//
// Headroom = seats − used − pending grants. With no licence report it
// returns ErrNoLicenseReport (fail closed); an unlimited pool always grants;
// otherwise it grants only with headroom ≥ 1. A user whose revocation the app
// has not seen yet is granted back whatever the headroom: the stored report
// still counts them, so their return takes no seat the app does not already
// count. Any grant cancels the user's pending revocation, so the reaper no
// longer counts their seat as freed; ReleaseSeat puts it back if the grant
// is undone. headroomAfter is the headroom after the
// call (UnlimitedHeadroom for an unlimited pool).
func (s *Store) TakeSeat(ctx context.Context, pool, user string, now, visibleAt time.Time) (granted bool, headroomAfter int, err error) {
	if visibleAt.Before(now) {
		visibleAt = now
	}
	res, err := takeSeatScript.Run(ctx, s.rdb, s.seatKeys(pool), username.Normalize(user), unixMs(visibleAt)).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("store take seat in %s for %s: %w", pool, user, err)
	}
	if len(res) != 3 {
		return false, 0, fmt.Errorf("store take seat in %s for %s: script returned %v", pool, user, res)
	}
	if res[0] == -1 {
		return false, 0, fmt.Errorf("store take seat in %s for %s: %w", pool, user, ErrNoLicenseReport)
	}
	headroom := int(res[1])
	if res[2] == 1 {
		headroom = UnlimitedHeadroom
	}
	return res[0] > 0, headroom, nil
}

// releaseSeatScript drops the pending grant and puts back the pending
// revocation it cancelled, if any, with the later visible-at of the two.
var releaseSeatScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
local back = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not back then
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[1])
local vis = ARGV[2]
if tonumber(back) > tonumber(vis) then vis = back end
local cur = redis.call('ZSCORE', KEYS[2], ARGV[1])
if (not cur) or tonumber(cur) < tonumber(vis) then
  redis.call('ZADD', KEYS[2], vis, ARGV[1])
end
return 1
`)

// ReleaseSeat undoes a grant (the app did not confirm the login, or the
// directory write failed): the pending grant goes, and the seat is free
// again. Releasing a user with no pending grant is a no-op.
//
// When the grant had given back a seat whose revocation was still pending
// (TakeSeat granted it back whatever the headroom), the app's last report
// still counts that seat, and the revocation is pending again, atomically:
// until the later of its own visible-at and visibleAt, which is when the
// app can see the groups removed once more (the caller's choice, as for
// MarkRevoked). Without that, the reaper would count the seat as in use
// and revoke someone else for it, and the user's next login would need a
// free seat the app does not lack. A report taken after the revocation's
// own visible-at ends that: from then on nothing is put back.
func (s *Store) ReleaseSeat(ctx context.Context, pool, user string, visibleAt time.Time) error {
	keys := s.seatKeys(pool)
	err := releaseSeatScript.Run(ctx, s.rdb, []string{keys[1], keys[2], keys[3]},
		username.Normalize(user), unixMs(visibleAt)).Err()
	if err != nil {
		return fmt.Errorf("store release seat in %s for %s: %w", pool, user, err)
	}
	return nil
}

// markRevokedScript keeps the later visible-at of two marks.
var markRevokedScript = redis.NewScript(`
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
return 1
`)

// MarkRevoked records that user's seat in pool was revoked and that the app
// will stop counting it at visibleAt (now for app-REST backends, the next
// directory sync for Crowd/LDAP). Until a licence report taken at or after
// visibleAt arrives, PendingRevocations counts it.
func (s *Store) MarkRevoked(ctx context.Context, pool, user string, visibleAt time.Time) error {
	err := markRevokedScript.Run(ctx, s.rdb, []string{s.Key("seats", pool, "revoked")},
		username.Normalize(user), unixMs(visibleAt)).Err()
	if err != nil {
		return fmt.Errorf("store mark %s revoked in %s: %w", user, pool, err)
	}
	return nil
}

// PoolState reads the last licence report and the pending grants of pool in
// one transaction. A pool with no report yet has a zero reportedAt and zero
// counts. unlimited pools report the seats the app gave (often meaningless).
func (s *Store) PoolState(ctx context.Context, pool string) (seats, used, pending int, unlimited bool, reportedAt time.Time, err error) {
	keys := s.seatKeys(pool)
	var lic *redis.SliceCmd
	var card *redis.IntCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		lic = p.HMGet(ctx, keys[0], "seats", "used", "unlimited", "reported_at")
		card = p.ZCard(ctx, keys[1])
		return nil
	})
	if err != nil {
		return 0, 0, 0, false, time.Time{}, fmt.Errorf("store pool state of %s: %w", pool, err)
	}
	vals := lic.Val()
	if len(vals) != 4 || vals[3] == nil {
		return 0, 0, 0, false, time.Time{}, nil
	}
	n := func(v any) (int64, error) {
		str, _ := v.(string)
		return strconv.ParseInt(str, 10, 64)
	}
	var parsed [3]int64
	for i, v := range []any{vals[0], vals[1], vals[3]} {
		if parsed[i], err = n(v); err != nil {
			return 0, 0, 0, false, time.Time{}, fmt.Errorf("store pool state of %s: corrupt licence record: %w", pool, err)
		}
	}
	unl, _ := vals[2].(string)
	return int(parsed[0]), int(parsed[1]), int(card.Val()), unl == "1", time.UnixMilli(parsed[2]).UTC(), nil
}

// PendingRevocations counts the revocations of pool the app has not shown
// yet: seats the reaper may count as freed.
func (s *Store) PendingRevocations(ctx context.Context, pool string) (int, error) {
	n, err := s.rdb.ZCard(ctx, s.Key("seats", pool, "revoked")).Result()
	if err != nil {
		return 0, fmt.Errorf("store pending revocations of %s: %w", pool, err)
	}
	return int(n), nil
}
