package ldapdir

// How a call survives a slow or a lost connection.
//
// Every request of a call (one page of a paged search, one range of a
// ranged attribute, one base read) has its own deadline: Timeout
// (directory.ldap.timeout), or what is left of the caller's context if
// that ends sooner.
//
// A request that times out on a connection that is still open is sent
// once more on that connection: a page with the same cookie (RFC 2696: the
// cookie stays good until the server answers with the next one), a range
// or a read as it was. A second timeout, or a connection the server
// closed, writes the connection off.
//
// A member listing then carries on over a new connection, at most
// listingRestarts times: a paged search starts again from its first page,
// since its cookie belonged to the old connection, but a range read
// resumes at the range it was reading (each range is a search of its own)
// and a base read is repeated, so nothing read whole before is read
// again. A server that refuses a cookie on a live connection starts the
// search again from its first page there, from the same budget: OpenLDAP
// does so ("paged results cookie is invalid or old") when the page that
// timed out here was served after all, which is what it does when it
// merely stalled (measured: slapd 2.5, stopped mid-listing and let go).
// Other calls (a user's groups, a grant, a revocation) get no new
// connection: Instrument retries them whole.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/floatseat/floatseat/internal/directory"
)

// listingRestarts bounds how often one member listing may start a paged
// search again or replace a lost connection.
const listingRestarts = 3

// errLost marks a connection written off: the server closed it, or a
// request timed out on it twice. It wraps the request's own error.
var errLost = errors.New("ldap connection lost")

// session is the connection one call runs on, and what the call may do
// when a request fails on it.
type session struct {
	d   *Dir
	ctx context.Context
	c   *ldap.Conn
	// restarts is how many new starts the call has left (a new
	// connection, or a paged search from its first page); max is what it
	// began with.
	restarts, max int
	// page is told each request's outcome and duration (Instrument's
	// members_page); nil tells no one.
	page func(err error, took time.Duration)
	// conns counts the connections the call has used.
	conns int
}

// event describes a request about to be sent, for tests (Dir.hook).
type event struct {
	kind    string // "page", "range" or "read"
	cookie  string // a page's cookie: "" for the first page of a search
	attempt int    // 1 for the resend after a timeout
	s       *session
}

// run runs f on a pooled connection with restarts new starts allowed
// (0 but for member listings). A connection that failed at the network
// level is dropped, a healthy one returned to the pool.
func (d *Dir) run(ctx context.Context, restarts int, page func(error, time.Duration), f func(s *session) error) error {
	var c *ldap.Conn
	select {
	case c = <-d.pool:
		if c.IsClosing() {
			c.Close()
			c = nil
		}
	default:
	}
	if c == nil {
		var err error
		if c, err = d.dial(ctx, d.cfg.BindDN, d.cfg.BindPassword); err != nil {
			return err
		}
	}
	s := &session{d: d, ctx: ctx, c: c, restarts: restarts, max: restarts, page: page, conns: 1}
	s.deadline()
	err := f(s)
	c = s.c
	c.SetTimeout(d.cfg.Timeout)
	if c.IsClosing() || err != nil && errors.Is(mapErr(err), directory.ErrUnavailable) {
		c.Close()
		return err
	}
	select {
	case d.pool <- c:
	default:
		c.Close()
	}
	return err
}

// with runs f on a pooled connection, without new starts.
func (d *Dir) with(ctx context.Context, f func(s *session) error) error {
	return d.run(ctx, 0, nil, f)
}

// deadline gives the next request Timeout, or what is left of the
// caller's context if that ends sooner.
func (s *session) deadline() {
	t := s.d.cfg.Timeout
	if dl, ok := s.ctx.Deadline(); ok {
		t = min(t, max(time.Until(dl), time.Millisecond))
	}
	s.c.SetTimeout(t)
}

// request sends one request through f under its own deadline, and once
// more on the same connection if it timed out there. It returns the
// server's answer, the caller's context's end, or errLost.
func (s *session) request(kind, cookie string, f func(c *ldap.Conn) error) error {
	for attempt := 0; ; attempt++ {
		if s.d.hook != nil {
			s.d.hook(event{kind: kind, cookie: cookie, attempt: attempt, s: s})
		}
		s.deadline()
		start := time.Now()
		err := f(s.c)
		took := time.Since(start)
		switch {
		case err == nil || answered(err):
		case errors.Is(s.ctx.Err(), context.DeadlineExceeded):
			// The caller's time ran out first: the directory did not
			// answer in it.
			err = fmt.Errorf("ldap %s: %w: %w (%v)", kind, directory.ErrUnavailable, s.ctx.Err(), err)
		case s.ctx.Err() != nil:
			err = fmt.Errorf("ldap %s: %w (%v)", kind, s.ctx.Err(), err) // the caller went away: no fault of the directory's
		case attempt == 0 && !s.c.IsClosing():
			s.report(fmt.Errorf("%w: %v", directory.ErrUnavailable, err), took)
			continue // timed out on a live connection: the same request again
		default:
			s.c.Close()
			err = fmt.Errorf("%w: %w", errLost, err)
		}
		s.report(mapErr(err), took)
		return err
	}
}

// report tells page (if any) how a request ended.
func (s *session) report(err error, took time.Duration) {
	if s.page != nil {
		s.page(err, took)
	}
}

// answered reports whether err is the server's answer (a result code),
// not the client's (a timeout, a connection that failed).
func answered(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork
}

// reconnect replaces a connection written off, if the call has a new
// start left; otherwise it returns cause.
func (s *session) reconnect(cause error) error {
	if s.restarts <= 0 {
		if s.max > 0 {
			return fmt.Errorf("ldap: giving up after %d new starts: %w", s.max, cause)
		}
		return cause
	}
	s.restarts--
	c, err := s.d.dial(s.ctx, s.d.cfg.BindDN, s.d.cfg.BindPassword)
	if err != nil {
		return fmt.Errorf("ldap: a new connection after %v: %w", cause, err)
	}
	s.c, s.conns = c, s.conns+1
	return nil
}

// resumable sends a request that does not depend on its connection (a
// range, a base read) until it is answered, over a new connection after
// a lost one while the call has new starts left.
func (s *session) resumable(kind string, f func(c *ldap.Conn) error) error {
	for {
		err := s.request(kind, "", f)
		if !errors.Is(err, errLost) {
			return err
		}
		if err := s.reconnect(err); err != nil {
			return err
		}
	}
}

// search is one paged search (RFC 2696) of the subtree at base, PageSize
// entries a page, read to its last page. A base that does not exist has
// no entries.
func (s *session) search(base, filter string, attrs []string) ([]*ldap.Entry, error) {
	var out []*ldap.Entry
	var cookie []byte
	for pages := 0; ; pages++ {
		if pages >= directory.MaxPages {
			return nil, fmt.Errorf("ldap search of %s: more than %d pages; giving up", base, directory.MaxPages)
		}
		pc := ldap.NewControlPaging(uint32(s.d.cfg.PageSize))
		pc.SetCookie(cookie)
		req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, []ldap.Control{pc})
		var res *ldap.SearchResult
		err := s.request("page", string(cookie), func(c *ldap.Conn) (e error) { res, e = c.Search(req); return })
		switch {
		case err == nil:
		case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
			return nil, nil
		case errors.Is(err, errLost):
			if err := s.reconnect(err); err != nil {
				return nil, mapErr(err)
			}
			out, cookie = nil, nil // the cookie was the old connection's
			continue
		case len(cookie) > 0 && cookieRefused(err):
			if s.restarts <= 0 {
				// Not the caller's fault, and a later call may well
				// pass: unavailable, never "permission denied".
				return nil, fmt.Errorf("ldap search of %s: the server refused the paging cookie and no new start is left: %w: %v", base, directory.ErrUnavailable, err)
			}
			s.restarts--
			out, cookie = nil, nil
			continue
		default:
			return nil, mapErr(err)
		}
		out = append(out, res.Entries...)
		pr, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(pr.Cookie) == 0 {
			return out, nil
		}
		cookie = pr.Cookie
	}
}

// cookieRefused reports whether the server refused a page's cookie:
// OpenLDAP answers unwillingToPerform ("invalid or old") or protocolError
// ("invalid"), Active Directory unwillingToPerform.
func cookieRefused(err error) bool {
	return ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) || ldap.IsErrorWithCode(err, ldap.LDAPResultProtocolError)
}
