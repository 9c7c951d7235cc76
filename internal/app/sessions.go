package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/rest"
)

// endSessions returns the keeper's hook for app.end_sessions: Jira 9.11+
// ends every session of the user, cluster-wide (REFERENCE §1, KB
// "Invalidating user sessions in Jira Data Center"); nil when it is off.
func endSessions(cfg *config.Config, log *slog.Logger) func(ctx context.Context, user string) error {
	if !cfg.App.EndSessions {
		return nil
	}
	c := rest.New(rest.Config{Base: cfg.App.URL, User: cfg.App.User, Password: cfg.App.Password.Reveal(),
		Timeout: cfg.App.Timeout, Header: http.Header{"X-Atlassian-Token": {"no-check"}}, Name: "jira", Log: log})
	return func(ctx context.Context, user string) error {
		resp, err := c.Do(ctx, http.MethodDelete, "/rest/api/2/user/session/"+url.PathEscape(user), nil, nil)
		if err != nil {
			return fmt.Errorf("end sessions of %s: %w", user, err)
		}
		if err := resp.Err(); err != nil {
			return fmt.Errorf("end sessions of %s: %d: %w", user, resp.Status, err)
		}
		return nil
	}
}
