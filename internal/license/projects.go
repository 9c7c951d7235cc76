package license

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// JiraProjects reads every project's key and type
// (GET /rest/api/2/project → key, projectTypeKey) as the service account,
// so pools with activity.project_types know which issues are theirs.
type JiraProjects struct {
	Client   *http.Client // nil: a client that does not follow redirects
	BaseURL  string
	User     string
	Password string
	Timeout  time.Duration
}

// Types returns project key → projectTypeKey (software, service_desk,
// business).
func (j JiraProjects) Types(ctx context.Context) (map[string]string, error) {
	a := basicAuth{j.Client, j.BaseURL, j.User, j.Password, j.Timeout}
	var ps []struct {
		Key            string `json:"key"`
		ProjectTypeKey string `json:"projectTypeKey"`
	}
	if err := a.getJSON(ctx, "/rest/api/2/project", &ps); err != nil {
		return nil, fmt.Errorf("jira projects: %w", err)
	}
	out := make(map[string]string, len(ps))
	for _, p := range ps {
		if p.Key != "" {
			out[p.Key] = p.ProjectTypeKey
		}
	}
	return out, nil
}

// String keeps the password out of %v.
func (j JiraProjects) String() string { return redacted("JiraProjects", j.BaseURL, j.User) }
