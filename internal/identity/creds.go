package identity

import (
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Cookie names of REFERENCE §2.
const (
	CookieSession              = "JSESSIONID"
	CookieJiraRememberMe       = "seraph.rememberme.cookie"
	CookieConfluenceRememberMe = "seraph.confluence"
	CookieCrowdToken           = "crowd.token_key"
)

// Credentials are the secrets a request carries that may name a user. The
// values are substrings of the request's headers: parsing allocates nothing.
type Credentials struct {
	Session        string
	RememberMe     string
	RememberMeName string
	Bearer         string
	// Hint is floatseat's own hint cookie (unverified; see Hints).
	Hint string
	// CrowdToken is the Crowd SSO cookie crowd.token_key.
	CrowdToken string
	// SSOPass is floatseat's SSO pass cookie (unverified; see Hints).
	SSOPass string
}

// LogValue keeps the secrets out of logs: it names the credentials the
// request carries, each as REDACTED.
func (c Credentials) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, f := range c.fields() {
		if f.value != "" {
			attrs = append(attrs, slog.String(f.name, "REDACTED"))
		}
	}
	if c.RememberMeName != "" {
		attrs = append(attrs, slog.String("remember_me_cookie", c.RememberMeName))
	}
	return slog.GroupValue(attrs...)
}

// String keeps the secrets out of %v and %+v.
func (c Credentials) String() string {
	var b strings.Builder
	b.WriteString("Credentials{")
	n := 0
	for _, f := range c.fields() {
		if f.value == "" {
			continue
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.name + ":REDACTED")
		n++
	}
	b.WriteByte('}')
	return b.String()
}

// GoString keeps the secrets out of %#v.
func (c Credentials) GoString() string { return c.String() }

func (c Credentials) fields() [6]struct{ name, value string } {
	return [6]struct{ name, value string }{
		{"session", c.Session}, {"remember_me", c.RememberMe}, {"bearer", c.Bearer},
		{"hint", c.Hint}, {"crowd_token", c.CrowdToken}, {"sso_pass", c.SSOPass},
	}
}

// ParseCredentials reads the Cookie headers and the Authorization header.
// The first occurrence of a cookie wins, as servlet containers do.
func ParseCredentials(cookieHeaders []string, authorization string) Credentials {
	var c Credentials
	for _, line := range cookieHeaders {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || val == "" {
				continue
			}
			val = strings.Trim(val, `"`)
			switch name {
			case CookieSession:
				if c.Session == "" {
					c.Session = val
				}
			case CookieJiraRememberMe, CookieConfluenceRememberMe:
				if c.RememberMe == "" {
					c.RememberMe, c.RememberMeName = val, name
				}
			case HintCookie:
				if c.Hint == "" {
					c.Hint = val
				}
			case CookieCrowdToken:
				if c.CrowdToken == "" {
					c.CrowdToken = val
				}
			case SSOPassCookie:
				if c.SSOPass == "" {
					c.SSOPass = val
				}
			}
		}
	}
	if t, ok := BearerToken(authorization); ok {
		c.Bearer = t
	}
	return c
}

// CookieChange is a session or remember-me cookie the app set or deleted.
type CookieChange struct {
	Kind    Kind
	Value   string
	Deleted bool
}

// ResponseCookies reads the session and remember-me cookies a response
// sets or deletes (Max-Age ≤ 0, an expiry in the past, or an empty value).
func ResponseCookies(h http.Header, now time.Time) []CookieChange {
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return nil
	}
	var out []CookieChange
	for _, line := range lines {
		first, attrs, _ := strings.Cut(line, ";")
		name, val, ok := strings.Cut(strings.TrimSpace(first), "=")
		if !ok {
			continue
		}
		var kind Kind
		switch name {
		case CookieSession:
			kind = KindSession
		case CookieJiraRememberMe, CookieConfluenceRememberMe:
			kind = KindRememberMe
		case CookieCrowdToken:
			kind = KindCrowdToken
		default:
			continue
		}
		val = strings.Trim(val, `"`)
		deleted := val == ""
		for attrs != "" && !deleted {
			var a string
			a, attrs, _ = strings.Cut(attrs, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(a), "=")
			switch {
			case strings.EqualFold(k, "max-age"):
				deleted = strings.HasPrefix(v, "0") || strings.HasPrefix(v, "-")
			case strings.EqualFold(k, "expires"):
				if t, err := http.ParseTime(v); err == nil && !t.After(now) {
					deleted = true
				}
			}
		}
		out = append(out, CookieChange{Kind: kind, Value: val, Deleted: deleted})
	}
	return out
}
