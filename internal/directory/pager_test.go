package directory

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// pager serves pages of 2 members; the first attempt at hangPage hangs
// until its deadline.
type pager struct {
	scripted
	mu       sync.Mutex
	pages    int
	hangPage int
	hung     bool
	calls    map[string]int // cursor → attempts
}

func (p *pager) MembersPage(ctx context.Context, _ string, _ bool, cursor string) ([]string, string, error) {
	p.mu.Lock()
	p.calls[cursor]++
	n, _ := strconv.Atoi(cursor)
	hang := n == p.hangPage && !p.hung
	if hang {
		p.hung = true
	}
	p.mu.Unlock()
	if hang {
		<-ctx.Done() // a page that never answers: its own deadline ends it
		return nil, "", ctx.Err()
	}
	ms := []string{"u" + strconv.Itoa(2*n), "u" + strconv.Itoa(2*n+1)}
	if n == p.pages-1 {
		return ms, "", nil
	}
	return ms, strconv.Itoa(n + 1), nil
}

// TestListingPagesUnderTheirOwnDeadlineAndResumes: a page that times out
// is retried where the listing stopped, not from page one, and the pages
// after it run under fresh deadlines; members_page counts every page
// (retries included), members the listing.
func TestListingPagesUnderTheirOwnDeadlineAndResumes(t *testing.T) {
	p := &pager{pages: 5, hangPage: 3, calls: map[string]int{}}
	m := NewMetrics(prometheus.NewRegistry())
	d := Instrument("test", p, m, Options{Timeout: 20 * time.Millisecond,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	ms, err := d.Members(t.Context(), "g", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 10 || ms[0] != "u0" || ms[9] != "u9" {
		t.Errorf("members: %v, want u0..u9 in order", ms)
	}
	for cursor, want := range map[string]int{"": 1, "1": 1, "2": 1, "3": 2, "4": 1} {
		if p.calls[cursor] != want {
			t.Errorf("page %q: %d attempts, want %d (resume, not restart)", cursor, p.calls[cursor], want)
		}
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("test", "members_page", "ok")); got != 5 {
		t.Errorf("members_page ok: %v, want 5", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("test", "members", "ok")); got != 1 {
		t.Errorf("members: %v, want one listing", got)
	}
}

// TestAllPages: the one paging loop reads pages in order until the last,
// returns a page's error as it is, and stops a listing whose cursor does
// not advance or that never ends.
func TestAllPages(t *testing.T) {
	pages := func(n int) PageFunc {
		return func(_ context.Context, cursor string) ([]string, string, error) {
			i, err := Offset(cursor)
			if err != nil {
				return nil, "", err
			}
			return []string{"u" + strconv.Itoa(i)}, NextOffset(i, 1, i == n-1), nil
		}
	}
	got, err := AllPages(t.Context(), "g", pages(3))
	if err != nil || len(got) != 3 || got[0] != "u0" || got[2] != "u2" {
		t.Errorf("three pages: got %v %v, want u0 u1 u2", got, err)
	}
	failed := errors.New("page 1 failed")
	_, err = AllPages(t.Context(), "g", func(ctx context.Context, cursor string) ([]string, string, error) {
		if cursor == "1" {
			return nil, "", failed
		}
		return pages(3)(ctx, cursor)
	})
	if err != failed {
		t.Errorf("a failed page: got %v, want its error as it is", err)
	}
	_, err = AllPages(t.Context(), "g", func(context.Context, string) ([]string, string, error) {
		return []string{"u"}, "7", nil
	})
	if err == nil || !strings.Contains(err.Error(), "does not advance") {
		t.Errorf("a cursor that does not advance: got %v", err)
	}
	calls := 0
	_, err = AllPages(t.Context(), "g", func(context.Context, string) ([]string, string, error) {
		calls++
		return nil, strconv.Itoa(calls), nil
	})
	if err == nil || !strings.Contains(err.Error(), "giving up") || calls != MaxPages {
		t.Errorf("a listing that never ends: got %v after %d pages, want giving up after %d", err, calls, MaxPages)
	}
	if _, err := Offset("-1"); err == nil {
		t.Error(`Offset("-1"): no error`)
	}
}

// connPager reports three requests, the first of which timed out, and
// remembers whether its context had a deadline. Its first unreached calls
// fail without asking anything, as a backend that cannot connect does.
type connPager struct {
	scripted
	calls       int
	unreached   int
	hadDeadline bool
	err         error
}

func (p *connPager) MembersPaged(ctx context.Context, _ string, _ bool, page func(error, time.Duration)) ([]string, error) {
	p.calls++
	_, p.hadDeadline = ctx.Deadline()
	if p.calls <= p.unreached {
		return nil, ErrUnavailable
	}
	page(ErrUnavailable, time.Millisecond) // a page that timed out, retried by the backend
	page(nil, time.Millisecond)
	page(nil, time.Millisecond)
	if p.err != nil {
		return nil, p.err
	}
	return []string{"u1", "u2"}, nil
}

// TestConnPagerListsOnceUnderTheCallersContext: a backend that pages on
// one connection (LDAP) is called once per listing with the caller's
// context and no deadline of Instrument's over the whole listing (it
// bounds each request itself), is not restarted by Instrument when it
// gives up after asking the server something, is retried when it never
// reached the server, and has every request it reports counted as a
// members_page.
func TestConnPagerListsOnceUnderTheCallersContext(t *testing.T) {
	p := &connPager{}
	m := NewMetrics(prometheus.NewRegistry())
	d := Instrument("ldap", p, m, Options{Timeout: 20 * time.Millisecond, Sleep: func(context.Context, time.Duration) error { return nil }})
	ms, err := d.Members(t.Context(), "g", true)
	if err != nil || len(ms) != 2 {
		t.Fatalf("members: %v %v, want u1 u2", ms, err)
	}
	if p.calls != 1 || p.hadDeadline {
		t.Errorf("listing: %d calls, deadline %v; want 1 call under the caller's context (no deadline)", p.calls, p.hadDeadline)
	}
	for res, want := range map[string]float64{"ok": 2, "unavailable": 1} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues("ldap", "members_page", res)); got != want {
			t.Errorf("members_page %s: %v, want %v", res, got, want)
		}
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("ldap", "members", "ok")); got != 1 {
		t.Errorf("members ok: %v, want one listing", got)
	}
	p.err = ErrUnavailable
	if _, err := d.Members(t.Context(), "g", true); !errors.Is(err, ErrUnavailable) || p.calls != 2 {
		t.Errorf("a listing the backend gave up on: %v after %d calls in all, want ErrUnavailable after 2 (no restart on top)", err, p.calls)
	}
	p = &connPager{unreached: 2}
	d = Instrument("ldap", p, m, Options{Sleep: func(context.Context, time.Duration) error { return nil }})
	if ms, err := d.Members(t.Context(), "g", true); err != nil || len(ms) != 2 || p.calls != 3 {
		t.Errorf("a listing that twice could not reach the server: %v %v after %d calls, want it retried like any call (3)", ms, err, p.calls)
	}
}
