package replay

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/accesslog"
)

// merge runs the pipeline's merge over files and returns its events.
func merge(files ...string) []event {
	var readers []*accesslog.Reader
	for i, f := range files {
		readers = append(readers, accesslog.NewReader(fmt.Sprint(i), strings.NewReader(f), accesslog.Auto))
	}
	m := (&engine{}).sources(readers, -1<<62, 1<<62)
	var out []event
	for {
		ev, ok := m.next()
		if !ok {
			return out
		}
		out = append(out, *ev)
	}
}

func accessLine(user string, at time.Time) string {
	return `10.0.0.1 1x1x1 ` + user + ` [` + at.Format("02/Jan/2006:15:04:05 -0700") + `] "GET /browse/A-1 HTTP/1.1" 200 1 1 "-" "-" "-"` + "\n"
}

// TestMergeOrdersFilesByTime: files given in any order (a later day first)
// and from several nodes (another zone) come out merged by time, as
// docs/replay.md promises.
func TestMergeOrdersFilesByTime(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("02/Jan/2006:15:04:05 -0700", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	day2 := accessLine("b", at("02/Mar/2026:09:00:00 +0000")) + accessLine("b", at("02/Mar/2026:10:00:00 +0000"))
	day1 := accessLine("a", at("01/Mar/2026:09:00:00 +0000")) + accessLine("a", at("01/Mar/2026:17:00:00 +0000"))
	node2 := accessLine("c", at("01/Mar/2026:12:00:00 +0100")) + accessLine("c", at("02/Mar/2026:10:30:00 +0100"))
	var got []string
	for _, ev := range merge(day2, day1, node2) {
		got = append(got, ev.name)
	}
	// a 09:00Z, c 11:00Z, a 17:00Z on day 1; b 09:00Z, c 09:30Z, b 10:00Z on day 2.
	if strings.Join(got, "") != "acabcb" {
		t.Fatalf("merged order %v, want a c a b c b", got)
	}
}

// TestMergeAcrossBatches: files longer than a batch interleave line by
// line, so the merge must move from batch to batch inside each file.
func TestMergeAcrossBatches(t *testing.T) {
	const perFile = 2*batchSize + 7
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	files := make([]string, 3)
	for k := range files {
		var b strings.Builder
		for i := range perFile {
			b.WriteString(accessLine(fmt.Sprintf("u%d", k), t0.Add(time.Duration(3*i+k)*time.Second)))
		}
		files[k] = b.String()
	}
	evs := merge(files[2], files[0], files[1])
	if len(evs) != 3*perFile {
		t.Fatalf("got %d events, want %d", len(evs), 3*perFile)
	}
	for i, ev := range evs {
		if want := t0.Unix() + int64(i); ev.at != want || ev.name != fmt.Sprintf("u%d", i%3) {
			t.Fatalf("event %d: %s at %d, want u%d at %d", i, ev.name, ev.at, i%3, want)
		}
	}
}
