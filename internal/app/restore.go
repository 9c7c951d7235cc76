package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/keeper"
	"github.com/floatseat/floatseat/internal/store"
)

// Restore is `floatseat restore`: the way out (DESIGN §2.10). It gives the
// named users (every parked or recorded user with all) their groups back
// from the parking groups in the directory, with Redis or without it, and
// clears their records where Redis answers. dryRun changes nothing.
// WithDirectory is honoured; other options are ignored.
func Restore(ctx context.Context, cfg *config.Config, log *slog.Logger, users []string, all, dryRun bool, opts ...Option) (keeper.RestoreReport, error) {
	a := &App{log: log, reg: prometheus.NewRegistry(), clock: time.Now}
	a.running.p.Store(cfg)
	for _, o := range opts {
		o(a)
	}
	dir, err := a.openDirectory()
	if err != nil {
		return keeper.RestoreReport{}, err
	}
	st, err := store.Open(cfg.Redis, store.Options{Log: log})
	if err != nil {
		return keeper.RestoreReport{}, err
	}
	defer st.Close()
	var pools []keeper.Pool
	for _, p := range cfg.Pools {
		pools = append(pools, keeper.Pool{Name: p.Name, LicenseGroups: p.LicenseGroups, DefaultGroups: p.DefaultGroups, PoolGroups: p.PoolGroups})
	}
	quiet := slog.New(slog.DiscardHandler)
	k, err := keeper.New(keeper.Options{
		Pools: pools, Dir: dir, Store: st, Audit: audit.New(st, quiet, 100000, replicaID(), cfg.Mode),
		Members: newMembers(cfg, dir, time.Now, quiet), ParkingPrefix: cfg.Directory.ParkingPrefix, Log: log,
	})
	if err != nil {
		return keeper.RestoreReport{}, err
	}
	return k.Restore(ctx, users, all, dryRun)
}

// openDirectory is WithDirectory's directory, or directory.type's backend.
func (a *App) openDirectory() (directory.Directory, error) {
	if a.directory != nil {
		return a.directory, nil
	}
	d, _, err := openDirectory(a.cfg(), a.log, a.reg)
	return d, err
}
