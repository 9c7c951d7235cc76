package identity

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/store"
)

// batchStore takes mappings in batches; the first fails calls fail.
type batchStore struct {
	fakeStore
	mu      sync.Mutex
	fails   int
	batches int
	written map[string]string
}

func (b *batchStore) WriteUsers(_ context.Context, ms []store.UserMapping) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fails > 0 {
		b.fails--
		return errors.New("redis: connection reset")
	}
	b.batches++
	for _, m := range ms {
		b.written[m.Key] = m.User
	}
	return nil
}

func (b *batchStore) count() (int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.written), b.batches
}

// TestLearnedMappingsArePipelinedAndRetried: thousands of new sessions
// reach Redis in a few pipelines, and a failed pipeline is retried, not
// lost.
func TestLearnedMappingsArePipelinedAndRetried(t *testing.T) {
	st := &batchStore{fakeStore: fakeStore{m: map[string]string{}}, fails: 2, written: map[string]string{}}
	r := newResolver(st)
	const n = 3000
	for i := 0; i < n; i++ {
		r.Learn(KindSession, "s"+strconv.Itoa(i), "user"+strconv.Itoa(i))
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if w, _ := st.count(); w == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	w, batches := st.count()
	if w != n {
		t.Fatalf("%d of %d mappings reached the store after two failed pipelines", w, n)
	}
	if batches > n/maxWriteBatch+2 {
		t.Errorf("%d pipelines for %d mappings, want about %d", batches, n, n/maxWriteBatch+1)
	}
	st.fakeStore.mu.Lock()
	defer st.fakeStore.mu.Unlock()
	if len(st.fakeStore.m) != 0 {
		t.Errorf("%d single SETs, want every mapping in a pipeline", len(st.fakeStore.m))
	}
}
