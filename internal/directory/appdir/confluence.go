package appdir

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/floatseat/floatseat/internal/directory"
)

// confluence speaks Confluence's /rest/api group API.
//
// Confluence's REST API has no separate direct and nested views either:
// group/{g}/member and user/memberof give what Confluence's user accessor
// returns, and the nested argument is ignored for reads. Writes are
// direct and idempotent (PUT and DELETE both answer 204 whatever the prior
// state).
type confluence struct {
	c *client
	// pageSize is Confluence's usual maximum limit (200).
	pageSize int
}

var _ directory.Directory = (*confluence)(nil)

func membershipPath(user, group string) string {
	return "/rest/api/user/" + url.PathEscape(user) + "/group/" + url.PathEscape(group)
}

// pageOf is Confluence's paged list envelope.
type pageOf[T any] struct {
	Results []T `json:"results"`
	Start   int `json:"start"`
	Limit   int `json:"limit"`
	Size    int `json:"size"`
	Links   struct {
		Next string `json:"next"`
	} `json:"_links"`
}

// list reads every page of path. notFound is the error for a 404.
func list[T any](ctx context.Context, cf *confluence, path string, q url.Values, notFound error, each func(T)) error {
	start := 0
	for range maxPages {
		items, next, done, err := listPage[T](ctx, cf, path, q, notFound, start)
		if err != nil {
			return err
		}
		for _, r := range items {
			each(r)
		}
		if done {
			return nil
		}
		start = next
	}
	return fmt.Errorf("%s: more than %d pages; giving up", path, maxPages)
}

// listPage reads the page of path that starts at start.
func listPage[T any](ctx context.Context, cf *confluence, path string, q url.Values, notFound error, start int) (items []T, next int, done bool, err error) {
	pq := url.Values{}
	for k, v := range q {
		pq[k] = v
	}
	pq.Set("start", strconv.Itoa(start))
	pq.Set("limit", strconv.Itoa(cf.pageSize))
	var page pageOf[T]
	res, err := cf.c.get(ctx, path, pq, &page)
	if err != nil {
		return nil, 0, false, err
	}
	switch res.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, 0, false, notFound
	default:
		return nil, 0, false, res.unexpected()
	}
	// Confluence links the next page while there is one; a short or
	// empty page also ends the list, whatever the links say.
	done = page.Links.Next == "" || len(page.Results) == 0 || len(page.Results) < cf.pageSize
	return page.Results, start + len(page.Results), done, nil
}

func (cf *confluence) userGroups(ctx context.Context, user string) ([]string, error) {
	var out []string
	err := list(ctx, cf, "/rest/api/user/memberof", url.Values{"username": {user}}, directory.ErrUserNotFound,
		func(g struct {
			Name string `json:"name"`
		}) {
			out = append(out, g.Name)
		})
	return out, err
}

// exists reports whether GET path answers 200 (404: false).
func (cf *confluence) exists(ctx context.Context, path string, q url.Values) (bool, error) {
	var body struct{}
	res, err := cf.c.get(ctx, path, q, &body)
	if err != nil {
		return false, err
	}
	switch res.status {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, res.unexpected()
}

func (cf *confluence) groupExists(ctx context.Context, group string) (bool, error) {
	return cf.exists(ctx, "/rest/api/group/"+url.PathEscape(group), nil)
}

func (cf *confluence) IsMember(ctx context.Context, user, group string, _ bool) (bool, error) {
	groups, err := cf.userGroups(ctx, user)
	if err != nil {
		return false, fmt.Errorf("confluence is %s member of %s: %w", user, group, err)
	}
	if containsFold(groups, group) {
		return true, nil
	}
	// memberof cannot tell "not a member" from "no such group".
	exists, err := cf.groupExists(ctx, group)
	if err == nil && !exists {
		err = directory.ErrGroupNotFound
	}
	if err != nil {
		return false, fmt.Errorf("confluence is %s member of %s: %w", user, group, err)
	}
	return false, nil
}

func (cf *confluence) UserGroups(ctx context.Context, user string, _ bool) ([]string, error) {
	groups, err := cf.userGroups(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("confluence groups of %s: %w", user, err)
	}
	return groups, nil
}

func (cf *confluence) Members(ctx context.Context, group string, _ bool) ([]string, error) {
	var out []string
	err := list(ctx, cf, "/rest/api/group/"+url.PathEscape(group)+"/member", nil, directory.ErrGroupNotFound,
		func(u struct {
			Username string `json:"username"`
		}) {
			out = append(out, u.Username)
		})
	if err != nil {
		return nil, fmt.Errorf("confluence members of %s: %w", group, err)
	}
	return out, nil
}

// membersPage reads the page of group's members that starts at start.
func (cf *confluence) membersPage(ctx context.Context, group string, start int) ([]string, int, bool, error) {
	us, next, done, err := listPage[struct {
		Username string `json:"username"`
	}](ctx, cf, "/rest/api/group/"+url.PathEscape(group)+"/member", nil, directory.ErrGroupNotFound, start)
	if err != nil {
		return nil, 0, false, fmt.Errorf("confluence members of %s: %w", group, err)
	}
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = u.Username
	}
	return names, next, done, nil
}

func (cf *confluence) AddMember(ctx context.Context, user, group string) error {
	if err := cf.write(ctx, http.MethodPut, user, group); err != nil {
		return fmt.Errorf("confluence add %s to %s: %w", user, group, err)
	}
	cf.c.log.DebugContext(ctx, "confluence membership added", "user", user, "group", group)
	return nil
}

func (cf *confluence) RemoveMember(ctx context.Context, user, group string) error {
	if err := cf.write(ctx, http.MethodDelete, user, group); err != nil {
		return fmt.Errorf("confluence remove %s from %s: %w", user, group, err)
	}
	cf.c.log.DebugContext(ctx, "confluence membership removed", "user", user, "group", group)
	return nil
}

// write PUTs or DELETEs a membership. Both are idempotent in Confluence; a
// 404 means the user or the group is missing, and which one is looked up.
func (cf *confluence) write(ctx context.Context, method, user, group string) error {
	res, err := cf.c.do(ctx, method, membershipPath(user, group), nil, nil, nil)
	if err != nil {
		return err
	}
	switch res.status {
	case http.StatusNoContent, http.StatusOK, http.StatusCreated:
		return nil
	case http.StatusNotFound:
		found, err := cf.exists(ctx, "/rest/api/user", url.Values{"username": {user}})
		if err != nil {
			return err
		}
		if !found {
			return directory.ErrUserNotFound
		}
		exists, err := cf.groupExists(ctx, group)
		if err != nil {
			return err
		}
		if !exists {
			return directory.ErrGroupNotFound
		}
	}
	return res.unexpected()
}
