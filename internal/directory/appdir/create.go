package appdir

import (
	"context"
	"fmt"
	"net/http"

	"github.com/floatseat/floatseat/internal/directory"
)

// Group creation, for floatseat's parking groups (DESIGN §2.10). Both apps
// create a group in their first writable directory; neither says "already
// exists" in a way worth parsing, so any refusal is settled by looking the
// group up.

var _ directory.GroupCreator = (*Dir)(nil)

// CreateGroup implements directory.GroupCreator.
func (d *Dir) CreateGroup(ctx context.Context, group string) error {
	if c, ok := d.impl.(directory.GroupCreator); ok {
		return c.CreateGroup(ctx, group)
	}
	return fmt.Errorf("%s create group %s: %w", d.c.product, group, directory.ErrNotSupported)
}

// CreateGroup posts /rest/api/2/group {"name"}: 201, 400 when it exists.
func (j *jira) CreateGroup(ctx context.Context, group string) error {
	err := createGroup(ctx, j.c, "/rest/api/2/group", group, j.groupExists)
	if err != nil {
		return fmt.Errorf("jira create group %s: %w", group, err)
	}
	return nil
}

// CreateGroup posts /rest/api/admin/group {"name"} (Confluence 8.x and
// later; older versions answer 404 and the group is created by hand).
func (cf *confluence) CreateGroup(ctx context.Context, group string) error {
	err := createGroup(ctx, cf.c, "/rest/api/admin/group", group, cf.groupExists)
	if err != nil {
		return fmt.Errorf("confluence create group %s: %w", group, err)
	}
	return nil
}

func createGroup(ctx context.Context, c *client, path, group string, exists func(context.Context, string) (bool, error)) error {
	res, err := c.do(ctx, http.MethodPost, path, nil, map[string]string{"name": group}, nil)
	if err != nil {
		return err
	}
	switch res.status {
	case http.StatusCreated, http.StatusOK, http.StatusNoContent:
		c.log.InfoContext(ctx, c.product+" group created", "group", group)
		return nil
	}
	ok, err := exists(ctx, group)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if res.status == http.StatusNotFound || res.status == http.StatusMethodNotAllowed {
		return fmt.Errorf("%w: %s", directory.ErrNotSupported, res.unexpected())
	}
	return res.unexpected()
}
