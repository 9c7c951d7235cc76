package identity

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// SSO routes (REFERENCE §2). At the SAML consumer the username is read from
// the assertion (NameID, or the attribute the app's username mapping uses),
// mapped from an e-mail through the directory when the assertion names
// users by e-mail. Where it cannot be read (an encrypted assertion, an
// OIDC callback) the browser hint names the user instead.

// SAMLOptions say where a SAML assertion carries the username.
type SAMLOptions struct {
	// UsernameAttribute: the attribute carrying the username ("" = NameID).
	UsernameAttribute string
	// Emails maps the value, an e-mail, to the username; nil: the value is
	// the username.
	Emails *EmailMapper
}

// EmailLookup finds the username of an e-mail (directory.EmailLookup).
type EmailLookup interface {
	UserByEmail(ctx context.Context, email string) (string, error)
}

// EmailMapper caches e-mail → username answers of the directory: a hit
// for an hour, a miss for a minute.
type EmailMapper struct {
	dir     EmailLookup
	timeout time.Duration
	hits    *expirable.LRU[string, string]
	misses  *expirable.LRU[string, struct{}]
	log     *slog.Logger
}

// NewEmailMapper returns a mapper asking dir, each lookup bounded by timeout.
func NewEmailMapper(dir EmailLookup, timeout time.Duration, log *slog.Logger) *EmailMapper {
	return &EmailMapper{
		dir: dir, timeout: timeout, log: log,
		hits:   expirable.NewLRU[string, string](10000, nil, time.Hour),
		misses: expirable.NewLRU[string, struct{}](10000, nil, time.Minute),
	}
}

// User returns the username of email, or "" when the directory knows no
// single user with it or cannot be asked in time.
func (m *EmailMapper) User(ctx context.Context, email string) string {
	if u, ok := m.hits.Get(email); ok {
		return u
	}
	if _, ok := m.misses.Get(email); ok {
		return ""
	}
	lctx, cancel := context.WithTimeout(ctx, m.timeout)
	u, err := m.dir.UserByEmail(lctx, email)
	cancel()
	if err != nil || u == "" {
		if err != nil {
			m.log.Debug("no username for an SSO e-mail", "err", err)
		}
		m.misses.Add(email, struct{}{})
		return ""
	}
	m.hits.Add(email, u)
	return u
}

// identifySAML reads the user of a SAML consumer post.
func (i *Identifier) identifySAML(ctx context.Context, r *http.Request, id *Identity) {
	body, complete, err := ReadLoginBody(r, MaxLoginBody)
	if err != nil || !complete {
		return
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil && len(vals) == 0 {
		return
	}
	a, err := ReadSAMLResponse(vals.Get("SAMLResponse"))
	if err != nil || a.Encrypted {
		return
	}
	v := a.NameID
	if i.SAML.UsernameAttribute != "" {
		v = a.Attribute(i.SAML.UsernameAttribute)
	}
	if v == "" {
		return
	}
	if i.SAML.Emails != nil {
		if v = i.SAML.Emails.User(ctx, v); v == "" {
			return
		}
	}
	if u, err := cleanUser(v); err == nil {
		id.User, id.Source = u, SourceLoginBody
	}
}
