package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"log/slog"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/floatseat/floatseat/internal/store"
)

// Kind of learned credential.
type Kind byte

// Kinds.
const (
	KindSession    Kind = 's'
	KindRememberMe Kind = 'r'
	KindBearer     Kind = 'b'
	KindCrowdToken Kind = 'c' // crowd.token_key: Crowd SSO across apps
)

// MapKey is the HMAC of a credential: what the LRU and Redis are keyed by.
type MapKey [16]byte

// String is the hex form used as a Redis key.
func (k MapKey) String() string { return hex.EncodeToString(k[:]) }

// Hasher computes MapKeys with a secret key shared by every replica.
//
// Its free list is a buffered channel, not a sync.Pool: the race detector
// makes sync.Pool drop a quarter of what is put back, and each miss costs
// the half-dozen allocations of a new HMAC state, so the request path's
// allocation count (which a test pins) would depend on chance.
type Hasher struct {
	free chan *hstate
	newS func() *hstate
}

type hstate struct {
	h   hash.Hash
	buf []byte
	out [sha256.Size]byte
}

// NewHasher returns a Hasher for key (at least 32 bytes recommended).
func NewHasher(key []byte) *Hasher {
	k := append([]byte(nil), key...)
	return &Hasher{
		free: make(chan *hstate, 64),
		newS: func() *hstate { return &hstate{h: hmac.New(sha256.New, k), buf: make([]byte, 0, 128)} },
	}
}

// Key returns the HMAC of kind and secret. Pooled state keeps it free of
// allocations.
func (h *Hasher) Key(kind Kind, secret string) MapKey {
	var st *hstate
	select {
	case st = <-h.free:
	default:
		st = h.newS()
	}
	st.h.Reset()
	st.buf = append(st.buf[:0], byte(kind))
	st.buf = append(st.buf, secret...)
	st.h.Write(st.buf)
	sum := st.h.Sum(st.out[:0])
	var k MapKey
	copy(k[:], sum)
	clear(st.buf) // no secret lingers in the free list
	select {
	case h.free <- st:
	default: // full: let the GC have it
	}
	return k
}

// MappingStore shares learned mappings between replicas (Redis). A missing
// key is ("", nil).
type MappingStore interface {
	GetUser(ctx context.Context, key string) (string, error)
	SetUser(ctx context.Context, key, user string, ttl time.Duration) error
	DeleteUser(ctx context.Context, key string) error
}

// BatchMappingStore writes many mappings in one round trip; the Resolver
// uses it when its MappingStore is one (*store.Store is).
type BatchMappingStore interface {
	WriteUsers(ctx context.Context, ms []store.UserMapping) error
}

// ResolverOptions configure a Resolver.
type ResolverOptions struct {
	CacheSize     int
	SessionTTL    time.Duration
	RememberMeTTL time.Duration
	TokenTTL      time.Duration
	LookupTimeout time.Duration // bound on a Redis lookup before forwarding
	NegativeTTL   time.Duration // how long "nobody known" is cached (default 30s)
	QueueSize     int           // pending Redis writes (default 65536)
	Clock         func() time.Time
}

// Resolver maps hashed credentials to users.
type Resolver struct {
	h     *Hasher
	store MappingStore
	opt   ResolverOptions
	cache *lru.Cache[MapKey, entry]
	queue chan store.UserMapping
	log   *slog.Logger
	// storeDownUntil skips Redis lookups for a second after an error, so
	// an outage costs one timeout a second, not one per request.
	storeDownUntil atomic.Int64

	lookups *prometheus.CounterVec
	dropped prometheus.Counter
	failed  prometheus.Counter
}

type entry struct {
	user     string
	negUntil int64 // unix nanoseconds; set for "nobody known"
	// shared is when the mapping was last written to Redis (unix
	// nanoseconds); 0 when it came from Redis with an unknown remaining
	// TTL. A confirmation past half the TTL writes it again.
	shared int64
}

// NewResolver builds a Resolver; call Run to write learned mappings.
func NewResolver(h *Hasher, st MappingStore, opt ResolverOptions, reg prometheus.Registerer, log *slog.Logger) *Resolver {
	if opt.CacheSize <= 0 {
		opt.CacheSize = 100000
	}
	if opt.NegativeTTL <= 0 {
		opt.NegativeTTL = 30 * time.Second
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = 65536
	}
	if opt.LookupTimeout <= 0 {
		opt.LookupTimeout = 50 * time.Millisecond
	}
	c, _ := lru.New[MapKey, entry](opt.CacheSize)
	f := promauto.With(reg)
	return &Resolver{
		h: h, store: st, opt: opt, cache: c, log: log,
		queue: make(chan store.UserMapping, opt.QueueSize),
		lookups: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floatseat", Name: "identity_lookups_total",
			Help: "Identity lookups of learned credentials by where the answer came from: cache, redis, unknown, error.",
		}, []string{"result"}),
		dropped: f.NewCounter(prometheus.CounterOpts{
			Namespace: "floatseat", Name: "identity_writes_dropped_total",
			Help: "Learned identity mappings not shared through Redis because the queue was full.",
		}),
		failed: f.NewCounter(prometheus.CounterOpts{
			Namespace: "floatseat", Name: "identity_writes_failed_total",
			Help: "Learned identity mappings not shared through Redis because the write failed three times.",
		}),
	}
}

// Lookup resolves the user of a request's credentials: session first, then
// remember-me, then the Crowd SSO token, then Bearer token.
func (r *Resolver) Lookup(ctx context.Context, c Credentials) (string, Source) {
	u, src, _ := r.LookupStale(ctx, c)
	return u, src
}

// LookupStale is Lookup that also says whether the mapping is due to be
// shared again (past half its TTL): the app's next confirmation should be
// passed to Learn, which renews it.
func (r *Resolver) LookupStale(ctx context.Context, c Credentials) (string, Source, bool) {
	if c.Session != "" {
		if u, stale := r.lookup(ctx, KindSession, c.Session); u != "" {
			return u, SourceSession, stale
		}
	}
	if c.RememberMe != "" {
		if u, stale := r.lookup(ctx, KindRememberMe, c.RememberMe); u != "" {
			return u, SourceRememberMe, stale
		}
	}
	if c.CrowdToken != "" {
		if u, stale := r.lookup(ctx, KindCrowdToken, c.CrowdToken); u != "" {
			return u, SourceCrowdToken, stale
		}
	}
	if c.Bearer != "" {
		if u, stale := r.lookup(ctx, KindBearer, c.Bearer); u != "" {
			return u, SourceBearer, stale
		}
	}
	return "", SourceNone, false
}

func (r *Resolver) stale(kind Kind, e entry, now int64) bool {
	return now-e.shared > int64(r.ttl(kind))/2
}

func (r *Resolver) lookup(ctx context.Context, kind Kind, secret string) (string, bool) {
	k := r.h.Key(kind, secret)
	now := r.now()
	if e, ok := r.cache.Get(k); ok {
		if e.negUntil == 0 {
			r.lookups.WithLabelValues("cache").Inc()
			return e.user, r.stale(kind, e, now)
		}
		if now < e.negUntil {
			r.lookups.WithLabelValues("unknown").Inc()
			return "", false
		}
	}
	if now < r.storeDownUntil.Load() {
		r.lookups.WithLabelValues("error").Inc()
		return "", false
	}
	lctx, cancel := context.WithTimeout(ctx, r.opt.LookupTimeout)
	u, err := r.store.GetUser(lctx, k.String())
	cancel()
	if err != nil {
		r.storeDownUntil.Store(now + int64(time.Second))
		r.lookups.WithLabelValues("error").Inc()
		return "", false
	}
	if u == "" {
		r.cache.Add(k, entry{negUntil: now + int64(r.opt.NegativeTTL)})
		r.lookups.WithLabelValues("unknown").Inc()
		return "", false
	}
	r.cache.Add(k, entry{user: u}) // shared 0: its remaining TTL is unknown
	r.lookups.WithLabelValues("redis").Inc()
	return u, true
}

// Learn records that the credential now belongs to user ("" forgets it).
func (r *Resolver) Learn(kind Kind, secret, user string) {
	if secret == "" {
		return
	}
	k := r.h.Key(kind, secret)
	if user == "" {
		if _, ok := r.cache.Peek(k); ok {
			r.cache.Add(k, entry{negUntil: r.now() + int64(r.opt.NegativeTTL)})
			r.enqueue(store.UserMapping{Key: k.String()})
		}
		return
	}
	now := r.now()
	if e, ok := r.cache.Peek(k); ok && e.negUntil == 0 && e.user == user && !r.stale(kind, e, now) {
		return
	}
	// New, changed, or confirmed again past half its TTL: (re)share it
	// with a full TTL, so a credential in use never expires.
	r.cache.Add(k, entry{user: user, shared: now})
	r.enqueue(store.UserMapping{Key: k.String(), User: user, TTL: r.ttl(kind)})
}

func (r *Resolver) now() int64 {
	if r.opt.Clock != nil {
		return r.opt.Clock().UnixNano()
	}
	return time.Now().UnixNano()
}

func (r *Resolver) ttl(kind Kind) time.Duration {
	switch kind {
	case KindRememberMe:
		return r.opt.RememberMeTTL
	case KindBearer, KindCrowdToken:
		return r.opt.TokenTTL
	}
	return r.opt.SessionTTL
}

func (r *Resolver) enqueue(w store.UserMapping) {
	select {
	case r.queue <- w:
	default:
		r.dropped.Inc()
	}
}

// maxWriteBatch bounds one pipeline of learned mappings.
const maxWriteBatch = 512

// Run shares learned mappings through Redis until ctx ends: whatever is
// queued goes in one pipeline (up to maxWriteBatch), and a failed batch is
// retried twice with backoff before it is counted as failed.
func (r *Resolver) Run(ctx context.Context) error {
	batch := make([]store.UserMapping, 0, maxWriteBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case w := <-r.queue:
			batch = append(batch[:0], w)
		}
	fill:
		for len(batch) < maxWriteBatch {
			select {
			case w := <-r.queue:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		r.write(ctx, batch)
	}
}

func (r *Resolver) write(ctx context.Context, batch []store.UserMapping) {
	for attempt := 0; ; attempt++ {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := r.writeBatch(wctx, batch)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		if attempt == 2 {
			r.failed.Add(float64(len(batch)))
			r.log.Debug("identity mappings not shared", "count", len(batch), "err", err)
			return
		}
		t := time.NewTimer(100 * time.Millisecond << attempt)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (r *Resolver) writeBatch(ctx context.Context, batch []store.UserMapping) error {
	if b, ok := r.store.(BatchMappingStore); ok {
		return b.WriteUsers(ctx, batch)
	}
	for _, w := range batch {
		var err error
		if w.User == "" {
			err = r.store.DeleteUser(ctx, w.Key)
		} else {
			err = r.store.SetUser(ctx, w.Key, w.User, w.TTL)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
