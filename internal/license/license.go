// Package license reads how many seats each pool has and how many the app
// counts as used, from the app's own licence REST API (Jira application
// roles, Confluence licence resource) or from configuration, and polls those
// sources on an interval into a sink (the store's seat accounting).
//
// The app's count is the truth floatseat grants against: going over the
// licence stops issue creation in Jira and makes Confluence read-only. So a
// source that cannot give a trustworthy count returns an error rather than a
// guess, and where the app answers inconsistently the pessimistic figure
// wins.
package license

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/floatseat/floatseat/internal/rest"
)

// Count is one pool's licence as the app reports it.
type Count struct {
	Seats     int
	Used      int
	Unlimited bool
}

// Source reports a pool's licence count.
type Source interface {
	Count(ctx context.Context) (Count, error)
}

// Errors a caller may act on; every error a source returns wraps one of them.
var (
	// ErrUnauthorized: the app refused the service account (401, or 403).
	// Every refused Basic request counts as a failed login for the app, so a
	// wrong password leads to a CAPTCHA on the service account: the poller
	// backs off on this error.
	ErrUnauthorized = errors.New("licence API refused the service account")
	// ErrCaptcha: the app wants a CAPTCHA for the service account (403 with
	// X-Seraph-LoginReason: AUTHENTICATION_DENIED); an admin must log it in
	// once in a browser. It also wraps ErrUnauthorized.
	ErrCaptcha = fmt.Errorf("%w: CAPTCHA required (log the service account in once in a browser)", ErrUnauthorized)
	// ErrNotFound: the resource does not exist (unknown application role).
	ErrNotFound = errors.New("licence resource not found")
	// ErrUnavailable: the app did not answer in time, or answered 5xx.
	ErrUnavailable = errors.New("licence API unavailable")
	// ErrMalformed: the answer is not the JSON expected (a login page after
	// a redirect, a proxy's error page, missing fields).
	ErrMalformed = errors.New("licence API answer malformed")
)

// DefaultTimeout bounds one licence request when a source sets no Timeout.
const DefaultTimeout = 10 * time.Second

// maxBody bounds what is read of an answer: the real ones are tiny.
const maxBody = 1 << 20

// noRedirectClient is used when a source has no Client: following the
// redirect to the login page would turn "wrong password" into "malformed".
var noRedirectClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// basicAuth is the service-account part shared by the HTTP sources.
type basicAuth struct {
	client   *http.Client
	base     string
	user     string
	password string
	timeout  time.Duration
}

// getJSON GETs base+path as the service account and decodes the JSON answer
// into v, under its own deadline.
func (a basicAuth) getJSON(ctx context.Context, path string, v any) error {
	client := a.client
	if client == nil {
		client = noRedirectClient
	}
	c := rest.New(rest.Config{Base: a.base, User: a.user, Password: a.password, Timeout: a.timeout, MaxBody: maxBody, HTTP: client,
		// Tells Seraph this is a REST client, so errors come as status codes.
		Header: http.Header{"X-Atlassian-Token": {"no-check"}}})
	r, err := c.Do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		// The url.Error carries the URL only, never the credentials: they
		// travel in a header.
		return fmt.Errorf("GET %s: %w: %w", path, ErrUnavailable, err)
	}
	switch kind := r.Err(); {
	case r.Status == http.StatusOK:
	case errors.Is(kind, rest.ErrUnauthorized):
		return fmt.Errorf("GET %s: status %d: %w", path, r.Status, ErrUnauthorized)
	case errors.Is(kind, rest.ErrCaptcha):
		return fmt.Errorf("GET %s: status %d: %w", path, r.Status, ErrCaptcha)
	case errors.Is(kind, rest.ErrForbidden):
		return fmt.Errorf("GET %s: status %d (is the service account an admin?): %w", path, r.Status, ErrUnauthorized)
	case errors.Is(kind, rest.ErrNotFound):
		return fmt.Errorf("GET %s: status %d: %w", path, r.Status, ErrNotFound)
	case errors.Is(kind, rest.ErrUnavailable):
		return fmt.Errorf("GET %s: status %d: %w", path, r.Status, ErrUnavailable)
	default:
		return fmt.Errorf("GET %s: unexpected status %d: %w", path, r.Status, ErrMalformed)
	}
	if err := r.Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w: %w", path, ErrMalformed, err)
	}
	return nil
}

// redacted describes an HTTP source for logs and %v without its password.
func redacted(kind, base, user string) string {
	return fmt.Sprintf("%s{BaseURL:%s User:%s Password:REDACTED}", kind, base, user)
}

// JiraRole reads one Jira application role
// (GET /rest/api/2/applicationrole/{key}) as an admin service account.
type JiraRole struct {
	Client   *http.Client // nil: a client that does not follow redirects
	BaseURL  string
	User     string
	Password string
	Key      string        // jira-software, jira-servicedesk, jira-core
	Timeout  time.Duration // per request; zero means DefaultTimeout
}

var _ Source = JiraRole{}

type jiraRoleJSON struct {
	Key               string `json:"key"`
	NumberOfSeats     *int   `json:"numberOfSeats"`
	RemainingSeats    *int   `json:"remainingSeats"`
	UserCount         *int   `json:"userCount"`
	HasUnlimitedSeats bool   `json:"hasUnlimitedSeats"`
}

// Count implements Source. Jira gives both userCount and remainingSeats; when
// they disagree (they come from different caches) the higher usage wins, so a
// stale figure can only make floatseat grant less, never more.
func (j JiraRole) Count(ctx context.Context) (Count, error) {
	a := basicAuth{j.Client, j.BaseURL, j.User, j.Password, j.Timeout}
	var r jiraRoleJSON
	if err := a.getJSON(ctx, "/rest/api/2/applicationrole/"+url.PathEscape(j.Key), &r); err != nil {
		return Count{}, fmt.Errorf("jira role %s: %w", j.Key, err)
	}
	if r.HasUnlimitedSeats {
		used := 0
		if r.UserCount != nil {
			used = *r.UserCount
		}
		return Count{Unlimited: true, Used: used}, nil
	}
	if r.NumberOfSeats == nil || r.UserCount == nil {
		return Count{}, fmt.Errorf("jira role %s: numberOfSeats or userCount missing: %w", j.Key, ErrMalformed)
	}
	c := Count{Seats: *r.NumberOfSeats, Used: *r.UserCount}
	if c.Seats < 0 || c.Used < 0 {
		return Count{}, fmt.Errorf("jira role %s: negative seats %d or users %d: %w", j.Key, c.Seats, c.Used, ErrMalformed)
	}
	if r.RemainingSeats != nil {
		c.Used = max(c.Used, c.Seats-*r.RemainingSeats)
	}
	return c, nil
}

// String keeps the password out of %v and %+v.
func (j JiraRole) String() string { return redacted("JiraRole", j.BaseURL, j.User) + "/" + j.Key }

// GoString keeps the password out of %#v.
func (j JiraRole) GoString() string { return j.String() }

// LogValue keeps the password out of slog.
func (j JiraRole) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", j.BaseURL), slog.String("user", j.User),
		slog.String("role", j.Key), slog.String("password", "REDACTED"))
}

// ConfluenceUnlimited is the count Confluence's licence resource gives for an
// unlimited licence.
const ConfluenceUnlimited = 2147483647

// Confluence reads Confluence's licence resource
// (/rest/license/1.0/license/maxUsers and /userCount, each {"count":N}) as an
// admin service account.
type Confluence struct {
	Client   *http.Client // nil: a client that does not follow redirects
	BaseURL  string
	User     string
	Password string
	Timeout  time.Duration // per request; zero means DefaultTimeout
}

var _ Source = Confluence{}

type confluenceCountJSON struct {
	Count *int `json:"count"`
}

// Count implements Source.
func (c Confluence) Count(ctx context.Context) (Count, error) {
	a := basicAuth{c.Client, c.BaseURL, c.User, c.Password, c.Timeout}
	get := func(what string) (int, error) {
		var r confluenceCountJSON
		if err := a.getJSON(ctx, "/rest/license/1.0/license/"+what, &r); err != nil {
			return 0, fmt.Errorf("confluence licence %s: %w", what, err)
		}
		if r.Count == nil {
			return 0, fmt.Errorf("confluence licence %s: count missing: %w", what, ErrMalformed)
		}
		return *r.Count, nil
	}
	maxUsers, err := get("maxUsers")
	if err != nil {
		return Count{}, err
	}
	used, err := get("userCount")
	if err != nil {
		return Count{}, err
	}
	if maxUsers == ConfluenceUnlimited || maxUsers < 0 {
		return Count{Unlimited: true, Used: used}, nil
	}
	if used < 0 {
		return Count{}, fmt.Errorf("confluence licence: negative userCount %d: %w", used, ErrMalformed)
	}
	return Count{Seats: maxUsers, Used: used}, nil
}

// String keeps the password out of %v and %+v.
func (c Confluence) String() string { return redacted("Confluence", c.BaseURL, c.User) }

// GoString keeps the password out of %#v.
func (c Confluence) GoString() string { return c.String() }

// LogValue keeps the password out of slog.
func (c Confluence) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", c.BaseURL), slog.String("user", c.User),
		slog.String("password", "REDACTED"))
}

// Fixed is a pool whose seat count is configured (`seats: N`); usage is
// counted by the caller, typically the members of the pool's licence groups
// in the directory.
type Fixed struct {
	Seats int
	Used  func(ctx context.Context) (int, error)
}

var _ Source = Fixed{}

// Count implements Source.
func (f Fixed) Count(ctx context.Context) (Count, error) {
	if f.Used == nil {
		return Count{}, fmt.Errorf("fixed licence: no usage counter: %w", ErrUnavailable)
	}
	used, err := f.Used(ctx)
	if err != nil {
		return Count{}, fmt.Errorf("fixed licence: count users: %w: %w", ErrUnavailable, err)
	}
	return Count{Seats: f.Seats, Used: used}, nil
}
