package appdir

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/floatseat/floatseat/internal/directory"
)

// jira speaks Jira's /rest/api/2 group API.
//
// Direct and nested views are the same in Jira: its REST API only exposes
// effective membership (GET group/member includes subgroup members, and a
// user's expand=groups lists the groups of nested memberships too). The
// nested argument is therefore ignored for reads. floatseat's licence
// groups are normally flat, and writes are always direct.
type jira struct {
	c *client
	// pageSize is Jira's maximum for group/member (50).
	pageSize int
}

var _ product = (*jira)(nil)

// lookupUser returns user's groups; found is false when Jira does not know
// the user.
func (j *jira) lookupUser(ctx context.Context, user string) (groups []string, found bool, err error) {
	var body struct {
		Name   string `json:"name"`
		Groups struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
		} `json:"groups"`
	}
	res, err := j.c.get(ctx, "/rest/api/2/user", url.Values{"username": {user}, "expand": {"groups"}}, &body)
	if err != nil {
		return nil, false, err
	}
	switch res.status {
	case http.StatusOK:
		for _, g := range body.Groups.Items {
			groups = append(groups, g.Name)
		}
		return groups, true, nil
	case http.StatusNotFound:
		return nil, false, nil
	}
	return nil, false, res.unexpected()
}

// groupExists asks for one member of group: 404 means no such group.
func (j *jira) groupExists(ctx context.Context, group string) (bool, error) {
	var body struct{}
	res, err := j.c.get(ctx, "/rest/api/2/group/member", url.Values{
		"groupname": {group}, "includeInactiveUsers": {"true"}, "startAt": {"0"}, "maxResults": {"1"},
	}, &body)
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

func (j *jira) IsMember(ctx context.Context, user, group string, _ bool) (bool, error) {
	groups, found, err := j.lookupUser(ctx, user)
	if err == nil && !found {
		err = directory.ErrUserNotFound
	}
	if err != nil {
		return false, fmt.Errorf("jira is %s member of %s: %w", user, group, err)
	}
	if containsFold(groups, group) {
		return true, nil
	}
	// The user's groups cannot tell "not a member" from "no such group".
	exists, err := j.groupExists(ctx, group)
	if err == nil && !exists {
		err = directory.ErrGroupNotFound
	}
	if err != nil {
		return false, fmt.Errorf("jira is %s member of %s: %w", user, group, err)
	}
	return false, nil
}

func (j *jira) UserGroups(ctx context.Context, user string, _ bool) ([]string, error) {
	groups, found, err := j.lookupUser(ctx, user)
	if err == nil && !found {
		err = directory.ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("jira groups of %s: %w", user, err)
	}
	return groups, nil
}

func (j *jira) Members(ctx context.Context, group string, _ bool) ([]string, error) {
	return directory.AllPages(ctx, "jira members of "+group, func(ctx context.Context, cursor string) ([]string, string, error) {
		return j.membersPage(ctx, group, cursor)
	})
}

// membersPage reads the page of group's members at cursor (startAt).
// Jira gives at most 50 a page (REFERENCE §3) and says which page is the
// last (isLast); an empty page also ends the list, so that a server that
// never sets isLast cannot loop us forever.
func (j *jira) membersPage(ctx context.Context, group, cursor string) ([]string, string, error) {
	start, err := directory.Offset(cursor)
	var page struct {
		IsLast bool `json:"isLast"`
		Values []struct {
			Name string `json:"name"`
		} `json:"values"`
	}
	var res *response
	if err == nil {
		res, err = j.c.get(ctx, "/rest/api/2/group/member", url.Values{
			"groupname":            {group},
			"includeInactiveUsers": {"false"},
			"startAt":              {strconv.Itoa(start)},
			"maxResults":           {strconv.Itoa(j.pageSize)},
		}, &page)
	}
	switch {
	case err != nil:
	case res.status == http.StatusNotFound:
		err = directory.ErrGroupNotFound
	case res.status != http.StatusOK:
		err = res.unexpected()
	}
	if err != nil {
		return nil, "", fmt.Errorf("jira members of %s: %w", group, err)
	}
	names := make([]string, 0, len(page.Values))
	for _, v := range page.Values {
		names = append(names, v.Name)
	}
	return names, directory.NextOffset(start, len(names), page.IsLast || len(names) == 0), nil
}

// AddMember posts the membership. Jira answers 400 both when the user is
// already a member and when it does not know the user, so a 400 (or 404)
// is settled by looking at the user and the group.
func (j *jira) AddMember(ctx context.Context, user, group string) error {
	res, err := j.c.do(ctx, http.MethodPost, "/rest/api/2/group/user",
		url.Values{"groupname": {group}}, map[string]string{"name": user}, nil)
	if err == nil {
		switch res.status {
		case http.StatusCreated, http.StatusOK, http.StatusNoContent:
			j.c.log.DebugContext(ctx, "jira membership added", "user", user, "group", group)
			return nil
		case http.StatusBadRequest, http.StatusNotFound:
			var member bool
			member, err = j.settle(ctx, user, group)
			if err == nil && !member {
				// User and group exist and the user is still not in it:
				// Jira refused for a reason of its own (e.g. a read-only
				// directory); its message says which.
				err = res.unexpected()
			}
		default:
			err = res.unexpected()
		}
	}
	if err != nil {
		return fmt.Errorf("jira add %s to %s: %w", user, group, err)
	}
	return nil
}

// RemoveMember deletes the membership; "not a member" is success.
func (j *jira) RemoveMember(ctx context.Context, user, group string) error {
	res, err := j.c.do(ctx, http.MethodDelete, "/rest/api/2/group/user",
		url.Values{"groupname": {group}, "username": {user}}, nil, nil)
	if err == nil {
		switch res.status {
		case http.StatusOK, http.StatusNoContent:
			j.c.log.DebugContext(ctx, "jira membership removed", "user", user, "group", group)
			return nil
		case http.StatusBadRequest, http.StatusNotFound:
			var member bool
			member, err = j.settle(ctx, user, group)
			if err == nil && member {
				err = res.unexpected()
			}
		default:
			err = res.unexpected()
		}
	}
	if err != nil {
		return fmt.Errorf("jira remove %s from %s: %w", user, group, err)
	}
	return nil
}

// settle explains a refused write: ErrUserNotFound or ErrGroupNotFound when
// one is missing, otherwise whether user is now a member of group.
func (j *jira) settle(ctx context.Context, user, group string) (member bool, err error) {
	groups, found, err := j.lookupUser(ctx, user)
	if err != nil {
		return false, err
	}
	if !found {
		return false, directory.ErrUserNotFound
	}
	if containsFold(groups, group) {
		return true, nil
	}
	exists, err := j.groupExists(ctx, group)
	if err != nil {
		return false, err
	}
	if !exists {
		return false, directory.ErrGroupNotFound
	}
	return false, nil
}
