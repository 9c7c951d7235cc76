package crowd

// The HTTP side of the client: one request (do) through the shared REST
// client, Crowd's error entity, and paged list resources.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
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

// pages reads a Crowd list resource a page at a time (directory.PageFunc):
// the cursor is the start-index, each page asks for max-results pageSize
// (Crowd's default and largest, 1000), and a shorter page is the last, for
// Crowd has no "is last" flag. onErr turns a non-200 answer into an error;
// what ("crowd members of g") prefixes every error.
func (c *Client) pages(what, resource string, q url.Values, onErr func(*response) error) directory.PageFunc {
	return func(ctx context.Context, cursor string) ([]string, string, error) {
		start, err := directory.Offset(cursor)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", what, err)
		}
		pq := url.Values{}
		maps.Copy(pq, q)
		pq.Set("start-index", strconv.Itoa(start))
		pq.Set("max-results", strconv.Itoa(c.pageSize))
		var page namesPage
		res, err := c.do(ctx, http.MethodGet, resource, pq, nil, &page)
		if err == nil && res.status != http.StatusOK {
			err = onErr(res)
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", what, err)
		}
		names := page.names()
		return names, directory.NextOffset(start, len(names), len(names) < c.pageSize), nil
	}
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
