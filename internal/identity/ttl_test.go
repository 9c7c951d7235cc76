package identity

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A token's mapping is shared with its full TTL, renewed when the app
// confirms it past half that TTL, and renewed at once when it was read
// from Redis (its remaining TTL unknown). crowd.token_key is learned too.
func TestTokenMappingsOutliveTheCeilingAndRenew(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := &fakeStore{m: map[string]string{}}
	ttl := 8 * 24 * time.Hour
	r := NewResolver(NewHasher(bytes.Repeat([]byte("k"), 32)), st, ResolverOptions{SessionTTL: time.Hour, TokenTTL: ttl, Clock: clock},
		prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	idf := &Identifier{Product: "jira", Resolver: r}
	ctx := t.Context()
	req := func(hdr, v string) *http.Request {
		q, _ := http.NewRequest("GET", "/rest/api/2/issue/FS-1", nil)
		q.Header.Set(hdr, v)
		return q
	}
	confirm := func(q *http.Request, user string) {
		id := idf.Identify(ctx, q)
		idf.Learn(q, id, http.Header{}, user)
	}
	pat := req("Authorization", "Bearer pat-1")
	confirm(pat, "bot")
	if w := <-r.queue; w.TTL != ttl || w.User != "bot" {
		t.Fatalf("first write: %+v, want bot with the token TTL", w)
	}
	now = now.Add(ttl/2 - time.Hour)
	if id := idf.Identify(ctx, pat); id.User != "bot" || id.Source != SourceBearer || id.Stale {
		t.Fatalf("within half the TTL: %+v, want bot, not stale", id)
	}
	confirm(pat, "bot")
	if len(r.queue) != 0 {
		t.Fatal("a fresh mapping was written again")
	}
	now = now.Add(2 * time.Hour)
	id := idf.Identify(ctx, pat)
	if !id.Stale {
		t.Fatal("past half the TTL the mapping is not due for renewal")
	}
	idf.Learn(pat, id, http.Header{}, "bot")
	if w := <-r.queue; w.TTL != ttl {
		t.Fatalf("renewal: %+v", w)
	}

	// Another replica reads it from Redis: renewed on its first confirmation.
	st.m[r.h.Key(KindBearer, "pat-2").String()] = "bot2"
	q := req("Authorization", "Bearer pat-2")
	if id := idf.Identify(ctx, q); id.User != "bot2" || !id.Stale {
		t.Fatalf("from Redis: %+v, want bot2 and due for renewal", id)
	}

	// crowd.token_key: learned from the app's answer, then resolved.
	crowd := req("Cookie", CookieCrowdToken+"=ct-1")
	confirm(crowd, "carol")
	<-r.queue
	if id := idf.Identify(ctx, crowd); id.User != "carol" || id.Source != SourceCrowdToken {
		t.Fatalf("crowd token: %+v", id)
	}
	// The app sets a new one: learned; the app answers as nobody: forgotten.
	h := http.Header{"Set-Cookie": {CookieCrowdToken + "=ct-2; Path=/"}}
	idf.Learn(crowd, idf.Identify(ctx, crowd), h, "carol")
	if id := idf.Identify(ctx, req("Cookie", CookieCrowdToken+"=ct-2")); id.User != "carol" {
		t.Errorf("new crowd token not learned: %+v", id)
	}
	idf.Learn(crowd, idf.Identify(ctx, crowd), http.Header{}, "")
	if id := idf.Identify(ctx, crowd); id.User != "" {
		t.Errorf("a crowd token the app no longer accepts still names %q", id.User)
	}
}
