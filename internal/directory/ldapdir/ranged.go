package ldapdir

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/floatseat/floatseat/internal/directory"
)

// Active Directory returns at most MaxValRange (1,500 by default) values of
// a multi-valued attribute per read: a larger group's entry then carries
// "member;range=0-1499" instead of "member", and the rest is read with
// "member;range=1500-*" and so on until a range ends in "*". memberValues
// does that, so a group of any size is read whole (issue #13).

// memberValues returns every value of the member attribute of e, reading
// the further ranges from the server when the entry came ranged. Each
// range is a search of its own, so after a lost connection a listing
// resumes at the range it was reading (session.resumable).
func (d *Dir) memberValues(s *session, e *ldap.Entry) ([]string, error) {
	attr := d.cfg.MemberAttribute
	if vs := e.GetAttributeValues(attr); len(vs) > 0 {
		return vs, nil
	}
	vals, next, ranged := rangedValues(e, attr)
	if !ranged {
		return nil, nil
	}
	for reads := 0; next >= 0; reads++ {
		if reads > directory.MaxPages {
			return nil, fmt.Errorf("ldap group %s: more than %d ranges of %s; giving up", e.DN, directory.MaxPages, attr)
		}
		req := ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{attr + ";range=" + strconv.Itoa(next) + "-*"}, nil)
		var res *ldap.SearchResult
		if err := s.resumable("range", func(c *ldap.Conn) (e error) { res, e = c.Search(req); return }); err != nil {
			return nil, mapErr(err)
		}
		if len(res.Entries) == 0 {
			return nil, fmt.Errorf("ldap group %s: range %d-* of %s: no entry", e.DN, next, attr)
		}
		more, n, ok := rangedValues(res.Entries[0], attr)
		if !ok {
			return nil, fmt.Errorf("ldap group %s: range %d-* of %s: no ranged values", e.DN, next, attr)
		}
		if n >= 0 && n <= next {
			return nil, fmt.Errorf("ldap group %s: range of %s does not advance past %d", e.DN, attr, next)
		}
		vals, next = append(vals, more...), n
	}
	return vals, nil
}

// rangedValues finds "attr;range=lo-hi" in e: its values, and the first
// index of the next range (-1 when hi is "*", the last).
func rangedValues(e *ldap.Entry, attr string) (vals []string, next int, ok bool) {
	prefix := strings.ToLower(attr) + ";range="
	for _, a := range e.Attributes {
		rng, found := strings.CutPrefix(strings.ToLower(a.Name), prefix)
		if !found {
			continue
		}
		_, hi, _ := strings.Cut(rng, "-")
		if hi == "*" {
			return a.Values, -1, true
		}
		n, err := strconv.Atoi(hi)
		if err != nil {
			return nil, -1, false
		}
		return a.Values, n + 1, true
	}
	return nil, -1, false
}
