package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/floatseat/floatseat/internal/directory"
)

var _ directory.GroupCreator = (*Dir)(nil)

// CreateGroup adds a group entry <name attribute>=group under the group
// base DN, for floatseat's parking groups (DESIGN §2.10). The object class
// follows the member attribute: groupOfNames (member, holding the
// placeholder EmptyMember until someone is parked), groupOfUniqueNames
// (uniqueMember, likewise), or Active Directory's group. A posixGroup needs
// a gidNumber floatseat cannot choose: ErrNotSupported, create it by hand.
// A group that exists is success.
func (d *Dir) CreateGroup(ctx context.Context, group string) error {
	attrs := map[string][]string{d.cfg.GroupNameAttribute: {group}}
	switch {
	case d.cfg.ADMatchingRuleInChain:
		attrs["objectClass"] = []string{"top", "group"}
	case strings.EqualFold(d.cfg.MemberAttribute, "member"):
		attrs["objectClass"] = []string{"top", "groupOfNames"}
		attrs["member"] = []string{d.cfg.EmptyMember}
	case strings.EqualFold(d.cfg.MemberAttribute, "uniqueMember"):
		attrs["objectClass"] = []string{"top", "groupOfUniqueNames"}
		attrs["uniqueMember"] = []string{d.cfg.EmptyMember}
	default:
		return fmt.Errorf("ldap create group %s: a group with %s members needs attributes floatseat cannot choose (posixGroup: gidNumber): %w",
			group, d.cfg.MemberAttribute, directory.ErrNotSupported)
	}
	return d.with(ctx, func(s *session) error {
		switch _, err := d.findGroup(s, group); {
		case err == nil:
			return nil
		case !errors.Is(err, directory.ErrGroupNotFound):
			return err
		}
		dn := d.cfg.GroupNameAttribute + "=" + ldap.EscapeDN(group) + "," + d.cfg.GroupBaseDN
		r := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			r.Attribute(k, v)
		}
		err := s.c.Add(r)
		switch {
		case err == nil:
			d.log.InfoContext(ctx, "ldap group created", "group", group, "dn", dn)
			return nil
		case ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists):
			return nil
		}
		return fmt.Errorf("ldap create group %s: %w", group, mapErr(err))
	})
}
