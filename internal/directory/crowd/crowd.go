// Package crowd implements directory.Directory and directory.PasswordVerifier
// over Atlassian Crowd's user management REST API (/rest/usermanagement/1,
// REFERENCE §4), authenticating as a Crowd application.
//
// Crowd reports most outcomes as an HTTP status plus an error "reason"; this
// package turns them into floatseat's typed errors so the seat engine can
// decide between giving up (ErrPermissionDenied, ErrUserNotFound, …) and
// retrying later (ErrUnavailable). Adding a user who is already a member and
// removing one who is not are both success, as the interface requires.
package crowd

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/rest"
)

// Config says how to reach Crowd.
type Config struct {
	// URL is Crowd's base URL, e.g. https://crowd.example.com/crowd. A URL
	// that already ends in /rest/usermanagement/1 (or /latest) is used as is.
	URL string
	// AppName and AppPassword are the Crowd application's credentials.
	// AppPassword has already been read from its file; it never appears in
	// logs or errors.
	AppName, AppPassword string
	// Timeout bounds each HTTP request (each page of a list). Zero means 10s.
	Timeout time.Duration
}

// LogValue keeps the application password out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", c.URL),
		slog.String("app_name", c.AppName),
		slog.String("app_password", "REDACTED"),
		slog.Duration("timeout", c.Timeout),
	)
}

const (
	defaultTimeout = 10 * time.Second
	// defaultPageSize is Crowd's default and largest max-results; fewer
	// round trips for big groups. (directory.MaxPages bounds a listing.)
	defaultPageSize = 1000
	// maxBody bounds how much of an answer is read: a 1000-entry page is
	// well under 1 MiB.
	maxBody = 8 << 20
)

// Crowd error reasons this client acts on.
const (
	reasonApplicationPermissionDenied = "APPLICATION_PERMISSION_DENIED"
	reasonExpiredCredential           = "EXPIRED_CREDENTIAL"
	reasonGroupNotFound               = "GROUP_NOT_FOUND"
	reasonInactiveAccount             = "INACTIVE_ACCOUNT"
	reasonInvalidUserAuthentication   = "INVALID_USER_AUTHENTICATION"
	reasonMembershipNotFound          = "MEMBERSHIP_NOT_FOUND"
	reasonUserNotFound                = "USER_NOT_FOUND"
)

// Client talks to one Crowd server as one application. It is safe for
// concurrent use.
type Client struct {
	base     *url.URL // …/rest/usermanagement/1
	appName  string   // named in errors
	pageSize int
	rest     *rest.Client
	log      *slog.Logger
}

var (
	_ directory.Directory        = (*Client)(nil)
	_ directory.PasswordVerifier = (*Client)(nil)
	_ directory.GroupCreator     = (*Client)(nil)
)

// New checks cfg and returns a Client with its own keep-alive transport.
func New(cfg Config, log *slog.Logger) (*Client, error) {
	var problems []string
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		problems = append(problems, "url is empty")
	case err != nil:
		problems = append(problems, fmt.Sprintf("url %q does not parse", cfg.URL))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		problems = append(problems, fmt.Sprintf("url %q is not an absolute http(s) URL", cfg.URL))
	case u.User != nil:
		// Credentials in the URL would end up in error messages.
		problems = append(problems, "url must not contain credentials; use app_name and the password file")
	}
	if cfg.AppName == "" {
		problems = append(problems, "app name is empty")
	}
	if cfg.AppPassword == "" {
		problems = append(problems, "app password is empty")
	}
	if cfg.Timeout < 0 {
		problems = append(problems, "timeout is negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("crowd config: %s", strings.Join(problems, "; "))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}

	base := *u
	base.RawQuery, base.Fragment = "", ""
	p := strings.TrimSuffix(base.Path, "/")
	if !strings.HasSuffix(p, "/rest/usermanagement/1") && !strings.HasSuffix(p, "/rest/usermanagement/latest") {
		p += "/rest/usermanagement/1"
	}
	base.Path, base.RawPath = p, ""

	return &Client{
		base:     &base,
		appName:  cfg.AppName,
		pageSize: defaultPageSize,
		rest: rest.New(rest.Config{
			Base: base.String(), User: cfg.AppName, Password: cfg.AppPassword,
			Timeout: timeout, MaxBody: maxBody, Name: "crowd", Log: log,
		}),
		log: log,
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() error { return c.rest.Close() }

// ---- Directory ----

// IsMember asks Crowd directly rather than listing, so a "yes" costs one
// request whatever the size of the group. Crowd's "no" (404
// MEMBERSHIP_NOT_FOUND) is also its answer for an unknown user or group, so
// a "no" is followed by looking both up: callers get ErrUserNotFound and
// ErrGroupNotFound as from every other backend.
func (c *Client) IsMember(ctx context.Context, user, group string, nested bool) (bool, error) {
	member, err := c.isMember(ctx, user, group, nested)
	if err != nil {
		return false, fmt.Errorf("crowd is %s member of %s: %w", user, group, err)
	}
	return member, nil
}

func (c *Client) isMember(ctx context.Context, user, group string, nested bool) (bool, error) {
	res, err := c.do(ctx, http.MethodGet, "/group/user/"+scope(nested),
		url.Values{"groupname": {group}, "username": {user}}, nil, nil)
	switch {
	case err != nil:
		return false, err
	case res.status == http.StatusOK:
		return true, nil
	case res.status == http.StatusNotFound && res.reason == reasonGroupNotFound:
		return false, directory.ErrGroupNotFound
	case res.status == http.StatusNotFound && res.reason == reasonUserNotFound:
		return false, directory.ErrUserNotFound
	case res.status != http.StatusNotFound:
		return false, res.unexpected()
	}
	if err := c.exists(ctx, "/user", url.Values{"username": {user}}, reasonUserNotFound, directory.ErrUserNotFound); err != nil {
		return false, err
	}
	if err := c.exists(ctx, "/group", url.Values{"groupname": {group}}, reasonGroupNotFound, directory.ErrGroupNotFound); err != nil {
		return false, err
	}
	return false, nil
}

// exists returns nil when GET resource answers 200, and notFound when it
// answers 404 with reason.
func (c *Client) exists(ctx context.Context, resource string, q url.Values, reason string, notFound error) error {
	res, err := c.do(ctx, http.MethodGet, resource, q, nil, nil)
	switch {
	case err != nil:
		return err
	case res.status == http.StatusOK:
		return nil
	case res.status == http.StatusNotFound && res.reason == reason:
		return notFound
	}
	return res.unexpected()
}

// UserGroups lists user's groups; nested adds the groups those are in.
func (c *Client) UserGroups(ctx context.Context, user string, nested bool) ([]string, error) {
	what := "crowd groups of " + user
	return directory.AllPages(ctx, what, c.pages(what, "/user/group/"+scope(nested), url.Values{"username": {user}},
		func(res *response) error {
			if res.status == http.StatusNotFound && res.reason == reasonUserNotFound {
				return directory.ErrUserNotFound
			}
			return res.unexpected()
		}))
}

// Members lists group's users; nested includes members of its subgroups.
func (c *Client) Members(ctx context.Context, group string, nested bool) ([]string, error) {
	return directory.AllPages(ctx, "crowd members of "+group, c.members(group, nested))
}

// MembersPage implements directory.Pager: the page of group's members at
// cursor (a start index; "" for the first) and the next cursor ("" after
// the last), so that each page gets its own deadline and retry.
func (c *Client) MembersPage(ctx context.Context, group string, nested bool, cursor string) ([]string, string, error) {
	return c.members(group, nested)(ctx, cursor)
}

func (c *Client) members(group string, nested bool) directory.PageFunc {
	return c.pages("crowd members of "+group, "/group/user/"+scope(nested), url.Values{"groupname": {group}}, membersError)
}

func membersError(res *response) error {
	if res.status == http.StatusNotFound && res.reason == reasonGroupNotFound {
		return directory.ErrGroupNotFound
	}
	return res.unexpected()
}

// AddMember adds a direct membership. Crowd's 409 (already a member) is
// success: the state floatseat wanted is the state it has.
func (c *Client) AddMember(ctx context.Context, user, group string) error {
	res, err := c.do(ctx, http.MethodPost, "/group/user/direct",
		url.Values{"groupname": {group}}, map[string]string{"name": user}, nil)
	if err == nil {
		switch {
		case res.status == http.StatusCreated, res.status == http.StatusNoContent, res.status == http.StatusOK:
			c.log.DebugContext(ctx, "crowd membership added", "user", user, "group", group)
			return nil
		case res.status == http.StatusConflict:
			return nil
		case res.status == http.StatusBadRequest && res.reason == reasonUserNotFound:
			err = directory.ErrUserNotFound
		case res.status == http.StatusNotFound && res.reason == reasonGroupNotFound:
			err = directory.ErrGroupNotFound
		default:
			err = res.unexpected()
		}
	}
	return fmt.Errorf("crowd add %s to %s: %w", user, group, err)
}

// CreateGroup creates an active group (a parking group, DESIGN §2.10).
// Crowd answers 400 INVALID_GROUP for a name that exists, which is success
// once a look-up confirms the group is there.
func (c *Client) CreateGroup(ctx context.Context, group string) error {
	res, err := c.do(ctx, http.MethodPost, "/group", nil, map[string]any{
		"name": group, "type": "GROUP", "active": true,
		"description": "floatseat: users whose licence groups floatseat removed",
	}, nil)
	if err == nil {
		switch {
		case res.status == http.StatusCreated, res.status == http.StatusOK, res.status == http.StatusNoContent:
			c.log.InfoContext(ctx, "crowd group created", "group", group)
			return nil
		case res.status == http.StatusBadRequest:
			if err = c.exists(ctx, "/group", url.Values{"groupname": {group}}, reasonGroupNotFound, directory.ErrGroupNotFound); err != nil {
				err = fmt.Errorf("%w (creating it answered: %w)", err, res.unexpected())
			}
		default:
			err = res.unexpected()
		}
	}
	if err != nil {
		return fmt.Errorf("crowd create group %s: %w", group, err)
	}
	return nil
}

// RemoveMember removes a direct membership. MEMBERSHIP_NOT_FOUND is success.
func (c *Client) RemoveMember(ctx context.Context, user, group string) error {
	res, err := c.do(ctx, http.MethodDelete, "/group/user/direct",
		url.Values{"groupname": {group}, "username": {user}}, nil, nil)
	if err == nil {
		switch {
		case res.status == http.StatusNoContent, res.status == http.StatusOK:
			c.log.DebugContext(ctx, "crowd membership removed", "user", user, "group", group)
			return nil
		case res.status == http.StatusNotFound && res.reason == reasonMembershipNotFound:
			return nil
		case res.status == http.StatusNotFound && res.reason == reasonGroupNotFound:
			err = directory.ErrGroupNotFound
		case res.status == http.StatusNotFound && res.reason == reasonUserNotFound:
			err = directory.ErrUserNotFound
		default:
			err = res.unexpected()
		}
	}
	return fmt.Errorf("crowd remove %s from %s: %w", user, group, err)
}

// VerifyPassword authenticates user with Crowd. Inactive accounts and
// expired passwords are ErrBadCredentials too (the user cannot log in),
// with the reason in the message.
func (c *Client) VerifyPassword(ctx context.Context, user, password string) error {
	res, err := c.do(ctx, http.MethodPost, "/authentication",
		url.Values{"username": {user}}, map[string]string{"value": password}, nil)
	if err == nil {
		switch {
		case res.status == http.StatusOK:
			return nil
		case res.reason == reasonInvalidUserAuthentication:
			err = directory.ErrBadCredentials
		case res.reason == reasonUserNotFound:
			err = directory.ErrUserNotFound
		case res.reason == reasonInactiveAccount:
			err = fmt.Errorf("account is inactive: %w", directory.ErrBadCredentials)
		case res.reason == reasonExpiredCredential:
			err = fmt.Errorf("password has expired: %w", directory.ErrBadCredentials)
		default:
			err = res.unexpected()
		}
	}
	return fmt.Errorf("crowd authenticate %s: %w", user, err)
}
