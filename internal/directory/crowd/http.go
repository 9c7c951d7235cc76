package crowd

// The HTTP side of the client: one request (do) through the shared REST
// client, Crowd's error entity, and paged list resources.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/rest"
)

func scope(nested bool) string {
	if nested {
		return "nested"
	}
	return "direct"
}

// response is a Crowd answer that was not an application-level failure
// (those become errors in do): its status and, for errors, Crowd's reason.
type response struct {
	method, resource string
	status           int
	reason, message  string
	body             []byte
}

// unexpected describes an answer the caller has no meaning for. It is not
// a typed error: a status floatseat does not understand is a bug or a
// misconfiguration (e.g. a wrong base URL), not something to retry.
func (r *response) unexpected() error {
	if r.reason != "" {
		return fmt.Errorf("unexpected answer to %s %s: %d %s: %s", r.method, r.resource, r.status, r.reason, r.message)
	}
	return fmt.Errorf("unexpected answer to %s %s: %d %s", r.method, r.resource, r.status, http.StatusText(r.status))
}

// namesPage is one page of a Crowd list resource, of users or of groups:
// the names are all floatseat reads of either.
type namesPage struct {
	Users  []named `json:"users"`
	Groups []named `json:"groups"`
}

type named struct {
	Name string `json:"name"`
}

func (p *namesPage) names() []string {
	out := make([]string, 0, len(p.Users)+len(p.Groups))
	for _, n := range p.Users {
		out = append(out, n.Name)
	}
	for _, n := range p.Groups {
		out = append(out, n.Name)
	}
	return out
}

// list reads every page of a list resource; onErr turns a non-200 answer
// into an error.
func (c *Client) list(ctx context.Context, resource string, q url.Values, onErr func(*response) error) ([]string, error) {
	var out []string
	start := 0
	for range maxPages {
		names, next, done, err := c.listPage(ctx, resource, q, start, onErr)
		if err != nil {
			return nil, err
		}
		out = append(out, names...)
		if done {
			return out, nil
		}
		start = next
	}
	return nil, fmt.Errorf("%s: more than %d pages; giving up", resource, maxPages)
}

// listPage reads the page of resource at start.
func (c *Client) listPage(ctx context.Context, resource string, q url.Values, start int,
	onErr func(*response) error) (names []string, next int, done bool, err error) {
	pq := url.Values{}
	for k, v := range q {
		pq[k] = v
	}
	pq.Set("start-index", fmt.Sprint(start))
	pq.Set("max-results", fmt.Sprint(c.pageSize))
	var page namesPage
	res, err := c.do(ctx, http.MethodGet, resource, pq, nil, &page)
	if err != nil {
		return nil, 0, false, err
	}
	if res.status != http.StatusOK {
		return nil, 0, false, onErr(res)
	}
	names = page.names()
	// Crowd has no "is last" flag: a short page is the last one.
	return names, start + len(names), len(names) < c.pageSize, nil
}

// do sends one request with its own deadline. It returns an error for
// transport failures, timeouts, 5xx (ErrUnavailable), for Crowd refusing
// the application itself (ErrPermissionDenied) and for a 200 answer that is
// not JSON (a login page in front of Crowd); every other answer is returned
// for the caller to interpret. out, if not nil, receives a 200 answer's
// JSON, parsed once.
func (c *Client) do(ctx context.Context, method, resource string, q url.Values, body, out any) (*response, error) {
	r, err := c.rest.Do(ctx, method, resource, q, body)
	if err != nil {
		// The *url.Error names the URL (no credentials: New refuses them)
		// and whether it was a timeout; both help the operator.
		return nil, fmt.Errorf("%w: %w", directory.ErrUnavailable, err)
	}
	data := r.Body
	res := &response{method: method, resource: resource, status: r.Status, body: data}
	if r.Status >= 300 {
		var e struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil {
			res.reason, res.message = e.Reason, e.Message
		}
	}

	switch kind := r.Err(); {
	case errors.Is(kind, rest.ErrUnauthorized):
		return nil, fmt.Errorf("crowd rejected the application credentials (app name %q): %w",
			c.appName, directory.ErrPermissionDenied)
	case errors.Is(kind, rest.ErrForbidden) && res.reason == reasonApplicationPermissionDenied:
		return nil, fmt.Errorf("crowd does not allow application %q to modify this directory (%s): %w",
			c.appName, res.message, directory.ErrPermissionDenied)
	case errors.Is(kind, rest.ErrForbidden):
		// Crowd answers 403 to a client whose address is not in the
		// application's "remote addresses"; its message names the address.
		msg := res.message
		if msg == "" {
			msg = strings.TrimSpace(string(data[:min(len(data), 200)]))
		}
		return nil, fmt.Errorf("address not allowed by crowd for application %q (%s): %w",
			c.appName, msg, directory.ErrPermissionDenied)
	case errors.Is(kind, rest.ErrUnavailable):
		return nil, fmt.Errorf("%s %s: %d %s: %w", method, resource, r.Status,
			http.StatusText(r.Status), directory.ErrUnavailable)
	case errors.Is(kind, rest.ErrRedirect):
		return nil, fmt.Errorf("%s %s: redirected to %q; is the crowd URL right?",
			method, resource, r.Header.Get("Location"))
	}
	switch err := r.DecodeOK(out); {
	case errors.Is(err, rest.ErrNotJSON):
		return nil, fmt.Errorf("%s %s: answer is not JSON; is the crowd URL right?", method, resource)
	case err != nil:
		return nil, fmt.Errorf("decode %s %s: %w", method, resource, err)
	}
	return res, nil
}
