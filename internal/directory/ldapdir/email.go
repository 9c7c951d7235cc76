package ldapdir

import (
	"context"
	"fmt"

	"github.com/go-ldap/ldap/v3"

	"github.com/floatseat/floatseat/internal/directory"
)

// emailAttribute holds a user's e-mail in inetOrgPerson and Active
// Directory alike.
const emailAttribute = "mail"

var _ directory.EmailLookup = (*Dir)(nil)

// UserByEmail returns the username of the one user whose mail is email
// (SSO assertions that name the user by e-mail, docs/sso.md). None, or more
// than one, is ErrUserNotFound: a guess could name the wrong person.
func (d *Dir) UserByEmail(ctx context.Context, email string) (string, error) {
	var name string
	err := d.with(ctx, func(s *session) error {
		f := "(&" + fmt.Sprintf(d.cfg.UserFilter, "*") + "(" + emailAttribute + "=" + ldap.EscapeFilter(email) + "))"
		es, err := s.search(d.cfg.UserBaseDN, f, []string{d.cfg.UserNameAttribute})
		if err != nil {
			return err
		}
		if len(es) != 1 {
			return fmt.Errorf("ldap user with mail %s (%d found): %w", email, len(es), directory.ErrUserNotFound)
		}
		name = es[0].GetAttributeValue(d.cfg.UserNameAttribute)
		return nil
	})
	return name, err
}
