package appdir

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/floatseat/floatseat/internal/rest"
)

// SessionEnder is app.end_sessions: Jira 9.11+ ends every session of a
// user, cluster-wide (REFERENCE §1, KB "Invalidating user sessions in Jira
// Data Center"), with DELETE /rest/api/2/user/session/{user}. c names the
// app and its service account; the XSRF header is added here.
func SessionEnder(c rest.Config) func(ctx context.Context, user string) error {
	c.Header = http.Header{"X-Atlassian-Token": {"no-check"}}
	cl := rest.New(c)
	return func(ctx context.Context, user string) error {
		resp, err := cl.Do(ctx, http.MethodDelete, "/rest/api/2/user/session/"+url.PathEscape(user), nil, nil)
		if err != nil {
			return fmt.Errorf("end sessions of %s: %w", user, err)
		}
		if err := resp.Err(); err != nil {
			return fmt.Errorf("end sessions of %s: %d: %w", user, resp.Status, err)
		}
		return nil
	}
}
