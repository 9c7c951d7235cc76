package appdir

import (
	"context"
	"fmt"
	"maps"
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

var _ product = (*confluence)(nil)

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

// pages reads a Confluence list resource a page at a time
// (directory.PageFunc): the cursor is start, and each page asks for limit
// pageSize. The answer's own limit is the page size Confluence applied
// (it may cap what was asked), so a page of fewer results than that
// limit, an empty page, or one without a next link is the last. name is
// what floatseat reads of an item; notFound is the error for a 404; what
// ("confluence members of g"), unless empty, prefixes every error.
func pages[T any](cf *confluence, what, path string, q url.Values, notFound error, name func(T) string) directory.PageFunc {
	return func(ctx context.Context, cursor string) ([]string, string, error) {
		start, err := directory.Offset(cursor)
		var page pageOf[T]
		var res *response
		if err == nil {
			pq := url.Values{}
			maps.Copy(pq, q)
			pq.Set("start", strconv.Itoa(start))
			pq.Set("limit", strconv.Itoa(cf.pageSize))
			res, err = cf.c.get(ctx, path, pq, &page)
		}
		switch {
		case err != nil:
		case res.status == http.StatusNotFound:
			err = notFound
		case res.status != http.StatusOK:
			err = res.unexpected()
		}
		if err != nil {
			if what != "" {
				err = fmt.Errorf("%s: %w", what, err)
			}
			return nil, "", err
		}
		names := make([]string, len(page.Results))
		for i, r := range page.Results {
			names[i] = name(r)
		}
		limit := page.Limit
		if limit <= 0 {
			limit = cf.pageSize
		}
		last := page.Links.Next == "" || len(names) == 0 || len(names) < limit
		return names, directory.NextOffset(start, len(names), last), nil
	}
}

// userGroups lists user's groups; the callers say what for in errors.
func (cf *confluence) userGroups(ctx context.Context, user string) ([]string, error) {
	return directory.AllPages(ctx, "confluence groups of "+user,
		pages(cf, "", "/rest/api/user/memberof", url.Values{"username": {user}}, directory.ErrUserNotFound,
			func(g struct {
				Name string `json:"name"`
			}) string {
				return g.Name
			}))
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
	return directory.AllPages(ctx, "confluence members of "+group, cf.members(group))
}

// membersPage reads the page of group's members at cursor.
func (cf *confluence) membersPage(ctx context.Context, group, cursor string) ([]string, string, error) {
	return cf.members(group)(ctx, cursor)
}

func (cf *confluence) members(group string) directory.PageFunc {
	return pages(cf, "confluence members of "+group, "/rest/api/group/"+url.PathEscape(group)+"/member", nil, directory.ErrGroupNotFound,
		func(u struct {
			Username string `json:"username"`
		}) string {
			return u.Username
		})
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
