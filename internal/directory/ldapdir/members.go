package ldapdir

// Reading membership: one user's groups, one group's members, nested or not.

import (
	"context"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/floatseat/floatseat/internal/directory"
)

// IsMember implements directory.Directory.
func (d *Dir) IsMember(ctx context.Context, user, group string, nested bool) (bool, error) {
	groups, err := d.UserGroups(ctx, user, nested)
	if err != nil {
		return false, err
	}
	found := false
	err = d.with(ctx, func(s *session) error {
		_, err := d.findGroup(s, group)
		return err
	})
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if strings.EqualFold(g, group) {
			found = true
		}
	}
	return found, nil
}

// UserGroups implements directory.Directory.
func (d *Dir) UserGroups(ctx context.Context, user string, nested bool) ([]string, error) {
	var out []string
	err := d.with(ctx, func(s *session) error {
		u, err := d.findUser(s, user)
		if err != nil {
			return err
		}
		if nested && d.cfg.ADMatchingRuleInChain && d.cfg.MemberValue == "dn" {
			f := d.groupFilter("(" + d.cfg.MemberAttribute + ":1.2.840.113556.1.4.1941:=" + ldap.EscapeFilter(u.dn) + ")")
			es, err := s.search(d.cfg.GroupBaseDN, f, []string{d.cfg.GroupNameAttribute})
			for _, e := range es {
				out = append(out, e.GetAttributeValue(d.cfg.GroupNameAttribute))
			}
			return err
		}
		f := d.groupFilter("(" + d.cfg.MemberAttribute + "=" + ldap.EscapeFilter(d.value(u)) + ")")
		es, err := s.search(d.cfg.GroupBaseDN, f, []string{d.cfg.GroupNameAttribute})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		queue := make([]string, 0, len(es))
		for _, e := range es {
			seen[normDN(e.DN)] = true
			out = append(out, e.GetAttributeValue(d.cfg.GroupNameAttribute))
			queue = append(queue, e.DN)
		}
		if !nested || d.cfg.MemberValue != "dn" {
			return nil // uid-valued groups (posixGroup) cannot nest
		}
		// Walk up: groups whose members include a group already found.
		// seen guards against membership cycles.
		for len(queue) > 0 {
			dn := queue[0]
			queue = queue[1:]
			f := d.groupFilter("(" + d.cfg.MemberAttribute + "=" + ldap.EscapeFilter(dn) + ")")
			parents, err := s.search(d.cfg.GroupBaseDN, f, []string{d.cfg.GroupNameAttribute})
			if err != nil {
				return err
			}
			for _, p := range parents {
				if k := normDN(p.DN); !seen[k] {
					seen[k] = true
					out = append(out, p.GetAttributeValue(d.cfg.GroupNameAttribute))
					queue = append(queue, p.DN)
				}
			}
		}
		return nil
	})
	return out, err
}

// Members implements directory.Directory. Member values that name neither
// a user nor a group (the placeholder a groupOfNames must keep when empty)
// are skipped.
func (d *Dir) Members(ctx context.Context, group string, nested bool) ([]string, error) {
	return d.MembersPaged(ctx, group, nested, nil)
}

var _ directory.ConnPager = (*Dir)(nil)

// MembersPaged implements directory.ConnPager: Members, with each request
// under its own deadline, resumed over a new connection as far as LDAP
// allows (session.go), and reported to page.
func (d *Dir) MembersPaged(ctx context.Context, group string, nested bool, page func(error, time.Duration)) ([]string, error) {
	var out []string
	err := d.run(ctx, listingRestarts, page, func(s *session) error {
		g, err := d.findGroup(s, group)
		if err != nil {
			return err
		}
		var all map[string]groupEntry
		if nested && d.cfg.MemberValue == "dn" {
			if all, err = d.allGroups(s); err != nil {
				return err
			}
		}
		seenG := map[string]bool{normDN(g.dn): true}
		seenU := map[string]bool{}
		var walk func(g groupEntry) error
		walk = func(g groupEntry) error {
			for _, v := range g.values {
				if d.cfg.MemberValue != "dn" {
					if !seenU[strings.ToLower(v)] {
						seenU[strings.ToLower(v)] = true
						out = append(out, v)
					}
					continue
				}
				k := normDN(v)
				if sub, ok := all[k]; ok {
					if !seenG[k] {
						seenG[k] = true
						if err := walk(sub); err != nil {
							return err
						}
					}
					continue
				}
				if d.isGroupDN(v) {
					continue // a subgroup, and this is the direct view
				}
				name, err := d.nameOf(s, v)
				if err != nil {
					return err
				}
				if name != "" && !seenU[strings.ToLower(name)] {
					seenU[strings.ToLower(name)] = true
					out = append(out, name)
				}
			}
			return nil
		}
		return walk(g)
	})
	return out, err
}

func (d *Dir) isGroupDN(dn string) bool {
	return strings.HasSuffix(normDN(dn), normDN(d.cfg.GroupBaseDN))
}

// nameOf maps a user DN to its username, from the RDN when it is the name
// attribute, else by reading the entry. "" when no such user exists.
func (d *Dir) nameOf(s *session, dn string) (string, error) {
	if p, err := ldap.ParseDN(dn); err == nil && len(p.RDNs) > 0 && len(p.RDNs[0].Attributes) == 1 &&
		strings.EqualFold(p.RDNs[0].Attributes[0].Type, d.cfg.UserNameAttribute) {
		if !strings.HasSuffix(normDN(dn), normDN(d.cfg.UserBaseDN)) {
			return "", nil
		}
		return p.RDNs[0].Attributes[0].Value, nil
	}
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)",
		[]string{d.cfg.UserNameAttribute}, nil)
	var res *ldap.SearchResult
	err := s.resumable("read", func(c *ldap.Conn) (e error) { res, e = c.Search(req); return })
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return "", nil
	}
	if err != nil {
		return "", mapErr(err)
	}
	if len(res.Entries) == 0 {
		return "", nil
	}
	return res.Entries[0].GetAttributeValue(d.cfg.UserNameAttribute), nil
}
