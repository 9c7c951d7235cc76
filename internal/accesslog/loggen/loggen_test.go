package loggen

import (
	"bytes"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/accesslog"
)

func TestDayIsDeterministicParsesAndLooksLikeWork(t *testing.T) {
	opt := Options{Users: 25, Days: 7, Seed: 7}
	for _, f := range []accesslog.Format{accesslog.Jira, accesslog.Confluence, accesslog.ConfluenceDocker, accesslog.Nginx} {
		opt.Format = f
		var a, b bytes.Buffer
		st, err := Day(opt, 0, &a) // Monday 2 March 2026
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Day(opt, 0, &b); err != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("%s: two runs differ", f)
		}
		r := accesslog.NewReader("day0", bytes.NewReader(a.Bytes()), accesslog.Auto)
		users := map[string]bool{}
		last := int64(0)
		n := int64(0)
		for r.Next() {
			e := r.Entry()
			n++
			if e.At < last {
				t.Fatalf("%s: line %d out of order", f, n)
			}
			last = e.At
			if len(e.User) > 0 {
				users[string(e.User)] = true
			}
		}
		if r.Format() != f || r.Skipped() != 0 || n != st.Lines {
			t.Fatalf("%s: detected %s, %d skipped, %d read of %d", f, r.Format(), r.Skipped(), n, st.Lines)
		}
		if st.Activity == 0 || st.Noise <= st.Activity || st.Anonymous < 2880 || len(users) < 10 || len(users) > 25 {
			t.Fatalf("%s: implausible day: %+v, %d users", f, st, len(users))
		}
	}
	var sat bytes.Buffer
	opt.Format = accesslog.Jira
	st, _ := Day(opt, 5, &sat)
	var mon bytes.Buffer
	stMon, _ := Day(opt, 0, &mon)
	if st.Activity*5 > stMon.Activity {
		t.Fatalf("a Saturday (%d work requests) is not quieter than a Monday (%d)", st.Activity, stMon.Activity)
	}
	if FileName(opt, 5) != "access_log.2026-03-07" || time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC).Weekday() != time.Saturday {
		t.Fatalf("file name %s", FileName(opt, 5))
	}
}
