package identity

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Source says how the user of a request was found.
type Source uint8

// Sources.
const (
	SourceNone       Source = iota
	SourceLoginBody         // the login form or JSON names the user
	SourceBasic             // a Basic Authorization header
	SourceSession           // a learned JSESSIONID
	SourceRememberMe        // a learned remember-me cookie
	SourceBearer            // a learned Bearer token (PAT)
	SourceCrowdToken        // a learned crowd.token_key (Crowd SSO)
	SourceHint              // floatseat's hint cookie, on an SSO route that names nobody
	SourceSeatPage          // typed on floatseat's "get your seat back" page
)

var sourceNames = [...]string{"none", "login", "basic", "session", "remember-me", "bearer", "crowd-token", "hint", "seat-page"}

func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "unknown"
}

// Identity is who a request is, as far as can be known before forwarding.
type Identity struct {
	User   string
	Source Source
	Route  Route
	// RememberMe: the login asked to be remembered (os_cookie).
	RememberMe bool
	// RememberMeCookie names the remember-me cookie the request carries.
	RememberMeCookie string
	// Creds are the request's credentials, for learning after the answer.
	Creds Credentials
	// Password is the password a login body or Basic header carries, so a
	// backend that can check it does so before any grant (DESIGN §2.9). It
	// prints redacted and is never stored.
	Password Password
	// Client is the client's address as trusted_proxies resolves it (set by
	// the proxy), for per-address limits on claims.
	Client netip.Addr
	// Stale: the learned mapping is due to be shared again; the proxy
	// passes the app's confirmation to Learn, which renews its TTL.
	Stale bool
}

// FromPassword reports whether the request carries a password, so that the
// app performs a full login (and re-reads groups) on it.
func (id Identity) FromPassword() bool {
	return id.Source == SourceLoginBody || id.Source == SourceBasic
}

// IsClaim reports whether the user was named by the request itself (a login
// body, a Basic header, a SAML NameID): something anyone can send, so a
// grant made for it is provisional until the app's answer confirms it
// (DESIGN §2.9). A user learned from the app's own X-AUSERNAME (session,
// remember-me, Bearer) is not a claim. New sources that name a user from
// the request (an SSO hint cookie) must answer true here.
func (id Identity) IsClaim() bool {
	return id.Source == SourceLoginBody || id.Source == SourceBasic || id.Source == SourceHint || id.Source == SourceSeatPage
}

// IsSSO reports an SSO route: the SAML consumer or the OIDC callback.
func (id Identity) IsSSO() bool { return id.Route == RouteSAML || id.Route == RouteOIDC }

// RefreshesGroups reports whether the request is, or leads to, a login at
// which the app re-reads the user's groups (REFERENCE §5): a password
// login, or an SSO login (SAML, OIDC, or the SSO login floatseat's seat
// page sends the browser back through).
func (id Identity) RefreshesGroups() bool {
	return id.FromPassword() || id.Source == SourceHint || id.Source == SourceSeatPage ||
		id.Route == RouteSAML || id.Route == RouteOIDC
}

// Password is a secret that never prints.
type Password string

// String redacts.
func (Password) String() string { return "[redacted]" }

// GoString redacts.
func (Password) GoString() string { return "[redacted]" }

// LogValue redacts.
func (Password) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalText redacts (encoding/json and slog's JSON handler use it).
func (Password) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Reveal returns the password itself, for the backend's check only.
func (p Password) Reveal() string { return string(p) }

// Identifier combines login routes, Basic headers and learned credentials.
type Identifier struct {
	Product     string
	ContextPath string
	Resolver    *Resolver
	// SAML says where a SAML assertion carries the username.
	SAML SAMLOptions
	// Hints names the user of an SSO route whose request names nobody (an
	// OIDC callback, an encrypted or unreadable SAML assertion); nil: none.
	Hints *Hints
}

// Identify resolves the user before forwarding. Login bodies are read
// (bounded) and restored intact.
func (i *Identifier) Identify(ctx context.Context, r *http.Request) Identity {
	path := strings.TrimPrefix(r.URL.Path, i.ContextPath)
	auth := ""
	if v := r.Header["Authorization"]; len(v) > 0 {
		auth = v[0]
	}
	id := Identity{Route: ClassifyLogin(i.Product, r.Method, path)}
	id.Creds = ParseCredentials(r.Header["Cookie"], auth)
	id.RememberMeCookie = id.Creds.RememberMeName
	if id.Route == RouteSAML || id.Route == RouteOIDC {
		if id.Route == RouteSAML {
			if i.identifySAML(ctx, r, &id); id.User != "" {
				return id
			}
		}
		// The request names nobody floatseat can read: the browser's hint
		// names the user the app last confirmed here, for a provisional
		// grant the app's answer must confirm (DESIGN §2.9).
		if i.Hints != nil && id.Creds.Hint != "" {
			if u, ok := i.Hints.User(id.Creds.Hint); ok {
				id.User, id.Source = u, SourceHint
				return id
			}
		}
	} else if id.Route.hasBody() {
		// A body cut at the bound is not a complete form: a username
		// straddling the cut would be read as its prefix. It is forwarded
		// unchanged and names nobody.
		if body, complete, err := ReadLoginBody(r, MaxLoginBody); err == nil && complete {
			ct := ""
			if v := r.Header["Content-Type"]; len(v) > 0 {
				ct = v[0]
			}
			if u, remember, err := LoginUser(id.Route, ct, body); err == nil {
				id.User, id.Source, id.RememberMe = u, SourceLoginBody, remember
				id.Password = Password(LoginPassword(id.Route, ct, body))
				return id
			}
		}
	}
	if u, ok := BasicUser(auth); ok {
		id.User, id.Source = u, SourceBasic
		id.Password = Password(BasicPassword(auth))
		return id
	}
	if i.Resolver != nil {
		id.User, id.Source, id.Stale = i.Resolver.LookupStale(ctx, id.Creds)
	}
	return id
}

// Learn teaches the resolver from the app's answer: user is X-AUSERNAME
// ("" for nobody). Cookies the answer sets are learned; cookies it deletes,
// and credentials the app no longer accepts, are forgotten.
func (i *Identifier) Learn(r *http.Request, id Identity, h http.Header, user string) {
	if i.Resolver == nil {
		return
	}
	c := id.Creds
	sessionSet, rememberSet, crowdSet := false, false, false
	for _, ch := range ResponseCookies(h, time.Now()) {
		switch {
		case ch.Kind == KindSession && ch.Deleted:
			i.Resolver.Learn(KindSession, c.Session, "")
			sessionSet = true
		case ch.Kind == KindSession:
			i.Resolver.Learn(KindSession, ch.Value, user)
			sessionSet = true
		case ch.Kind == KindRememberMe && ch.Deleted:
			i.Resolver.Learn(KindRememberMe, c.RememberMe, "")
			rememberSet = true
		case ch.Kind == KindRememberMe:
			i.Resolver.Learn(KindRememberMe, ch.Value, user)
			rememberSet = true
		case ch.Kind == KindCrowdToken && ch.Deleted:
			i.Resolver.Learn(KindCrowdToken, c.CrowdToken, "")
			crowdSet = true
		case ch.Kind == KindCrowdToken:
			i.Resolver.Learn(KindCrowdToken, ch.Value, user)
			crowdSet = true
		}
	}
	if user == "" {
		// The app answered as nobody: a session it no longer knows must
		// not keep naming someone.
		if id.Source == SourceSession && !sessionSet {
			i.Resolver.Learn(KindSession, c.Session, "")
		}
		if id.Source == SourceBearer {
			i.Resolver.Learn(KindBearer, c.Bearer, "")
		}
		if id.Source == SourceCrowdToken && !crowdSet {
			i.Resolver.Learn(KindCrowdToken, c.CrowdToken, "")
		}
		return
	}
	if !sessionSet && c.Session != "" {
		i.Resolver.Learn(KindSession, c.Session, user)
	}
	if !rememberSet && c.RememberMe != "" && c.Session == "" {
		// Only a request with no session proves the remember-me cookie
		// logged the user in.
		i.Resolver.Learn(KindRememberMe, c.RememberMe, user)
	}
	if !crowdSet && c.CrowdToken != "" {
		i.Resolver.Learn(KindCrowdToken, c.CrowdToken, user)
	}
	if c.Bearer != "" {
		i.Resolver.Learn(KindBearer, c.Bearer, user)
	}
}
