package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/config"
)

// ReplayMembership reads, once and read-only, what `floatseat replay
// --directory` takes from the configured directory: each pool's members
// (the nested members of its licence and pool groups) and the exclusion set
// (exclude.groups, exclude.users, app.user) — the same membership view the
// reaper judges by, so replay and the reaper agree on who is whose. A
// directory that cannot be read is an error: a replay that silently fell
// back to "everybody" would size the wrong estate. WithDirectory is
// honoured; other options are ignored.
func ReplayMembership(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...Option) (member func(pool int, user string) bool, excluded func(user string) bool, err error) {
	a := &App{log: log, reg: prometheus.NewRegistry(), clock: time.Now}
	a.running.p.Store(cfg)
	for _, o := range opts {
		o(a)
	}
	dir, err := a.openDirectory()
	if err != nil {
		return nil, nil, err
	}
	if c, ok := dir.(io.Closer); ok && a.directory == nil {
		defer c.Close()
	}
	view := newMembers(cfg, dir, time.Now, slog.New(slog.DiscardHandler))
	if err := view.Refresh(ctx); err != nil {
		return nil, nil, fmt.Errorf("read the pools' groups from the directory: %w", err)
	}
	pools := make([]map[string]bool, len(cfg.Pools))
	for i, p := range cfg.Pools {
		pools[i], _ = view.Members(append(append([]string(nil), p.LicenseGroups...), p.PoolGroups...)...)
	}
	ex := view.Excluded()
	return func(pool int, user string) bool { return pools[pool][user] },
		func(user string) bool { return ex[user] }, nil
}
