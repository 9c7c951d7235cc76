package app

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/license"
	"github.com/floatseat/floatseat/internal/poolwork"
)

// newPoolWork compiles the pools' own-work rules (DESIGN §2.11).
func newPoolWork(cfg *config.Config, reg prometheus.Registerer) (*poolwork.Rules, error) {
	pools := make([]poolwork.Pool, len(cfg.Pools))
	for i, p := range cfg.Pools {
		pools[i] = poolwork.Pool{Name: p.Name, Main: p.Main}
		if p.Activity != nil {
			pools[i].Paths, pools[i].ProjectTypes = p.Activity.Paths, p.Activity.ProjectTypes
		}
	}
	return poolwork.New(pools, reg)
}

// PoolWork compiles the pools' own-work rules without metrics, for
// callers outside a running floatseat (replay).
func PoolWork(cfg *config.Config) (*poolwork.Rules, error) { return newPoolWork(cfg, nil) }

// poolNames are the names of every pool, for the heartbeat. It reads only
// the names (a restart key): Reload rewrites other fields of the pools
// concurrently, so copying whole Pool values here would race with it.
func poolNames(cfg *config.Config) []string {
	out := make([]string, len(cfg.Pools))
	for i := range cfg.Pools {
		out[i] = cfg.Pools[i].Name
	}
	return out
}

// needOf is the keeper's view of the rules: which pools r needs.
func needOf(w *poolwork.Rules, contextPath string) func(r *http.Request) uint64 {
	return func(r *http.Request) uint64 {
		return w.Need(r.Method, strings.TrimPrefix(r.URL.Path, contextPath))
	}
}

// refreshProjects keeps the project keys of typed pools current: read at
// start, then every activity.projects_refresh_interval. A failed read keeps
// the last good list (with none yet, issue pages count for the main pool).
func (a *App) refreshProjects(ctx context.Context) error {
	cfg := a.cfg() // restart-only keys
	if !a.work.Typed() || cfg.Product != config.ProductJira {
		return nil
	}
	src := license.JiraProjects{BaseURL: cfg.App.URL, User: cfg.App.User, Password: cfg.App.Password.Reveal(),
		Timeout: cfg.App.Timeout}
	t := time.NewTicker(cfg.Activity.ProjectsRefreshInterval)
	defer t.Stop()
	for {
		if types, err := src.Types(ctx); err != nil {
			a.log.Warn("reading project types failed; keeping the last list", "err", err)
		} else {
			a.work.SetProjects(types)
			a.log.Debug("project types read", "projects", len(types), "typed", a.work.Projects())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
