package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/keeper"
)

// parkingGroups lists the parking group of every licence group (DESIGN §2.10).
func parkingGroups(cfg *config.Config) []string {
	var groups []string
	for _, p := range cfg.Pools {
		groups = append(groups, p.LicenseGroups...)
	}
	return keeper.ParkingGroups(cfg.Directory.ParkingPrefix, groups)
}

// prepareParking runs at start: every missing parking group is created
// where the backend can, and what is still wrong is logged.
func prepareParking(ctx context.Context, dir directory.Directory, cfg *config.Config, log *slog.Logger) {
	for _, st := range keeper.EnsureParking(ctx, dir, parkingGroups(cfg), "") {
		switch {
		case st.Err != nil:
			log.Error("parking group not usable", "group", st.Group, "err", st.Err)
		case st.Created:
			log.Info("parking group created", "group", st.Group)
		}
	}
}

// CheckParking is `floatseat check`'s look at the directory: each parking
// group exists (created now where the backend can, as serve would) and can
// be written. It prints one line a group and returns the problems.
// WithDirectory is honoured; other options are ignored.
func CheckParking(cfg *config.Config, out io.Writer, opts ...Option) []error {
	a := &App{log: slog.New(slog.DiscardHandler), reg: prometheus.NewRegistry()}
	a.running.p.Store(cfg)
	for _, o := range opts {
		o(a)
	}
	dir, err := a.openDirectory()
	if err != nil {
		return []error{fmt.Errorf("directory: %w", err)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*cfg.Directory.Timeout)
	defer cancel()
	var errs []error
	for _, st := range keeper.EnsureParking(ctx, dir, parkingGroups(cfg), cfg.App.User) {
		switch {
		case st.Err != nil:
			errs = append(errs, st.Err)
			fmt.Fprintf(out, "parking group %s: PROBLEM\n", st.Group)
		case st.Created:
			fmt.Fprintf(out, "parking group %s: created; writable: %s\n", st.Group, st.Writable)
		default:
			fmt.Fprintf(out, "parking group %s: exists; writable: %s\n", st.Group, st.Writable)
		}
	}
	return errs
}
