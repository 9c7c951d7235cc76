package keeper

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/username"
)

// Live sessions with a slow backend (DESIGN §2.6, docs/sso.md). With Crowd
// or LDAP a grant reaches the app at a login (which re-reads groups) or at
// its next directory sync; a live session does neither and would keep
// answering 403 to a user whose seat is back. So the session a revoked
// user came back with is kept from the app, like the remember-me cookie,
// until a login or the sync: the app asks for a login instead. Only that
// session (and any other the user brings back before a login) is dropped:
// the new one a login creates is forwarded on every replica, and every
// replica hears of a stale session at once (Events.Announce).
//
// The alternative, ending the user's sessions at revocation (Jira 9.11+
// DELETE /rest/api/2/user/session/{user}), needs an admin call per
// revocation and exists only in Jira; it is offered as an option on top
// (app.end_sessions), not instead: a session that outlived it, or a
// Confluence session, still needs this.

// sessionKey names a session without keeping it: a hash of the cookie,
// equal on every replica.
func sessionKey(session string) uint64 {
	sum := sha256.Sum256([]byte(session))
	return binary.BigEndian.Uint64(sum[:8])
}

// markStale records that u's session must not reach the app until until.
func (k *Keeper) markStale(ctx context.Context, u, session string, until time.Time) {
	key := sessionKey(session)
	k.mu.Lock()
	k.addStaleLocked(u, key, until)
	k.mu.Unlock()
	arg := strconv.FormatUint(key, 16) + "@" + strconv.FormatInt(until.UnixMilli(), 10)
	if err := k.events.Announce(context.WithoutCancel(ctx), "stale", arg, u); err != nil {
		k.opt.Log.Warn("stale session not announced; other replicas forward it until the app syncs", "user", u, "err", err)
	}
}

func (k *Keeper) addStaleLocked(u string, key uint64, until time.Time) {
	if !slices.Contains(k.stale[u], key) {
		k.stale[u] = append(k.stale[u], key)
	}
	if cur, ok := k.invisible[u]; !ok || until.After(cur) {
		k.invisible[u] = until
	}
}

// applyStale is another replica's "stale|<key hex>@<until ms>|user".
func (k *Keeper) applyStale(arg, u string) {
	hexKey, ms, ok := strings.Cut(arg, "@")
	if !ok {
		return
	}
	key, err1 := strconv.ParseUint(hexKey, 16, 64)
	at, err2 := strconv.ParseInt(ms, 10, 64)
	if err1 != nil || err2 != nil {
		return
	}
	k.mu.Lock()
	k.addStaleLocked(u, key, time.UnixMilli(at))
	k.mu.Unlock()
}

// staleSessionLocked reports whether session is one of u's sessions the app
// cannot see the grant on yet. Called with k.mu read-locked.
func (k *Keeper) staleSessionLocked(u, session string) bool {
	keys := k.stale[u]
	return len(keys) > 0 && slices.Contains(keys, sessionKey(session))
}

// StaleSessions counts the sessions of user kept from the app until it can
// see the grant (status and tests).
func (k *Keeper) StaleSessions(user string) int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.stale[username.Normalize(user)])
}
