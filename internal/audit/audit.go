// Package audit records every grant, revoke, rollback and denial with its
// reason, in a bounded Redis stream, and exports it as CSV or JSON. Admins
// use it to answer "why did I lose my licence?" and to defend a licence
// audit.
package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/store"
)

// Actions.
const (
	Grant    = "grant"
	Revoke   = "revoke"
	Rollback = "rollback"
	Deny     = "deny"
)

// Event is one audited change (or decision, in observe mode).
type Event struct {
	Time    time.Time `json:"time"`
	Action  string    `json:"action"`
	User    string    `json:"user"`
	Pool    string    `json:"pool"`
	Groups  []string  `json:"groups"`
	Reason  string    `json:"reason"`  // e.g. ceiling, pressure, login, return, manual, bad-credentials
	Trigger string    `json:"trigger"` // e.g. the login route, "reaper", "admin-api"
	Replica string    `json:"replica"`
	Mode    string    `json:"mode"` // enforce | observe
	// Idle is how long the user had been idle (revocations).
	Idle time.Duration `json:"idle_seconds"`
	// Error is set when the change failed.
	Error string `json:"error,omitempty"`
	ID    string `json:"id,omitempty"`
}

// MarshalJSON writes Idle in seconds.
func (e Event) MarshalJSON() ([]byte, error) {
	type alias Event
	return json.Marshal(struct {
		alias
		Idle float64 `json:"idle_seconds"`
	}{alias(e), e.Idle.Seconds()})
}

// Store is the part of the Redis store the log needs.
type Store interface {
	AppendAudit(ctx context.Context, fields map[string]string, maxLen int64) (string, error)
	ReadAudit(ctx context.Context, since time.Time, limit int64) ([]store.AuditEntry, error)
	RecentAudit(ctx context.Context, n int64) ([]store.AuditEntry, error)
}

// Log writes audit events. Every event also goes to the process log, so
// that nothing is lost when Redis is down.
type Log struct {
	st      Store
	log     *slog.Logger
	maxLen  int64
	replica string
	mode    string
	clock   func() time.Time
}

// WithClock stamps events with clock instead of the wall clock.
func (l *Log) WithClock(clock func() time.Time) *Log {
	l.clock = clock
	return l
}

// New returns a Log keeping about maxLen events.
func New(st Store, log *slog.Logger, maxLen int64, replica, mode string) *Log {
	if maxLen <= 0 {
		maxLen = 100000
	}
	return &Log{st: st, log: log, maxLen: maxLen, replica: replica, mode: mode, clock: time.Now}
}

// Record stores e, filling time, replica and mode when unset.
func (l *Log) Record(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = l.clock()
	}
	if e.Replica == "" {
		e.Replica = l.replica
	}
	if e.Mode == "" {
		e.Mode = l.mode
	}
	l.log.Info("audit", "action", e.Action, "user", e.User, "pool", e.Pool, "groups", e.Groups,
		"reason", e.Reason, "trigger", e.Trigger, "mode", e.Mode, "idle", e.Idle, "error", e.Error)
	if _, err := l.st.AppendAudit(ctx, toFields(e), l.maxLen); err != nil {
		l.log.Error("audit event not stored in Redis (it is in this log)", "err", err)
	}
}

// Since returns events at or after since, oldest first (limit 0 = 10,000).
func (l *Log) Since(ctx context.Context, since time.Time, limit int64) ([]Event, error) {
	if limit <= 0 {
		limit = 10000
	}
	es, err := l.st.ReadAudit(ctx, since, limit)
	if err != nil {
		return nil, err
	}
	// Stream IDs are when an event was stored; the event's own time can be a
	// little earlier, so filter on it too.
	out := fromEntries(es)
	kept := out[:0]
	for _, e := range out {
		if !e.Time.Before(since) {
			kept = append(kept, e)
		}
	}
	return kept, nil
}

// Recent returns the newest n events, newest first.
func (l *Log) Recent(ctx context.Context, n int64) ([]Event, error) {
	es, err := l.st.RecentAudit(ctx, n)
	if err != nil {
		return nil, err
	}
	return fromEntries(es), nil
}

func toFields(e Event) map[string]string {
	f := map[string]string{
		"time":    e.Time.UTC().Format(time.RFC3339Nano),
		"action":  e.Action,
		"user":    e.User,
		"pool":    e.Pool,
		"groups":  strings.Join(e.Groups, ","),
		"reason":  e.Reason,
		"trigger": e.Trigger,
		"replica": e.Replica,
		"mode":    e.Mode,
		"idle":    fmt.Sprintf("%d", int64(e.Idle.Seconds())),
	}
	if e.Error != "" {
		f["error"] = e.Error
	}
	return f
}

func fromEntries(es []store.AuditEntry) []Event {
	out := make([]Event, 0, len(es))
	for _, en := range es {
		f := en.Fields
		t, _ := time.Parse(time.RFC3339Nano, f["time"])
		var idle int64
		fmt.Sscanf(f["idle"], "%d", &idle)
		var groups []string
		if f["groups"] != "" {
			groups = strings.Split(f["groups"], ",")
		}
		out = append(out, Event{
			ID: en.ID, Time: t, Action: f["action"], User: f["user"], Pool: f["pool"],
			Groups: groups, Reason: f["reason"], Trigger: f["trigger"], Replica: f["replica"],
			Mode: f["mode"], Idle: time.Duration(idle) * time.Second, Error: f["error"],
		})
	}
	return out
}

// CSVHeader is the column order of WriteCSV.
var CSVHeader = []string{"time", "action", "user", "pool", "groups", "reason", "trigger", "idle_seconds", "mode", "replica", "error"}

// WriteCSV writes events as CSV with a header row.
func WriteCSV(w io.Writer, events []Event) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVHeader)
	for _, e := range events {
		_ = cw.Write([]string{
			e.Time.UTC().Format(time.RFC3339), e.Action, e.User, e.Pool, strings.Join(e.Groups, " "),
			e.Reason, e.Trigger, fmt.Sprintf("%d", int64(e.Idle.Seconds())), e.Mode, e.Replica, e.Error,
		})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes events as a JSON array.
func WriteJSON(w io.Writer, events []Event) error {
	if events == nil {
		events = []Event{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(events)
}
