// Package identity answers "who is this request?" before it is forwarded:
// the username of a login body (every login route of REFERENCE §2), the
// user of a Basic header, or the user learned earlier from the app's
// X-AUSERNAME for this request's session cookie, remember-me cookie or
// Bearer token. Learned mappings are keyed by an HMAC of the secret (never
// the secret), cached in an LRU and shared through Redis with a TTL.
package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Route is a login route of REFERENCE §2.
type Route uint8

// Login routes.
const (
	RouteNone            Route = iota
	RouteJiraLogin             // POST /login.jsp (form)
	RouteGadgetLogin           // POST /rest/gadget/1.0/login (form)
	RouteRESTSession           // POST /rest/auth/1/session (JSON)
	RouteTSVAuthenticate       // POST /rest/tsv/1.0/authenticate (JSON; Jira 10+, Confluence 9+)
	RouteConfluenceLogin       // POST /dologin.action (form)
	RouteJSMPortal             // POST /servicedesk/customer/user/login: customers need no licence
	RouteSAML                  // POST /plugins/servlet/samlconsumer
	RouteOIDC                  // GET /plugins/servlet/oidc/callback: names nobody
)

var routeNames = [...]string{"none", "login.jsp", "gadget-login", "rest-session", "tsv-authenticate",
	"dologin.action", "jsm-portal-login", "saml", "oidc"}

func (r Route) String() string {
	if int(r) < len(routeNames) {
		return routeNames[r]
	}
	return "unknown"
}

// ClassifyLogin tells a login request from any other. path is without the
// app's context path. It does not allocate.
func ClassifyLogin(product, method, path string) Route {
	if method == http.MethodGet {
		if path == "/plugins/servlet/oidc/callback" {
			return RouteOIDC
		}
		return RouteNone
	}
	if method != http.MethodPost {
		return RouteNone
	}
	switch path {
	case "/rest/auth/1/session":
		return RouteRESTSession
	case "/rest/tsv/1.0/authenticate":
		return RouteTSVAuthenticate
	case "/plugins/servlet/samlconsumer":
		return RouteSAML
	}
	if product == "confluence" {
		if path == "/dologin.action" {
			return RouteConfluenceLogin
		}
		return RouteNone
	}
	switch path {
	case "/login.jsp":
		return RouteJiraLogin
	case "/rest/gadget/1.0/login":
		return RouteGadgetLogin
	case "/servicedesk/customer/user/login":
		return RouteJSMPortal
	}
	return RouteNone
}

// hasBody reports routes whose body names the user.
func (r Route) hasBody() bool {
	return r != RouteNone && r != RouteOIDC
}

// ReadsBody reports routes whose body Identify reads (bounded) before
// forwarding, so the caller can bound how long that read may take.
func (r Route) ReadsBody() bool { return r.hasBody() }

// MaxLoginBody bounds what is read of a login body (DESIGN §2.1).
const MaxLoginBody = 64 << 10

// ReadLoginBody reads at most limit bytes of the body and always restores
// r.Body so the app receives the original bytes, whole, even when the body
// is larger than limit or reading failed part-way. complete is false when
// the body is longer than limit.
func ReadLoginBody(r *http.Request, limit int64) (body []byte, complete bool, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true, nil
	}
	orig := r.Body
	buf := make([]byte, 0, min64(limit+1, 4096))
	w := bytes.NewBuffer(buf)
	n, err := io.CopyN(w, orig, limit+1)
	read := w.Bytes()
	r.Body = &restored{Reader: io.MultiReader(bytes.NewReader(read), orig), closer: orig}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	if n > limit {
		return read[:limit], false, nil
	}
	return read, true, nil
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

type restored struct {
	io.Reader
	closer io.Closer
}

func (r *restored) Close() error { return r.closer.Close() }

// ErrBadLogin: the body does not name a user in a usable way.
var ErrBadLogin = errors.New("login body names no usable user")

// LoginUser extracts the username (and the remember-me wish) from a login
// body. Malformed, truncated or non-UTF-8 input gives ErrBadLogin, never a
// panic; the caller forwards the body untouched either way.
func LoginUser(route Route, contentType string, body []byte) (user string, rememberMe bool, err error) {
	if !route.hasBody() || len(body) == 0 {
		return "", false, ErrBadLogin
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch route {
	case RouteRESTSession, RouteTSVAuthenticate:
		if mt != "" && !strings.Contains(mt, "json") {
			return formUser(body)
		}
		var v struct {
			Username   string `json:"username"`
			RememberMe any    `json:"rememberMe"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return "", false, ErrBadLogin
		}
		u, err := cleanUser(v.Username)
		return u, truthy(v.RememberMe), err
	case RouteSAML:
		u, err := samlUser(body)
		return u, false, err
	default:
		if strings.Contains(mt, "json") {
			var v struct {
				Username string `json:"username"`
			}
			if json.Unmarshal(body, &v) != nil {
				return "", false, ErrBadLogin
			}
			u, err := cleanUser(v.Username)
			return u, false, err
		}
		return formUser(body)
	}
}

func formUser(body []byte) (string, bool, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil && len(vals) == 0 {
		return "", false, ErrBadLogin
	}
	u := vals.Get("os_username")
	if u == "" {
		u = vals.Get("username")
	}
	user, err := cleanUser(u)
	return user, truthy(vals.Get("os_cookie")), err
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true") || x == "on" || x == "1"
	}
	return false
}

// CleanUser trims and validates a typed username: valid UTF-8, no control
// characters, at most 255 bytes.
func CleanUser(u string) (string, error) { return cleanUser(u) }

// cleanUser trims and validates a username: valid UTF-8, no control
// characters, at most 255 bytes.
func cleanUser(u string) (string, error) {
	u = strings.TrimSpace(u)
	if u == "" || len(u) > 255 || !utf8.ValidString(u) {
		return "", ErrBadLogin
	}
	for _, r := range u {
		if unicode.IsControl(r) {
			return "", ErrBadLogin
		}
	}
	return u, nil
}

// samlUser reads NameID from an unencrypted SAMLResponse form. An
// encrypted assertion names nobody we can read.
func samlUser(body []byte) (string, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil && len(vals) == 0 {
		return "", ErrBadLogin
	}
	a, err := ReadSAMLResponse(vals.Get("SAMLResponse"))
	if err != nil || a.Encrypted {
		return "", ErrBadLogin
	}
	return cleanUser(a.NameID)
}

// BasicUser returns the username of a Basic Authorization header. The
// password is neither kept nor returned.
func BasicUser(authorization string) (string, bool) {
	if len(authorization) < 6 || !strings.EqualFold(authorization[:6], "basic ") {
		return "", false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(authorization[6:]))
	if err != nil {
		return "", false
	}
	i := bytes.IndexByte(dec, ':')
	if i <= 0 {
		return "", false
	}
	u, err := cleanUser(string(dec[:i]))
	clear(dec) // the password does not linger in memory longer than needed
	return u, err == nil
}

// LoginPassword returns the password of a login body ("" for none, or
// for a SAML form, which carries no password). Like LoginUser it never
// panics on malformed input.
func LoginPassword(route Route, contentType string, body []byte) string {
	if !route.hasBody() || route == RouteSAML || len(body) == 0 {
		return ""
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	isJSON := strings.Contains(mt, "json") ||
		((route == RouteRESTSession || route == RouteTSVAuthenticate) && mt == "")
	if isJSON {
		var v struct {
			Password string `json:"password"`
		}
		if json.Unmarshal(body, &v) != nil {
			return ""
		}
		return v.Password
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil && len(vals) == 0 {
		return ""
	}
	if p := vals.Get("os_password"); p != "" {
		return p
	}
	return vals.Get("password")
}

// BasicPassword returns the password of a Basic Authorization header, for
// the backend's own check before a grant.
func BasicPassword(authorization string) string {
	if len(authorization) < 6 || !strings.EqualFold(authorization[:6], "basic ") {
		return ""
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(authorization[6:]))
	if err != nil {
		return ""
	}
	_, pw, ok := bytes.Cut(dec, []byte{':'})
	if !ok {
		return ""
	}
	p := string(pw)
	clear(dec)
	return p
}

// BearerToken returns the token of a Bearer Authorization header.
func BearerToken(authorization string) (string, bool) {
	if len(authorization) < 7 || !strings.EqualFold(authorization[:7], "bearer ") {
		return "", false
	}
	t := strings.TrimSpace(authorization[7:])
	return t, t != ""
}
