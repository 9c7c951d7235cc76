package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/store/storetest"
)

func newLog(t *testing.T, maxLen int64) *Log {
	st, _ := storetest.New(t, "floatseat:test")
	return New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), maxLen, "replica-1", "enforce")
}

func TestRecordAndExport(t *testing.T) {
	l := newLog(t, 100)
	ctx := t.Context()
	// Events in the recent past: stream IDs are storage times (now).
	t0 := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	l.Record(ctx, Event{Time: t0, Action: Revoke, User: "alice", Pool: "jira-software",
		Groups: []string{"jira-software-users"}, Reason: "ceiling", Trigger: "reaper", Idle: 170 * time.Hour})
	l.Record(ctx, Event{Time: t0.Add(time.Hour), Action: Grant, User: "alice", Pool: "jira-software",
		Groups: []string{"jira-software-users"}, Reason: "login", Trigger: "/login.jsp"})

	all, err := l.Since(ctx, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Action != Revoke || all[1].Action != Grant {
		t.Fatalf("got %+v, want revoke then grant", all)
	}
	if all[0].Replica != "replica-1" || all[0].Mode != "enforce" || all[0].Idle != 170*time.Hour {
		t.Errorf("got %+v, want replica, mode and idle filled in", all[0])
	}
	later, _ := l.Since(ctx, t0.Add(30*time.Minute), 0)
	if len(later) != 1 || later[0].Action != Grant {
		t.Errorf("Since(t0+30m): got %+v, want only the grant", later)
	}

	var buf bytes.Buffer
	if err := WriteCSV(&buf, all); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[1][2] != "alice" || rows[1][5] != "ceiling" || rows[1][7] != "612000" {
		t.Errorf("CSV rows: got %q", rows)
	}
	buf.Reset()
	if err := WriteJSON(&buf, all); err != nil {
		t.Fatal(err)
	}
	var js []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if js[0]["idle_seconds"].(float64) != 612000 || js[1]["reason"] != "login" {
		t.Errorf("JSON: got %v", js)
	}
}

func TestStreamIsBounded(t *testing.T) {
	l := newLog(t, 10)
	for i := 0; i < 500; i++ {
		l.Record(t.Context(), Event{Action: Deny, User: "u", Pool: "p", Reason: "full"})
	}
	all, _ := l.Since(t.Context(), time.Time{}, 0)
	// MAXLEN ~ trims in whole macro-nodes: near, not exactly, the bound.
	if len(all) >= 500 {
		t.Errorf("got %d events kept, want the stream trimmed near 10", len(all))
	}
	recent, _ := l.Recent(t.Context(), 3)
	if len(recent) != 3 {
		t.Errorf("Recent(3): got %d", len(recent))
	}
}
