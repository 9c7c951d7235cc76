// Package ldapdir is the LDAP and Active Directory backend: groups are
// entries under a base DN whose member attribute (member, uniqueMember or
// memberUid) holds user DNs or uids; floatseat adds and removes a value
// with one Modify on the group entry.
package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/floatseat/floatseat/internal/directory"
)

// Config mirrors directory.ldap.* of the configuration.
type Config struct {
	URL, BindDN, BindPassword string
	UserBaseDN, UserFilter    string // UserFilter holds %s for the escaped username
	UserNameAttribute         string
	GroupBaseDN, GroupFilter  string
	GroupNameAttribute        string
	MemberAttribute           string // member | uniqueMember | memberUid
	MemberValue               string // dn | uid
	Nested                    bool   // informational: nested answers are given when asked
	ADMatchingRuleInChain     bool
	StartTLS                  bool
	CAFile                    string
	InsecureSkipVerify        bool
	Timeout                   time.Duration
	PoolSize, PageSize        int
	// EmptyMember is the DN a groupOfNames or groupOfUniqueNames keeps when
	// its last member leaves (the schema requires one). Default
	// cn=floatseat-empty,<GroupBaseDN>: under the group base, so it is
	// never taken for a user.
	EmptyMember string
}

// Dir is an LDAP directory. Safe for concurrent use.
type Dir struct {
	cfg  Config
	log  *slog.Logger
	tls  *tls.Config
	pool chan *ldap.Conn
	// hook, when set (tests), is called before every request of a call.
	hook func(event)
}

var (
	_ directory.Directory        = (*Dir)(nil)
	_ directory.PasswordVerifier = (*Dir)(nil)
)

// New checks cfg and returns a Dir; connections are opened on demand.
func New(cfg Config, log *slog.Logger) (*Dir, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = 4
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 500
	}
	if cfg.UserNameAttribute == "" {
		cfg.UserNameAttribute = "uid"
	}
	if cfg.GroupNameAttribute == "" {
		cfg.GroupNameAttribute = "cn"
	}
	if cfg.MemberAttribute == "" {
		cfg.MemberAttribute = "member"
	}
	if cfg.MemberValue == "" {
		cfg.MemberValue = "dn"
	}
	if cfg.GroupFilter == "" {
		cfg.GroupFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
	}
	if cfg.EmptyMember == "" {
		cfg.EmptyMember = "cn=floatseat-empty," + cfg.GroupBaseDN
	}
	if strings.Count(cfg.UserFilter, "%s") != 1 {
		return nil, fmt.Errorf("ldap user filter %q: want exactly one %%s", cfg.UserFilter)
	}
	d := &Dir{cfg: cfg, log: log, pool: make(chan *ldap.Conn, cfg.PoolSize)}
	u := strings.ToLower(cfg.URL)
	if strings.HasPrefix(u, "ldaps://") || cfg.StartTLS {
		tc := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // admin's explicit choice
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ldap ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ldap ca_file %s: no certificate", cfg.CAFile)
			}
		}
		d.tls = tc
	}
	return d, nil
}

// Close closes pooled connections.
func (d *Dir) Close() error {
	for {
		select {
		case c := <-d.pool:
			c.Close()
		default:
			return nil
		}
	}
}

func (d *Dir) dial(ctx context.Context, bindDN, password string) (*ldap.Conn, error) {
	dl := &net.Dialer{Timeout: d.cfg.Timeout}
	opts := []ldap.DialOpt{ldap.DialWithDialer(dl)}
	if d.tls != nil {
		opts = append(opts, ldap.DialWithTLSConfig(d.tls))
	}
	c, err := ldap.DialURL(d.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("ldap dial: %w: %v", directory.ErrUnavailable, err)
	}
	c.SetTimeout(d.cfg.Timeout)
	if d.cfg.StartTLS {
		if err := c.StartTLS(d.tls); err != nil {
			c.Close()
			return nil, fmt.Errorf("ldap starttls: %w", mapErr(err))
		}
	}
	if err := c.Bind(bindDN, password); err != nil {
		c.Close()
		return nil, fmt.Errorf("ldap bind as %s: %w", bindDN, mapErr(err))
	}
	return c, nil
}

// mapErr turns LDAP result codes into the typed errors of the interface.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errLost) && !errors.Is(err, directory.ErrUnavailable) {
		return fmt.Errorf("%w: %v", directory.ErrUnavailable, err)
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.ErrorNetwork, ldap.LDAPResultServerDown, ldap.LDAPResultUnavailable, ldap.LDAPResultBusy,
			ldap.LDAPResultTimeout, ldap.LDAPResultConnectError, ldap.ErrorUnexpectedResponse:
			return fmt.Errorf("%w: %v", directory.ErrUnavailable, err)
		case ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultUnwillingToPerform:
			return fmt.Errorf("%w: %v", directory.ErrPermissionDenied, err)
		case ldap.LDAPResultInvalidCredentials:
			return fmt.Errorf("%w: %v", directory.ErrBadCredentials, err)
		}
	}
	if errors.Is(err, directory.ErrUnavailable) || errors.Is(err, directory.ErrUserNotFound) ||
		errors.Is(err, directory.ErrGroupNotFound) || errors.Is(err, directory.ErrPermissionDenied) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("%w: %v", directory.ErrUnavailable, err)
	}
	return err
}

type userEntry struct{ dn, name string }

type groupEntry struct {
	dn, name string
	values   []string
}

func (d *Dir) findUser(s *session, user string) (userEntry, error) {
	f := fmt.Sprintf(d.cfg.UserFilter, ldap.EscapeFilter(user))
	es, err := s.search(d.cfg.UserBaseDN, f, []string{d.cfg.UserNameAttribute})
	if err != nil {
		return userEntry{}, err
	}
	if len(es) == 0 {
		return userEntry{}, fmt.Errorf("ldap user %s: %w", user, directory.ErrUserNotFound)
	}
	return userEntry{dn: es[0].DN, name: es[0].GetAttributeValue(d.cfg.UserNameAttribute)}, nil
}

func (d *Dir) groupFilter(extra string) string {
	return "(&" + d.cfg.GroupFilter + extra + ")"
}

func (d *Dir) findGroup(s *session, group string) (groupEntry, error) {
	f := d.groupFilter("(" + d.cfg.GroupNameAttribute + "=" + ldap.EscapeFilter(group) + ")")
	es, err := s.search(d.cfg.GroupBaseDN, f, []string{d.cfg.GroupNameAttribute, d.cfg.MemberAttribute})
	if err != nil {
		return groupEntry{}, err
	}
	if len(es) == 0 {
		return groupEntry{}, fmt.Errorf("ldap group %s: %w", group, directory.ErrGroupNotFound)
	}
	return d.toGroup(s, es[0])
}

// toGroup reads a group entry, every member value included (ranged.go).
func (d *Dir) toGroup(s *session, e *ldap.Entry) (groupEntry, error) {
	vs, err := d.memberValues(s, e)
	if err != nil {
		return groupEntry{}, err
	}
	return groupEntry{dn: e.DN, name: e.GetAttributeValue(d.cfg.GroupNameAttribute), values: vs}, nil
}

// allGroups reads every group once, for nested questions.
func (d *Dir) allGroups(s *session) (map[string]groupEntry, error) {
	es, err := s.search(d.cfg.GroupBaseDN, d.cfg.GroupFilter, []string{d.cfg.GroupNameAttribute, d.cfg.MemberAttribute})
	if err != nil {
		return nil, err
	}
	out := make(map[string]groupEntry, len(es))
	for _, e := range es {
		g, err := d.toGroup(s, e)
		if err != nil {
			return nil, err
		}
		out[normDN(e.DN)] = g
	}
	return out, nil
}

func normDN(dn string) string {
	if p, err := ldap.ParseDN(dn); err == nil {
		parts := make([]string, len(p.RDNs))
		for i, r := range p.RDNs {
			var as []string
			for _, a := range r.Attributes {
				as = append(as, strings.ToLower(a.Type)+"="+strings.ToLower(a.Value))
			}
			parts[i] = strings.Join(as, "+")
		}
		return strings.Join(parts, ",")
	}
	return strings.ToLower(dn)
}

func (d *Dir) value(u userEntry) string {
	if d.cfg.MemberValue == "uid" {
		return u.name
	}
	return u.dn
}

func (d *Dir) holds(g groupEntry, v string) bool {
	for _, x := range g.values {
		if d.cfg.MemberValue == "dn" && normDN(x) == normDN(v) || d.cfg.MemberValue != "dn" && strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func (d *Dir) modify(ctx context.Context, user, group string, add bool) error {
	return d.with(ctx, func(s *session) error {
		u, err := d.findUser(s, user)
		if err != nil {
			return err
		}
		g, err := d.findGroup(s, group)
		if err != nil {
			return err
		}
		m := ldap.NewModifyRequest(g.dn, nil)
		if add {
			m.Add(d.cfg.MemberAttribute, []string{d.value(u)})
		} else {
			m.Delete(d.cfg.MemberAttribute, []string{d.value(u)})
		}
		err = s.c.Modify(m)
		if !add && ldap.IsErrorWithCode(err, ldap.LDAPResultObjectClassViolation) && d.cfg.MemberValue == "dn" {
			// The last member of a class that must have one: swap it for
			// the placeholder in one atomic change.
			m = ldap.NewModifyRequest(g.dn, nil)
			m.Delete(d.cfg.MemberAttribute, []string{d.value(u)})
			m.Add(d.cfg.MemberAttribute, []string{d.cfg.EmptyMember})
			err = s.c.Modify(m)
		}
		switch {
		case err == nil:
			return nil
		case add && ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists):
			return nil // already a member
		case !add && ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute):
			return nil // not a member
		}
		op := "remove"
		if add {
			op = "add"
		}
		return fmt.Errorf("ldap %s %s to %s: %w", op, user, group, mapErr(err))
	})
}

// AddMember implements directory.Directory.
func (d *Dir) AddMember(ctx context.Context, user, group string) error {
	return d.modify(ctx, user, group, true)
}

// RemoveMember implements directory.Directory.
func (d *Dir) RemoveMember(ctx context.Context, user, group string) error {
	return d.modify(ctx, user, group, false)
}

// VerifyPassword binds as the user on a connection of its own.
func (d *Dir) VerifyPassword(ctx context.Context, user, password string) error {
	if password == "" {
		return directory.ErrBadCredentials // an empty password would be an anonymous bind
	}
	var dn string
	err := d.with(ctx, func(s *session) error {
		u, err := d.findUser(s, user)
		dn = u.dn
		return err
	})
	if err != nil {
		return err
	}
	c, err := d.dial(ctx, dn, password)
	if err != nil {
		return err
	}
	c.Close()
	return nil
}
