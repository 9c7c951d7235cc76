package store

// Seat accounting shared by every replica.
//
// Per pool, five keys under the instance's hash tag (so the scripts below
// may touch them all on Redis Cluster):
//
//	{prefix}:seats:<pool>:license   hash: seats, used, unlimited, reported_at,
//	                                answered_at (Unix ms)
//	{prefix}:seats:<pool>:grants    sorted set: user → visible-at (Unix ms)
//	{prefix}:seats:<pool>:revoked   sorted set: user → visible-at (Unix ms)
//	{prefix}:seats:<pool>:returned  sorted set: user → visible-at (Unix ms) of
//	                                the pending revocation a grant cancelled
//	{prefix}:seats:<pool>:revoking  hash: user → when the revocation of a user
//	                                in revoked or returned started (Unix ms)
//
// The app's own count is the truth: going over the licence stops issue
// creation in Jira and makes Confluence read-only. floatseat only adds what
// the app cannot know yet. A pending grant is a seat floatseat handed out that
// the app may not count yet; it is dropped when a licence report taken at or
// after its visible-at time arrives, because from then on the app's "used"
// includes it. A pending revocation is symmetrical: a seat floatseat freed
// that the app may still count. Grants ignore pending revocations (the app
// still counts those seats); the reaper counts them as freed so it does not
// revoke more people because the app is slow to notice. A returning user
// whose revocation is pending gets their seat back without a free one only
// while the last report was answered by the time the revocation started: only
// such a report surely still counts them (a later one may already leave
// them out, and the seat they left may be someone else's by now). A grant that
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
	// AnsweredAt is when the app's answer came (no earlier); zero means at
	// the request time, for a count read at once (a fixed pool's view).
	AnsweredAt time.Time
}

func (s *Store) seatKeys(pool string) []string {
	return []string{
		s.Key("seats", pool, "license"),
		s.Key("seats", pool, "grants"),
		s.Key("seats", pool, "revoked"),
		s.Key("seats", pool, "returned"),
		s.Key("seats", pool, "revoking"),
	}
}

func unixMs(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// setLicenseScript stores a report unless a newer one is already stored (two
// replicas polling may answer out of order), then drops the pending grants
// and revocations the report already reflects (the revocations grants
// cancelled too: a grant undone after this report leaves a seat the app
// no longer counts), and the start of each revocation dropped from both.
var setLicenseScript = redis.NewScript(`
local prev = redis.call('HGET', KEYS[1], 'reported_at')
if prev and tonumber(prev) > tonumber(ARGV[4]) then
  return 0
end
redis.call('HSET', KEYS[1], 'seats', ARGV[1], 'used', ARGV[2], 'unlimited', ARGV[3],
  'reported_at', ARGV[4], 'answered_at', ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
for _, u in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[4])) do
  table.insert(gone, u)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[4])
for _, u in ipairs(gone) do
  if not redis.call('ZSCORE', KEYS[3], u) and not redis.call('ZSCORE', KEYS[4], u) then
    redis.call('HDEL', KEYS[5], u)
  end
end
return 1
`)

// SetLicense stores the app's report on pool, taken at reportedAt, and drops
// pending grants and revocations whose visible-at is ≤ reportedAt: the app
// counts them now. reportedAt must be when the request to the app was sent,
// not when its answer came: a grant made while the request was in flight may
// be missing from the answer. A report older than the stored one is ignored.
// c.AnsweredAt (reportedAt when earlier or zero) bounds the other side: a
// revocation that started after it cannot be reflected in the report, so
// TakeSeat gives such a user their seat back without a free one.
func (s *Store) SetLicense(ctx context.Context, pool string, c LicenseCount, reportedAt time.Time) error {
	unl := "0"
	if c.Unlimited {
		unl = "1"
	}
	answered := c.AnsweredAt
	if answered.Before(reportedAt) {
		answered = reportedAt
	}
	err := setLicenseScript.Run(ctx, s.rdb, s.seatKeys(pool),
		c.Seats, c.Used, unl, unixMs(reportedAt), unixMs(answered)).Err()
	if err != nil {
		return fmt.Errorf("store set licence of %s: %w", pool, err)
	}
	return nil
}

// takeSeatScript returns {status, headroom, unlimited}: status -1 no report, 0 refused,
// 1 granted (or already pending), 2 granted back to a user whose revocation
// the last report cannot reflect (answered by the time it started).
var takeSeatScript = redis.NewScript(`
local lic = redis.call('HMGET', KEYS[1], 'seats', 'used', 'unlimited', 'reported_at', 'answered_at')
if not lic[4] then
  return {-1, 0, 0}
end
local unl = 0
if lic[3] == '1' then unl = 1 end
local user, vis = ARGV[1], tonumber(ARGV[2])
local function headroom()
  return tonumber(lic[1]) - tonumber(lic[2]) - redis.call('ZCARD', KEYS[2])
end
-- A grant cancels the user's pending revocation: their seat is no longer
-- freed. It is kept aside until a report shows it, for ReleaseSeat to put
-- back. A refusal leaves it pending.
local revokedVis = redis.call('ZSCORE', KEYS[3], user)
local function cancelRevocation()
  if revokedVis then
    redis.call('ZREM', KEYS[3], user)
    redis.call('ZADD', KEYS[4], revokedVis, user)
  end
end
local cur = redis.call('ZSCORE', KEYS[2], user)
if cur then
  if tonumber(cur) < vis then
    redis.call('ZADD', KEYS[2], vis, user)
  end
  cancelRevocation()
  return {1, headroom(), unl}
end
-- The seat comes back without a free one only if the report surely still
-- counts the user: answered by the time the revocation started (the same
-- millisecond too: the removal follows the start by a Redis and a directory
-- round trip). A start or an answer time not stored (written before they
-- were) needs a free seat.
if revokedVis then
  local started = redis.call('HGET', KEYS[5], user)
  if started and lic[5] and tonumber(lic[5]) <= tonumber(started) then
    redis.call('ZADD', KEYS[2], vis, user)
    cancelRevocation()
    return {2, headroom(), unl}
  end
end
if unl == 0 and headroom() < 1 then
  return {0, headroom(), unl}
end
redis.call('ZADD', KEYS[2], vis, user)
cancelRevocation()
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
// otherwise it grants only with headroom ≥ 1. A user whose revocation is
// pending is granted back whatever the headroom when the stored report was
// answered by the time the revocation started (MarkRevoked's startedAt): that
// report still counts them, so their return takes no seat the app does not
// already count. A later report may leave them out already (the app saw the
// groups removed before the mark's visible-at), and their seat may be
// someone else's by now: then the return needs a free seat like any grant,
// and a refusal leaves the revocation pending. Any grant cancels the user's
// pending revocation, so the reaper no longer counts their seat as freed;
// ReleaseSeat puts it back if the grant is undone. headroomAfter is the
// headroom after the call (UnlimitedHeadroom for an unlimited pool).
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
// (TakeSeat granted it back), the app's last report
// still counts that seat, and the revocation is pending again, atomically:
// until the later of its own visible-at and visibleAt, which is when the
// app can see the groups removed once more (the caller's choice, as for
// MarkRevoked). Without that, the reaper would count the seat as in use
// and revoke someone else for it, and the user's next login would need a
// free seat the app does not lack. A report taken after the revocation's
// own visible-at ends that: from then on nothing is put back. The
// revocation keeps its start: a report answered since may leave the user
// out, so only one answered by its start lets them back without a free seat.
func (s *Store) ReleaseSeat(ctx context.Context, pool, user string, visibleAt time.Time) error {
	keys := s.seatKeys(pool)
	err := releaseSeatScript.Run(ctx, s.rdb, []string{keys[1], keys[2], keys[3]},
		username.Normalize(user), unixMs(visibleAt)).Err()
	if err != nil {
		return fmt.Errorf("store release seat in %s for %s: %w", pool, user, err)
	}
	return nil
}

// markRevokedScript keeps the later visible-at and the earlier start of
// two marks (a start kept while the user is in returned too).
var markRevokedScript = redis.NewScript(`
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
local started = redis.call('HGET', KEYS[2], ARGV[1])
if (not started) or tonumber(started) > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
end
return 1
`)

// MarkRevoked records that user's seat in pool was revoked and that the app
// will stop counting it at visibleAt (now for app-REST backends, the next
// directory sync for Crowd/LDAP). Until a licence report taken at or after
// visibleAt arrives, PendingRevocations counts it. startedAt is when the
// revocation started, no later than the directory removal began (the
// revoke intent's time): from then on the app may count the user out, and
// a report answered since gives them no seat back without a free one.
func (s *Store) MarkRevoked(ctx context.Context, pool, user string, startedAt, visibleAt time.Time) error {
	if visibleAt.Before(startedAt) {
		visibleAt = startedAt
	}
	keys := s.seatKeys(pool)
	err := markRevokedScript.Run(ctx, s.rdb, []string{keys[2], keys[4]},
		username.Normalize(user), unixMs(visibleAt), unixMs(startedAt)).Err()
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
