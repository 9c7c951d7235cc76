package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/keeper"
	"github.com/floatseat/floatseat/internal/reaper"
	"github.com/floatseat/floatseat/internal/seats"
	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/username"
)

// The read model reads Redis by concern; *store.Store is all three.
type (
	activityReader interface {
		ObservedSince(ctx context.Context) (time.Time, error)
		LastHeartbeat(ctx context.Context) (time.Time, error)
		LastActivity(ctx context.Context, users []string) (map[string]time.Time, error)
	}
	poolReader interface {
		PoolState(ctx context.Context, pool string) (seats, used, pending int, unlimited bool, reportedAt time.Time, err error)
		PendingRevocations(ctx context.Context, pool string) (int, error)
		RevokedUsers(ctx context.Context, pool string) (map[string]store.Revoked, error)
		RevokedCount(ctx context.Context, pool string) (int, error)
	}
	sampleReader interface {
		Samples(ctx context.Context, pool string, since time.Time) ([]store.Sample, error)
	}
)

// Store is what the read model reads from Redis.
type Store interface {
	activityReader
	poolReader
	sampleReader
}

// Directory is what the read model reads from the user directory.
type Directory interface {
	Members(ctx context.Context, group string, nested bool) ([]string, error)
	UserGroups(ctx context.Context, user string, nested bool) ([]string, error)
}

// Membership is the membership view the reaper judges by, with its one
// exclusion set; *membership.View is one.
type Membership interface {
	Ensure(ctx context.Context) error
	Members(groups ...string) (map[string]bool, bool)
	Excluded() map[string]bool
}

// Keeper grants and revokes seats by hand; *keeper.Keeper is one.
type Keeper interface {
	Grant(ctx context.Context, user, trigger string) (bool, error)
	Revoke(ctx context.Context, rq keeper.RevokeRequest) error
}

// Reaper reports its last run; *reaper.Reaper is one.
type Reaper interface {
	Report() (map[string]reaper.PoolReport, time.Time, error)
}

// AuditLog reads the audit stream; *audit.Log is one.
type AuditLog interface {
	Since(ctx context.Context, since time.Time, limit int64) ([]audit.Event, error)
	Recent(ctx context.Context, n int64) ([]audit.Event, error)
}

// Running is the configuration in force. The read model keeps no copy of
// its own but asks on every answer, so a reload (which swaps what Config
// returns) cannot leave the status and the App disagreeing.
type Running interface {
	Config() *config.Config
}

// ModelOptions are what the read model reads.
type ModelOptions struct {
	Running          Running
	Version, Replica string
	Store            Store
	Audit            AuditLog
	// Directory, Members, Keeper and Reaper are set together, or all nil
	// when no directory is configured (floatseat then only observes).
	// Members is the membership view the keeper and the reaper share: the
	// model lists users from the very view the reaper judges by.
	Directory Directory
	Members   Membership
	Keeper    Keeper
	Reaper    Reaper
	Clock     func() time.Time
	Log       *slog.Logger
}

// Model is the admin read model: status, users and their seats, from the
// membership view the reaper judges by and from Redis; and the
// manual grant and revoke. The API and the status page both read it.
type Model struct {
	running Running
	version string
	replica string
	store   Store
	audit   AuditLog
	seats   *seatParts // nil without a directory
	clock   func() time.Time
	log     *slog.Logger
}

type seatParts struct {
	dir     Directory
	members Membership
	keeper  Keeper
	reaper  Reaper
}

// ErrNoMembers: ModelOptions.Directory is set and Members is nil. The
// model lists users from the membership view the keeper and the reaper
// share; a view of its own would drift from the one the reaper judges by.
var ErrNoMembers = errors.New("admin: ModelOptions.Members (the shared membership view) is required with a Directory")

// NewModel returns the read model over o.
func NewModel(o ModelOptions) (*Model, error) {
	m := &Model{running: o.Running, version: o.Version, replica: o.Replica, store: o.Store, audit: o.Audit, clock: o.Clock, log: o.Log}
	if o.Directory != nil {
		if o.Members == nil {
			return nil, ErrNoMembers
		}
		m.seats = &seatParts{dir: o.Directory, members: o.Members, keeper: o.Keeper, reaper: o.Reaper}
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m, nil
}

// cfg is the configuration in force now.
func (a *Model) cfg() *config.Config { return a.running.Config() }

// HasSeats reports whether a directory is configured: without one there
// are no users to list and no seats to grant or revoke.
func (a *Model) HasSeats() bool { return a.seats != nil }

// PoolStatus is one pool in /api/v1/status.
type PoolStatus struct {
	Name               string     `json:"name"`
	Seats              int        `json:"seats"`
	Unlimited          bool       `json:"unlimited"`
	Used               int        `json:"used"`
	PendingGrants      int        `json:"pending_grants"`
	PendingRevocations int        `json:"pending_revocations"`
	Headroom           int        `json:"headroom"`
	Reserve            int        `json:"reserve"`
	LicenceReportedAt  *time.Time `json:"licence_reported_at,omitempty"`
	EffectiveWindowSec float64    `json:"effective_window_seconds"`
	Licensed           int        `json:"licensed"`
	Active             int        `json:"active"`
	Idle               int        `json:"idle"`
	Excluded           int        `json:"excluded"`
	RevokedByFloatseat int        `json:"revoked_by_floatseat"`
	// Observe is what observe mode simulated (mode observe only).
	Observe *ObserveStatus `json:"observe,omitempty"`
}

// ObserveStatus is observe mode's answer to "what would enforce do?".
type ObserveStatus struct {
	// WouldFree: seats enforce mode would have freed and not given back
	// yet (the virtual revoked set).
	WouldFree int `json:"would_free"`
	// PeakNeeded: the most seats enforce mode would have held at once
	// over the observed period.
	PeakNeeded int `json:"peak_needed"`
	// WouldDeny: requests that would have met the full page.
	WouldDeny int `json:"would_deny"`
}

// observeReader is the store's observe-mode figures; *store.Store is one.
type observeReader interface {
	ObserveFigures(ctx context.Context, pool string) (wouldFree, peakNeeded, wouldDeny int, err error)
}

// Status is /api/v1/status.
type Status struct {
	Version        string       `json:"version"`
	Product        string       `json:"product"`
	Mode           string       `json:"mode"`
	Replica        string       `json:"replica"`
	Directory      string       `json:"directory"`
	SessionTimeout float64      `json:"session_timeout_seconds"`
	MaxIdle        float64      `json:"max_idle_seconds"`
	ObservedSince  *time.Time   `json:"observed_since,omitempty"`
	LastHeartbeat  *time.Time   `json:"last_heartbeat,omitempty"`
	ReaperLastRun  *time.Time   `json:"reaper_last_run,omitempty"`
	ReaperError    string       `json:"reaper_error,omitempty"`
	Pools          []PoolStatus `json:"pools"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Status gathers what on-call needs at a glance.
func (a *Model) Status(ctx context.Context) (*Status, error) {
	// One configuration for the whole answer: a reload meanwhile must not
	// mix the old window with the new pools.
	cfg := a.cfg()
	st := &Status{Version: a.version, Product: cfg.Product, Mode: cfg.Mode, Replica: a.replica,
		Directory: cfg.Directory.Type, SessionTimeout: cfg.SessionTimeout.Seconds(), MaxIdle: cfg.MaxIdle.Seconds()}
	obs, err := a.store.ObservedSince(ctx)
	if err != nil {
		return nil, err
	}
	hb, _ := a.store.LastHeartbeat(ctx)
	st.ObservedSince, st.LastHeartbeat = tp(obs), tp(hb)
	var reports map[string]reaperReport
	if a.seats != nil {
		r, last, rerr := a.seats.reaper.Report()
		reports = map[string]reaperReport{}
		for k, v := range r {
			reports[k] = reaperReport{v.EffectiveWindow, v.Licensed, v.Active, v.Idle, v.Excluded}
		}
		st.ReaperLastRun = tp(last)
		if rerr != nil {
			st.ReaperError = rerr.Error()
		}
	}
	for _, p := range cfg.Pools {
		ps := PoolStatus{Name: p.Name, Reserve: p.Reserve, EffectiveWindowSec: cfg.MaxIdle.Seconds()}
		n, used, pending, unl, at, err := a.store.PoolState(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		pr, _ := a.store.PendingRevocations(ctx, p.Name)
		ps.Seats, ps.Used, ps.PendingGrants, ps.Unlimited, ps.LicenceReportedAt, ps.PendingRevocations = n, used, pending, unl, tp(at), pr
		ps.Headroom = seats.Headroom(seats.Pool{Seats: n, Used: used, PendingGrants: pending, Unlimited: unl})
		if rep, ok := reports[p.Name]; ok {
			ps.EffectiveWindowSec = rep.window.Seconds()
			ps.Licensed, ps.Active, ps.Idle, ps.Excluded = rep.licensed, rep.active, rep.idle, rep.excluded
		}
		if n, err := a.store.RevokedCount(ctx, p.Name); err == nil {
			ps.RevokedByFloatseat = n
		}
		if o, ok := a.store.(observeReader); ok && cfg.Mode == config.ModeObserve {
			if free, peak, deny, err := o.ObserveFigures(ctx, p.Name); err == nil {
				ps.Observe = &ObserveStatus{WouldFree: free, PeakNeeded: peak, WouldDeny: deny}
			}
		}
		st.Pools = append(st.Pools, ps)
	}
	return st, nil
}

type reaperReport struct {
	window                           time.Duration
	licensed, active, idle, excluded int
}

// Users lists licensed, excluded and revoked users from the membership
// view (the one the reaper judges by, with the same exclusion set) and
// Redis.
func (a *Model) Users(ctx context.Context, pool, state string) ([]UserInfo, error) {
	view := a.seats.members
	if err := view.Ensure(ctx); err != nil {
		if _, ok := view.Members(); !ok {
			return nil, err
		}
		a.log.Warn("membership refresh failed; listing the last view", "err", err)
	}
	excluded := view.Excluded()
	now := a.clock()
	// Users never seen are idle since the observation start (DESIGN §2.4).
	obs, err := a.store.ObservedSince(ctx)
	if err != nil {
		return nil, err
	}
	if obs.IsZero() {
		obs = now
	}
	var out []UserInfo
	for _, p := range a.cfg().Pools {
		if pool != "" && pool != p.Name {
			continue
		}
		members, _ := view.Members(p.LicenseGroups...)
		revoked, err := a.store.RevokedUsers(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(members)+len(revoked))
		for u := range members {
			names = append(names, u)
		}
		for u := range revoked {
			if !members[u] {
				names = append(names, u)
			}
		}
		last, err := a.store.LastActivity(ctx, names)
		if err != nil {
			return nil, err
		}
		for _, u := range names {
			ui := UserInfo{User: u, Pool: p.Name, State: "licensed", Groups: p.LicenseGroups}
			if t, ok := last[u]; ok {
				ui.LastActive = tp(t)
				ui.IdleSec = now.Sub(t).Seconds()
			} else {
				ui.IdleSec = now.Sub(obs).Seconds()
			}
			if r, ok := revoked[u]; ok && !members[u] {
				ui.State, ui.Groups, ui.RevokedAt, ui.Reason = "revoked", r.Groups, tp(r.At), r.Reason
			} else if excluded[u] {
				ui.State = "excluded"
			}
			if state == "" || state == ui.State {
				out = append(out, ui)
			}
		}
	}
	// Most idle first: who would go next.
	sort.Slice(out, func(i, j int) bool {
		if out[i].IdleSec != out[j].IdleSec {
			return out[i].IdleSec > out[j].IdleSec
		}
		return out[i].User < out[j].User
	})
	return out, nil
}

// UserDetail answers "who holds a seat and why did Alice lose hers".
type UserDetail struct {
	User       string        `json:"user"`
	LastActive *time.Time    `json:"last_active,omitempty"`
	IdleSec    float64       `json:"idle_seconds"`
	Groups     []string      `json:"groups"`
	Pools      []UserInfo    `json:"pools"`
	Events     []audit.Event `json:"events"`
}

// User answers for one user: groups, last activity, seats and events.
func (a *Model) User(ctx context.Context, name string) (*UserDetail, error) {
	u := username.Normalize(name)
	groups, err := a.seats.dir.UserGroups(ctx, u, false)
	if errors.Is(err, directory.ErrUserNotFound) {
		return nil, fmt.Errorf("%w: user %s is not in the directory", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	d := &UserDetail{User: u, Groups: groups}
	last, err := a.store.LastActivity(ctx, []string{u})
	if err != nil {
		return nil, err
	}
	if t, ok := last[u]; ok {
		d.LastActive, d.IdleSec = tp(t), a.clock().Sub(t).Seconds()
	}
	all, err := a.Users(ctx, "", "")
	if err != nil {
		return nil, err
	}
	for _, ui := range all {
		if ui.User == u {
			d.Pools = append(d.Pools, ui)
		}
	}
	recent, err := a.audit.Recent(ctx, 2000)
	if err != nil {
		return nil, err
	}
	for _, e := range recent {
		if strings.EqualFold(e.User, u) {
			d.Events = append(d.Events, e)
		}
	}
	return d, nil
}

// Grant gives user a seat back by hand (floatseat grant).
func (a *Model) Grant(ctx context.Context, user string) (any, error) {
	ok, err := a.seats.keeper.Grant(ctx, user, "admin-api")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConflict, err)
	}
	res := map[string]any{"user": user, "granted": ok}
	if !ok {
		res["note"] = "floatseat holds nothing to give back: the user was not revoked by floatseat and is in no pool group without a seat"
	}
	return res, nil
}

// Revoke takes user's seat in pool (every pool if empty) by hand.
func (a *Model) Revoke(ctx context.Context, user, pool string) (any, error) {
	u := username.Normalize(user)
	var done, skipped []string
	for _, p := range a.cfg().Pools {
		if pool != "" && p.Name != pool {
			continue
		}
		err := a.seats.keeper.Revoke(ctx, keeper.RevokeRequest{Pool: p.Name, User: u, Reason: "manual", Trigger: "admin-api"})
		switch {
		case err == nil:
			done = append(done, p.Name)
		case errors.Is(err, keeper.ErrNotLicensed):
			skipped = append(skipped, p.Name)
		case errors.Is(err, keeper.ErrActive):
			return nil, fmt.Errorf("%w: %v", ErrConflict, err)
		default:
			return nil, err
		}
	}
	if len(done) == 0 {
		return nil, fmt.Errorf("%w: %s holds no licence group directly in %v", ErrConflict, u, skipped)
	}
	return map[string]any{"user": u, "revoked_from": done, "mode": a.cfg().Mode}, nil
}
