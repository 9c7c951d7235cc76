package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/keeper"
)

// parkingGroups lists the parking group of every licence group (DESIGN §2.10).
func parkingGroups(cfg *config.Config) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range cfg.Pools {
		for _, g := range p.LicenseGroups {
			pg := keeper.ParkingGroup(cfg.Directory.ParkingPrefix, g)
			if !seen[strings.ToLower(pg)] {
				seen[strings.ToLower(pg)] = true
				out = append(out, pg)
			}
		}
	}
	return out
}

// parkingState is what floatseat knows about one parking group.
type parkingState struct {
	Group    string
	Exists   bool
	Created  bool
	Writable string // "yes", or why it is not known / not so
	Err      error  // a problem: revocations of its pool are refused
}

// ensureParking makes sure every parking group exists, creating it where
// the backend can, and probes that it can be written: removing probe (a
// user who is no member, the service account) is a write the directory
// checks rights for and that changes nothing.
func ensureParking(ctx context.Context, dir directory.Directory, cfg *config.Config, probe string) []parkingState {
	var out []parkingState
	for _, g := range parkingGroups(cfg) {
		st := parkingState{Group: g, Writable: "not checked"}
		_, err := dir.Members(ctx, g, false)
		if errors.Is(err, directory.ErrGroupNotFound) {
			err = directory.CreateGroup(ctx, dir, g)
			switch {
			case errors.Is(err, directory.ErrNotSupported):
				err = fmt.Errorf("parking group %s is missing and this directory cannot create it: create it by hand (an empty group next to the licence group); until then revocations of its pool are refused", g)
			case err != nil:
				err = fmt.Errorf("parking group %s is missing and could not be created: %w", g, err)
			default:
				st.Created = true
			}
		} else if err != nil {
			err = fmt.Errorf("parking group %s cannot be read: %w", g, err)
		}
		if err != nil {
			st.Err = err
			out = append(out, st)
			continue
		}
		st.Exists = true
		switch err := dir.RemoveMember(ctx, probe, g); {
		case probe == "":
			st.Writable = "not checked (no app.user to probe with)"
		case err == nil:
			st.Writable = "yes"
		case errors.Is(err, directory.ErrUserNotFound):
			st.Writable = fmt.Sprintf("not checked (the probe user %s is not in this directory)", probe)
		default:
			st.Err = fmt.Errorf("parking group %s cannot be written: %w", g, err)
		}
		out = append(out, st)
	}
	return out
}

// prepareParking runs at start: every missing parking group is created
// where the backend can, and what is still wrong is logged.
func prepareParking(ctx context.Context, dir directory.Directory, cfg *config.Config, log *slog.Logger) {
	for _, st := range ensureParking(ctx, dir, cfg, "") {
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
	for _, st := range ensureParking(ctx, dir, cfg, cfg.App.User) {
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
