package app

import (
	"context"
	"errors"

	"github.com/floatseat/floatseat/internal/admin"
	"github.com/floatseat/floatseat/internal/config"
)

// mountAPI puts the admin API and the status page on the admin port, over
// the read model of this App's parts.
func (a *App) mountAPI() error {
	mo := admin.ModelOptions{
		Running: &a.running, Version: Version, Replica: a.replica,
		Store: a.store, Audit: a.audit, Clock: a.clock, Log: a.log,
	}
	if a.seats != nil {
		mo.Directory, mo.Members, mo.Keeper, mo.Reaper = a.seats.dir, a.seats.members, a.seats.keeper, a.seats.reaper
	}
	var err error
	if a.model, err = admin.NewModel(mo); err != nil {
		return err
	}
	api := &admin.API{
		Token:  a.cfg().Admin.Token.Reveal(),
		Status: a.model,
		Audit:  a.audit,
		Reload: admin.ReloadFunc(func() error {
			cfg, _, errs := config.Load(a.cfg().Path)
			if len(errs) > 0 {
				return errors.Join(errs...)
			}
			return a.Reload(cfg)
		}),
		Noise: a.noise,
	}
	if a.seats != nil {
		api.Users, api.Seats = a.model, a.model
	}
	api.Mount(a.admin.Router())
	a.model.MountStatusPage(a.admin.Router())
	return nil
}

// Status gathers what on-call needs at a glance (the admin read model's
// /api/v1/status).
func (a *App) Status(ctx context.Context) (*admin.Status, error) { return a.model.Status(ctx) }
