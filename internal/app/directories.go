package app

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/appdir"
	"github.com/floatseat/floatseat/internal/directory/crowd"
)

// openDirectory opens the backend of directory.type, instrumented with
// retries, a circuit breaker and metrics; it closes (io.Closer) what the
// backend holds. immediate reports whether a change reaches the app at
// once (its own REST API) or only at a password login or the app's next
// directory sync (Crowd, LDAP; DESIGN §2.6). Tests and the demo put a
// directory in with WithDirectory instead.
func openDirectory(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (directory.Directory, bool, error) {
	var (
		d         directory.Directory
		immediate bool
		err       error
	)
	switch cfg.Directory.Type {
	case config.DirJira, config.DirConfluence:
		d, err = appdir.New(appdir.Config{Product: cfg.Directory.Type, URL: cfg.App.URL, User: cfg.App.User,
			Password: cfg.App.Password.Reveal(), Timeout: cfg.Directory.Timeout}, log)
		immediate = true
	case config.DirCrowd:
		c := cfg.Directory.Crowd
		d, err = crowd.New(crowd.Config{URL: c.URL, AppName: c.AppName, AppPassword: c.AppPassword.Reveal(),
			Timeout: cfg.Directory.Timeout}, log)
	case config.DirLDAP:
		d, err = openLDAP(cfg, log)
	default:
		return nil, false, fmt.Errorf("%w: %q", errNoBackend, cfg.Directory.Type)
	}
	if err != nil {
		return nil, false, err
	}
	return directory.Instrument(cfg.Directory.Type, d, directory.NewMetrics(reg), directory.Options{Timeout: cfg.Directory.Timeout}), immediate, nil
}
