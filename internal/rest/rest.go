// Package rest is the one HTTP client floatseat uses for Atlassian REST
// APIs: Jira's and Confluence's (the app-REST directory, the licence
// sources) and Crowd's (the Crowd directory). It gives every request its
// own deadline, Basic authentication, JSON in and out, a bounded read of
// the answer and one mapping from status to a typed error (Response.Err).
// What an error means to the caller (retry, give up, tell the admin) stays
// with the caller, which wraps these with its own sentinels.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Status classes, as Response.Err reports them.
var (
	// ErrUnauthorized: 401, the credentials were refused.
	ErrUnauthorized = errors.New("credentials refused")
	// ErrForbidden: 403, the account may not do this (or the address is
	// not allowed, or a CAPTCHA is required).
	ErrForbidden = errors.New("forbidden")
	// ErrCaptcha: 403 with X-Seraph-LoginReason AUTHENTICATION_DENIED: the
	// app wants a CAPTCHA for the account. It also wraps ErrForbidden.
	ErrCaptcha = fmt.Errorf("%w: CAPTCHA required", ErrForbidden)
	// ErrNotFound: 404.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: 5xx or 429: try again later.
	ErrUnavailable = errors.New("unavailable")
	// ErrRedirect: 3xx, usually a login page or SSO in front of the API, or
	// a wrong base URL; never followed, so credentials are not resent.
	ErrRedirect = errors.New("redirected")
	// ErrUnexpected: any other status outside 2xx.
	ErrUnexpected = errors.New("unexpected status")
	// ErrNotJSON: a 2xx answer that is not JSON (a login page, a proxy's
	// error page).
	ErrNotJSON = errors.New("answer is not JSON")
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// DefaultMaxBody bounds what is read of an answer when Config.MaxBody is 0.
const DefaultMaxBody = 8 << 20

// Config says how to reach one REST API as one account.
type Config struct {
	// Base is the API's base URL without a trailing slash; request paths
	// (already escaped) are appended to it.
	Base string
	// User and Password authenticate every request (Basic): a service
	// account, or a Crowd application's name and password.
	User, Password string
	// Timeout bounds each request, the answer's body included.
	Timeout time.Duration
	// MaxBody bounds what is read of an answer.
	MaxBody int64
	// Header is set on every request (X-Atlassian-Token for Jira and
	// Confluence).
	Header http.Header
	// HTTP sends the requests; nil means NewHTTPClient(Timeout).
	HTTP *http.Client
	// Name says whose API this is in debug logs ("jira", "crowd").
	Name string
	Log  *slog.Logger
}

// Client sends requests to one API. It is safe for concurrent use.
type Client struct {
	cfg Config
}

// New returns a Client for cfg, with defaults for what cfg leaves zero.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.HTTP == nil {
		cfg.HTTP = NewHTTPClient(cfg.Timeout)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Base = strings.TrimSuffix(cfg.Base, "/")
	return &Client{cfg: cfg}
}

// NewHTTPClient returns a client with its own keep-alive transport whose
// dial, TLS handshake and response header wait are bounded by timeout, and
// which does not follow redirects: a redirect would hide a login page and
// resend the credentials.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   min(timeout, 5*time.Second),
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   min(timeout, 5*time.Second),
			ResponseHeaderTimeout: timeout,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.cfg.HTTP.CloseIdleConnections()
	return nil
}

// Response is an answer of any status, its body read up to MaxBody.
type Response struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
}

// Do sends one request under its own deadline: path (already escaped) is
// appended to the base, query is encoded, body (if not nil) is sent as
// JSON. An error means the API was not reached or the answer not read
// (a transport failure or the deadline); it carries the URL but never the
// credentials, which travel in a header. Every answer, whatever its
// status, is returned for the caller to interpret (see Response.Err).
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	target := c.cfg.Base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.SetBasicAuth(c.cfg.User, c.cfg.Password)
	// Without this Crowd answers XML.
	req.Header.Set("Accept", "application/json")
	for k, vs := range c.cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	began := time.Now()
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBody))
	if err != nil {
		return nil, fmt.Errorf("reading answer to %s %s: %w", method, path, err)
	}
	c.cfg.Log.DebugContext(ctx, c.cfg.Name+" request", "method", method, "path", path,
		"status", resp.StatusCode, "duration", time.Since(began))
	return &Response{Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Err maps the status onto the classes above: nil for 2xx.
func (r *Response) Err() error {
	switch s := r.Status; {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusUnauthorized:
		return ErrUnauthorized
	case s == http.StatusForbidden:
		if strings.Contains(r.Header.Get("X-Seraph-LoginReason"), "AUTHENTICATION_DENIED") {
			return ErrCaptcha
		}
		return ErrForbidden
	case s == http.StatusNotFound:
		return ErrNotFound
	case s >= 500, s == http.StatusTooManyRequests:
		return ErrUnavailable
	case s >= 300 && s < 400:
		return ErrRedirect
	}
	return ErrUnexpected
}

// Decode parses the body into v, in one pass. A body that is not JSON at
// all (a login page, a proxy's error page) wraps ErrNotJSON; JSON of
// another shape than v, or no body, is encoding/json's error as it is.
func (r *Response) Decode(v any) error {
	err := json.Unmarshal(r.Body, v)
	var syntax *json.SyntaxError
	if len(r.Body) > 0 && errors.As(err, &syntax) {
		return fmt.Errorf("%w: %w", ErrNotJSON, err)
	}
	return err
}

// DecodeOK is Decode for a 200 answer, and nothing for any other status.
// With v nil it only checks that the body, if there is one, is JSON: a 200
// that only means "yes" may still be a login page in front of the API.
// Either way the body is parsed once.
func (r *Response) DecodeOK(v any) error {
	switch {
	case r.Status != http.StatusOK:
		return nil
	case v != nil:
		return r.Decode(v)
	case len(r.Body) > 0 && !json.Valid(r.Body):
		return ErrNotJSON
	}
	return nil
}
