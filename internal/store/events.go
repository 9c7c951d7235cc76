package store

import "strings"

// Event is what one replica tells the others at once over Redis pub/sub
// (best effort: a replica that misses one catches up from the change log).
// On the wire it is "op|pool|user".
type Event struct {
	// Op is "revoke", "grant", "seatless" (a pool-group member holds no
	// seat of Pool again), or an Announce op such as the keeper's "stale".
	Op string
	// Pool is the pool; for an Announce, its argument.
	Pool string
	User string
}

// String is the event's wire form.
func (e Event) String() string { return e.Op + "|" + e.Pool + "|" + e.User }

// ParseEvent reads the wire form; ok is false for anything else.
func ParseEvent(s string) (e Event, ok bool) {
	op, rest, ok1 := strings.Cut(s, "|")
	pool, user, ok2 := strings.Cut(rest, "|")
	if !ok1 || !ok2 || op == "" {
		return Event{}, false
	}
	return Event{Op: op, Pool: pool, User: user}, true
}
