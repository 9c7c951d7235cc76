// Package appdir implements directory.Directory over Jira's or Confluence's
// own REST group API (REFERENCE §3), as a service account with HTTP Basic.
// It is the backend for sites whose licence groups live in the app's
// internal directory (or a local group over a read-only LDAP), where no
// external directory can be written.
//
// The apps' APIs are coarser than Crowd's: Jira answers 400 both for "already
// a member" and "no such user", and neither app offers a direct-only view of
// a group's members. The product files say how each gap is bridged.
package appdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/rest"
)

// Products.
const (
	Jira       = "jira"
	Confluence = "confluence"
)

// Config says how to reach the app.
type Config struct {
	// Product is "jira" or "confluence".
	Product string
	// URL is the app's base URL, e.g. https://jira.example.com/jira.
	URL string
	// User and Password are the service account's credentials; the account
	// needs the admin rights group management requires. Password has already
	// been read from its file and never appears in logs or errors.
	User, Password string
	// Timeout bounds each HTTP request (each page of a list). Zero means 10s.
	Timeout time.Duration
}

// LogValue keeps the password out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("product", c.Product),
		slog.String("url", c.URL),
		slog.String("user", c.User),
		slog.String("password", "REDACTED"),
		slog.Duration("timeout", c.Timeout),
	)
}

const (
	defaultTimeout = 10 * time.Second
	maxBody        = 8 << 20
)

// Dir is a Directory backed by one Jira or Confluence. It is safe for
// concurrent use.
type Dir struct {
	impl product
	c    *client
}

// product is one app's group API: the Directory, and the page of a group's
// members at a cursor (each product pages its own way).
type product interface {
	directory.Directory
	membersPage(ctx context.Context, group, cursor string) ([]string, string, error)
}

var _ directory.Directory = (*Dir)(nil)

// New checks cfg and returns a Dir with its own keep-alive transport.
func New(cfg Config, log *slog.Logger) (*Dir, error) {
	var problems []string
	if cfg.Product != Jira && cfg.Product != Confluence {
		problems = append(problems, fmt.Sprintf("product %q is not %q or %q", cfg.Product, Jira, Confluence))
	}
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		problems = append(problems, "url is empty")
	case err != nil:
		problems = append(problems, fmt.Sprintf("url %q does not parse", cfg.URL))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		problems = append(problems, fmt.Sprintf("url %q is not an absolute http(s) URL", cfg.URL))
	case u.User != nil:
		problems = append(problems, "url must not contain credentials; use user and the password file")
	}
	if cfg.User == "" {
		problems = append(problems, "user is empty")
	}
	if cfg.Password == "" {
		problems = append(problems, "password is empty")
	}
	if cfg.Timeout < 0 {
		problems = append(problems, "timeout is negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s directory config: %s", cfg.Product, strings.Join(problems, "; "))
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
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawPath = ""

	c := &client{
		product: cfg.Product,
		user:    cfg.User,
		log:     log,
		rest: rest.New(rest.Config{
			Base: base.String(), User: cfg.User, Password: cfg.Password, Timeout: timeout, MaxBody: maxBody,
			// Both apps refuse state-changing REST calls without this
			// header when XSRF protection applies; it is harmless otherwise.
			Header: http.Header{"X-Atlassian-Token": {"no-check"}},
			Name:   cfg.Product, Log: log,
		}),
	}
	d := &Dir{c: c}
	if cfg.Product == Jira {
		d.impl = &jira{c: c, pageSize: 50}
	} else {
		d.impl = &confluence{c: c, pageSize: 200}
	}
	return d, nil
}

// Close releases idle connections.
func (d *Dir) Close() error { return d.c.rest.Close() }

// IsMember implements directory.Directory.
func (d *Dir) IsMember(ctx context.Context, user, group string, nested bool) (bool, error) {
	return d.impl.IsMember(ctx, user, group, nested)
}

// UserGroups implements directory.Directory.
func (d *Dir) UserGroups(ctx context.Context, user string, nested bool) ([]string, error) {
	return d.impl.UserGroups(ctx, user, nested)
}

// Members implements directory.Directory.
func (d *Dir) Members(ctx context.Context, group string, nested bool) ([]string, error) {
	return d.impl.Members(ctx, group, nested)
}

// AddMember implements directory.Directory.
func (d *Dir) AddMember(ctx context.Context, user, group string) error {
	return d.impl.AddMember(ctx, user, group)
}

// MembersPage implements directory.Pager: the page of group's members at
// cursor ("" for the first), and the cursor of the next ("" after the
// last). Instrument gives each page its own deadline and retries a failed
// page where the listing stopped.
func (d *Dir) MembersPage(ctx context.Context, group string, _ bool, cursor string) ([]string, string, error) {
	return d.impl.membersPage(ctx, group, cursor)
}

// RemoveMember implements directory.Directory.
func (d *Dir) RemoveMember(ctx context.Context, user, group string) error {
	return d.impl.RemoveMember(ctx, user, group)
}

// client is the HTTP plumbing both products share.
type client struct {
	product string
	user    string // the service account, named in errors
	rest    *rest.Client
	log     *slog.Logger
}

// response is an answer that was not a failure of the account or the
// server (those are errors from do).
type response struct {
	method, path string
	status       int
	body         []byte
}

// message extracts the app's error text: Jira's errorMessages/errors or
// Confluence's message.
func (r *response) message() string {
	var e struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
		Message       string            `json:"message"`
	}
	if json.Unmarshal(r.body, &e) != nil {
		return ""
	}
	msgs := append([]string(nil), e.ErrorMessages...)
	for k, v := range e.Errors {
		msgs = append(msgs, k+": "+v)
	}
	if e.Message != "" {
		msgs = append(msgs, e.Message)
	}
	return strings.Join(msgs, "; ")
}

// unexpected describes an answer the caller has no meaning for; untyped,
// because it is a bug or misconfiguration rather than something to retry.
func (r *response) unexpected() error {
	if m := r.message(); m != "" {
		return fmt.Errorf("unexpected answer to %s %s: %d: %s", r.method, r.path, r.status, m)
	}
	return fmt.Errorf("unexpected answer to %s %s: %d %s", r.method, r.path, r.status, http.StatusText(r.status))
}

// do sends one request with its own deadline. path is already escaped and
// query is encoded here. It returns an error for transport failures,
// timeouts and 5xx (ErrUnavailable), for 401/403 (ErrPermissionDenied) and
// for a 200 answer that is not JSON (a login page or SSO in front of the
// API); every other answer goes back to the caller. out, if not nil,
// receives a 200 answer's JSON, parsed once.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body, out any) (*response, error) {
	r, err := c.rest.Do(ctx, method, path, query, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", directory.ErrUnavailable, err)
	}
	res := &response{method: method, path: path, status: r.Status, body: r.Body}
	switch kind := r.Err(); {
	case errors.Is(kind, rest.ErrUnauthorized):
		return nil, fmt.Errorf("%s rejected the service account credentials (user %q): %w",
			c.product, c.user, directory.ErrPermissionDenied)
	case errors.Is(kind, rest.ErrForbidden):
		// Jira also answers 403 once a CAPTCHA is required after failed
		// logins; the Seraph header says so.
		why := res.message()
		if lr := r.Header.Get("X-Seraph-LoginReason"); lr != "" && lr != "OK" {
			why = strings.TrimSpace(why + " (login reason " + lr + ")")
		}
		return nil, fmt.Errorf("%s denied service account %q %s %s: %s: %w",
			c.product, c.user, method, path, why, directory.ErrPermissionDenied)
	case errors.Is(kind, rest.ErrUnavailable):
		return nil, fmt.Errorf("%s %s: %d %s: %w", method, path, r.Status,
			http.StatusText(r.Status), directory.ErrUnavailable)
	case errors.Is(kind, rest.ErrRedirect):
		return nil, fmt.Errorf("%s %s: redirected to %q; is the %s URL right, or is SSO in front of the API?",
			method, path, r.Header.Get("Location"), c.product)
	}
	switch err := r.DecodeOK(out); {
	case errors.Is(err, rest.ErrNotJSON):
		return nil, fmt.Errorf("%s %s: answer is not JSON; is the %s URL right?", method, path, c.product)
	case err != nil:
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return res, nil
}

// get sends a GET and decodes a 200 answer into out; other statuses are
// returned as the response for the caller to interpret.
func (c *client) get(ctx context.Context, path string, query url.Values, out any) (*response, error) {
	return c.do(ctx, http.MethodGet, path, query, nil, out)
}

func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}
