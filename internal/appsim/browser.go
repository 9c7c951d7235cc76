package appsim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// Browser is a scripted user: a cookie jar and the requests a person's
// browser makes to Jira or Confluence. It works against the simulator
// directly or through a proxy in front of it (point baseURL at the proxy).
// It never follows redirects, so tests see what the app answered.
type Browser struct {
	BaseURL  string
	User     string
	Password string
	Product  string
	// Basic, when set, sends Authorization: Basic on every request.
	Basic bool
	// Token, when set, sends Authorization: Bearer Token on every request.
	Token string

	jar      *cookiejar.Jar
	client   *http.Client
	base     *url.URL
	idpTried bool // Follow signed in at the IdP once in this navigation
}

// Result is what a test wants to know about one response.
type Result struct {
	// Path is the request's path and query, as sent.
	Path   string
	Status int
	// LoginReasons is X-Seraph-LoginReason parsed as a list (REFERENCE §1).
	LoginReasons []string
	// User is X-AUSERNAME ("anonymous" when nobody).
	User   string
	Header http.Header
	Body   string
}

// LoginReason returns the first X-Seraph-LoginReason value (the one that
// wins, REFERENCE §1), or "".
func (r Result) LoginReason() string {
	if len(r.LoginReasons) == 0 {
		return ""
	}
	return r.LoginReasons[0]
}

// ParseLoginReasons splits an X-Seraph-LoginReason header into its values.
func ParseLoginReasons(h string) []string {
	var out []string
	for _, p := range strings.Split(h, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// NewBrowser returns a browser for user at baseURL (e.g. an httptest
// server's URL). product is Jira or Confluence.
func NewBrowser(baseURL, user, password, product string) *Browser {
	jar, _ := cookiejar.New(nil) // never fails with nil options
	base, err := url.Parse(baseURL)
	if err != nil {
		base = &url.URL{}
	}
	b := &Browser{BaseURL: strings.TrimSuffix(baseURL, "/"), User: user, Password: password, Product: product, jar: jar, base: base}
	b.client = &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return b
}

// Do sends one request with the browser's cookies (and Basic or Bearer
// credentials when set). body, when not nil, is sent with contentType.
func (b *Browser) Do(ctx context.Context, method, path, contentType string, body io.Reader) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.BaseURL+path, body)
	if err != nil {
		return Result{}, fmt.Errorf("browser %s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	switch {
	case b.Token != "":
		req.Header.Set("Authorization", "Bearer "+b.Token)
	case b.Basic:
		req.SetBasicAuth(b.User, b.Password)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("browser %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Result{}, fmt.Errorf("browser %s %s: read body: %w", method, path, err)
	}
	return Result{
		Path:         path,
		Status:       resp.StatusCode,
		LoginReasons: ParseLoginReasons(resp.Header.Get(HeaderLoginReason)),
		User:         resp.Header.Get(HeaderUser),
		Header:       resp.Header,
		Body:         string(data),
	}, nil
}

// Get is Do without a body.
func (b *Browser) Get(ctx context.Context, path string) (Result, error) {
	return b.Do(ctx, http.MethodGet, path, "", nil)
}

// Login submits the product's login form (Jira /login.jsp, Confluence
// /dologin.action), ticking "remember me" when asked.
func (b *Browser) Login(ctx context.Context, rememberMe bool) (Result, error) {
	return b.LoginWith(ctx, rememberMe, "")
}

// LoginWith is Login with a CAPTCHA answer (CaptchaAnswer solves it).
func (b *Browser) LoginWith(ctx context.Context, rememberMe bool, captcha string) (Result, error) {
	form := url.Values{"os_username": {b.User}, "os_password": {b.Password}, "login": {"Log in"}}
	if rememberMe {
		form.Set("os_cookie", "true")
	}
	if captcha != "" {
		form.Set("os_captcha", captcha)
	}
	path := "/login.jsp"
	if b.Product == Confluence {
		path = "/dologin.action"
	}
	return b.Do(ctx, http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// Logout ends the session.
func (b *Browser) Logout(ctx context.Context) (Result, error) {
	return b.Get(ctx, "/logout")
}

// ViewIssue opens an issue page in Jira: real work.
func (b *Browser) ViewIssue(ctx context.Context, key string) (Result, error) {
	return b.Get(ctx, "/browse/"+url.PathEscape(key))
}

// ViewPage opens a page in Confluence: real work.
func (b *Browser) ViewPage(ctx context.Context, pageID string) (Result, error) {
	return b.Get(ctx, "/pages/viewpage.action?pageId="+url.QueryEscape(pageID))
}

// Work does the product's typical real-work request: ViewIssue in Jira,
// ViewPage in Confluence.
func (b *Browser) Work(ctx context.Context) (Result, error) {
	if b.Product == Confluence {
		return b.ViewPage(ctx, "65537")
	}
	return b.ViewIssue(ctx, "SIM-1")
}

// Poll makes one background request with no user behind it (REFERENCE §6):
// Confluence Quick Reload, Jira's JSM queue poll. PollNotifications is the
// notification bell both products share.
func (b *Browser) Poll(ctx context.Context) (Result, error) {
	if b.Product == Confluence {
		return b.Get(ctx, "/rest/quickreload/latest/65537?since=0")
	}
	return b.Get(ctx, "/rest/servicedesk/1/servicedesk/1/queues/poll")
}

// PollNotifications asks for the notification count, as the bell does.
func (b *Browser) PollNotifications(ctx context.Context) (Result, error) {
	return b.Get(ctx, "/rest/mywork/latest/status/notification/count")
}

// Cookie returns the value of the named cookie the browser holds for the
// base URL, or "".
func (b *Browser) Cookie(name string) string {
	for _, c := range b.jar.Cookies(b.base) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// SetCookie puts a cookie into the browser's jar for the base URL, as a
// script or an attacker could.
func (b *Browser) SetCookie(name, value string) {
	b.jar.SetCookies(b.base, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// DropSession forgets every cookie except remember-me and the ones named
// in keep (persistent cookies), as a browser does when it is closed and
// reopened: the next request can only log in again through what is kept.
func (b *Browser) DropSession(keep ...string) {
	keep = append(keep, RememberMeCookieName(b.Product))
	var kept []*http.Cookie
	for _, c := range b.jar.Cookies(b.base) {
		for _, k := range keep {
			if c.Name == k {
				kept = append(kept, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/"})
			}
		}
	}
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(b.base, kept)
	b.jar = jar
	b.client.Jar = jar
}
