package app

import (
	"context"
	"log/slog"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory/appdir"
	"github.com/floatseat/floatseat/internal/rest"
)

// endSessions is the keeper's hook for app.end_sessions; nil when it is off.
func endSessions(cfg *config.Config, log *slog.Logger) func(ctx context.Context, user string) error {
	if !cfg.App.EndSessions {
		return nil
	}
	return appdir.SessionEnder(rest.Config{Base: cfg.App.URL, User: cfg.App.User, Password: cfg.App.Password.Reveal(),
		Timeout: cfg.App.Timeout, Name: "jira", Log: log})
}
