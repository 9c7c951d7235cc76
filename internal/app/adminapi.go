package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/activity"
	"github.com/floatseat/floatseat/internal/admin"
	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/keeper"
	"github.com/floatseat/floatseat/internal/seats"
)

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

func (a *App) mountAPI() {
	api := &admin.API{
		Token: a.cfg.Admin.Token.Reveal(),
		Status: func(ctx context.Context) (any, error) {
			return a.Status(ctx)
		},
		Audit: func(ctx context.Context, since time.Time, limit int64) ([]audit.Event, error) {
			return a.audit.Since(ctx, since, limit)
		},
		Reload: func() error {
			cfg, _, errs := config.Load(a.cfg.Path)
			if len(errs) > 0 {
				return errors.Join(errs...)
			}
			return a.Reload(cfg)
		},
		Noise: a.noise.explain,
	}
	if a.seats != nil {
		api.Users = a.users
		api.User = func(ctx context.Context, name string) (any, error) { return a.user(ctx, name) }
		api.Grant = func(ctx context.Context, user string) (any, error) {
			ok, err := a.seats.keeper.Grant(ctx, user, "admin-api")
			if err != nil {
				return nil, fmt.Errorf("%w: %v", admin.ErrConflict, err)
			}
			res := map[string]any{"user": user, "granted": ok}
			if !ok {
				res["note"] = "floatseat holds nothing to give back: the user was not revoked by floatseat and is in no pool group without a seat"
			}
			return res, nil
		}
		api.Revoke = func(ctx context.Context, user, pool string) (any, error) { return a.revoke(ctx, user, pool) }
	}
	api.Mount(a.admin.Router())
	a.mountStatusPage()
}

// Status gathers what on-call needs at a glance.
func (a *App) Status(ctx context.Context) (*Status, error) {
	st := &Status{Version: Version, Product: a.cfg.Product, Mode: a.cfg.Mode, Replica: a.replica,
		Directory: a.cfg.Directory.Type, SessionTimeout: a.cfg.SessionTimeout.Seconds(), MaxIdle: a.cfg.MaxIdle.Seconds()}
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
	for _, p := range a.cfg.Pools {
		ps := PoolStatus{Name: p.Name, Reserve: p.Reserve, EffectiveWindowSec: a.cfg.MaxIdle.Seconds()}
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
		if recs, err := a.store.RevokedUsers(ctx, p.Name); err == nil {
			ps.RevokedByFloatseat = len(recs)
		}
		st.Pools = append(st.Pools, ps)
	}
	return st, nil
}

type reaperReport struct {
	window                           time.Duration
	licensed, active, idle, excluded int
}

// users lists licensed, excluded and revoked users, live from the
// directory and Redis, so every replica answers the same.
func (a *App) users(ctx context.Context, pool, state string) ([]admin.UserInfo, error) {
	excluded, err := a.excluded(ctx)
	if err != nil {
		return nil, err
	}
	now := a.clock()
	// Users never seen are idle since the observation start (DESIGN §2.4).
	obs, err := a.store.ObservedSince(ctx)
	if err != nil {
		return nil, err
	}
	if obs.IsZero() {
		obs = now
	}
	var out []admin.UserInfo
	for _, p := range a.cfg.Pools {
		if pool != "" && pool != p.Name {
			continue
		}
		members := map[string]bool{}
		for _, g := range p.LicenseGroups {
			ms, err := a.seats.dir.Members(ctx, g, true)
			if err != nil && !errors.Is(err, directory.ErrGroupNotFound) {
				return nil, err
			}
			for _, m := range ms {
				members[activity.Normalize(m)] = true
			}
		}
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
			ui := admin.UserInfo{User: u, Pool: p.Name, State: "licensed", Groups: p.LicenseGroups}
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

func (a *App) excluded(ctx context.Context) (map[string]bool, error) {
	m := map[string]bool{}
	for _, g := range a.cfg.Exclude.Groups {
		ms, err := a.seats.dir.Members(ctx, g, true)
		if err != nil && !errors.Is(err, directory.ErrGroupNotFound) {
			return nil, err
		}
		for _, u := range ms {
			m[activity.Normalize(u)] = true
		}
	}
	for _, u := range a.cfg.Exclude.Users {
		m[activity.Normalize(u)] = true
	}
	return m, nil
}

// UserDetail answers "who holds a seat and why did Alice lose hers".
type UserDetail struct {
	User       string           `json:"user"`
	LastActive *time.Time       `json:"last_active,omitempty"`
	IdleSec    float64          `json:"idle_seconds"`
	Groups     []string         `json:"groups"`
	Pools      []admin.UserInfo `json:"pools"`
	Events     []audit.Event    `json:"events"`
}

func (a *App) user(ctx context.Context, name string) (*UserDetail, error) {
	u := activity.Normalize(name)
	groups, err := a.seats.dir.UserGroups(ctx, u, false)
	if errors.Is(err, directory.ErrUserNotFound) {
		return nil, fmt.Errorf("%w: user %s is not in the directory", admin.ErrNotFound, name)
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
	all, err := a.users(ctx, "", "")
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

func (a *App) revoke(ctx context.Context, user, pool string) (any, error) {
	u := activity.Normalize(user)
	var done, skipped []string
	for _, p := range a.cfg.Pools {
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
			return nil, fmt.Errorf("%w: %v", admin.ErrConflict, err)
		default:
			return nil, err
		}
	}
	if len(done) == 0 {
		return nil, fmt.Errorf("%w: %s holds no licence group directly in %v", admin.ErrConflict, u, skipped)
	}
	return map[string]any{"user": u, "revoked_from": done, "mode": a.cfg.Mode}, nil
}
