package app

import (
	"context"
	"net/http"
	"strings"

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

// refreshProjects keeps the project keys of typed pools current (Jira).
func (a *App) refreshProjects(ctx context.Context) error {
	cfg := a.cfg() // restart-only keys
	if a.work.Typed() && cfg.Product == config.ProductJira {
		a.work.RefreshProjects(ctx, license.JiraProjects{BaseURL: cfg.App.URL, User: cfg.App.User,
			Password: cfg.App.Password.Reveal(), Timeout: cfg.App.Timeout}, cfg.Activity.ProjectsRefreshInterval, a.log)
	}
	return nil
}
