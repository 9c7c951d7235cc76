package app

import (
	"log/slog"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/ldapdir"
)

// openLDAP opens the LDAP backend from directory.ldap.*.
func openLDAP(cfg *config.Config, log *slog.Logger) (directory.Directory, error) {
	l := cfg.Directory.LDAP
	return ldapdir.New(ldapdir.Config{
		URL: l.URL, BindDN: l.BindDN, BindPassword: l.BindPassword.Reveal(),
		UserBaseDN: l.UserBaseDN, UserFilter: l.UserFilter, UserNameAttribute: l.UserNameAttribute,
		GroupBaseDN: l.GroupBaseDN, GroupFilter: l.GroupFilter, GroupNameAttribute: l.GroupNameAttribute,
		MemberAttribute: l.MemberAttribute, MemberValue: l.MemberValue, Nested: l.Nested,
		ADMatchingRuleInChain: l.ADMatchingRuleInChain, StartTLS: l.StartTLS, CAFile: l.CAFile,
		InsecureSkipVerify: l.InsecureSkipVerify, Timeout: l.Timeout, PoolSize: l.PoolSize, PageSize: l.PageSize,
		EmptyMember: l.EmptyMember,
	}, log)
}
