package identity

import (
	"context"
	"net/http"
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
)

var sourceNames = [...]string{"none", "login", "basic", "session", "remember-me", "bearer"}

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
}

// FromPassword reports whether the request carries a password, so that the
// app performs a full login (and re-reads groups) on it.
func (id Identity) FromPassword() bool {
	return id.Source == SourceLoginBody || id.Source == SourceBasic
}

// Identifier combines login routes, Basic headers and learned credentials.
type Identifier struct {
	Product     string
	ContextPath string
	Resolver    *Resolver
	// SAML says where a SAML assertion carries the username.
	SAML SAMLOptions
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
	if id.Route == RouteSAML {
		if i.identifySAML(ctx, r, &id); id.User != "" {
			return id
		}
	} else if id.Route.hasBody() {
		if body, _, err := ReadLoginBody(r, MaxLoginBody); err == nil {
			ct := ""
			if v := r.Header["Content-Type"]; len(v) > 0 {
				ct = v[0]
			}
			if u, remember, err := LoginUser(id.Route, ct, body); err == nil {
				id.User, id.Source, id.RememberMe = u, SourceLoginBody, remember
				return id
			}
		}
	}
	if u, ok := BasicUser(auth); ok {
		id.User, id.Source = u, SourceBasic
		return id
	}
	if i.Resolver != nil {
		id.User, id.Source = i.Resolver.Lookup(ctx, id.Creds)
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
	sessionSet, rememberSet := false, false
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
	if c.Bearer != "" {
		i.Resolver.Learn(KindBearer, c.Bearer, user)
	}
}
