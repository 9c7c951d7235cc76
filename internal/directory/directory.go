// Package directory defines how floatseat changes licence-group membership:
// one small interface implemented by the LDAP, Crowd and app-REST backends,
// and the typed errors callers use to decide what to do next.
package directory

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Directory is what the seat engine needs from a user directory. Group and
// user names are compared case-insensitively, as Jira and Confluence do.
// Implementations give every call its own deadline on top of ctx.
type Directory interface {
	// IsMember reports whether user belongs to group, directly or (nested)
	// through subgroups.
	IsMember(ctx context.Context, user, group string, nested bool) (bool, error)
	// UserGroups lists the groups user belongs to, directly or nested.
	UserGroups(ctx context.Context, user string, nested bool) ([]string, error)
	// Members lists the users of group, directly or nested, reading every page.
	Members(ctx context.Context, group string, nested bool) ([]string, error)
	// AddMember makes user a direct member of group. Already a member is success.
	AddMember(ctx context.Context, user, group string) error
	// RemoveMember removes user's direct membership of group. Not a member is success.
	RemoveMember(ctx context.Context, user, group string) error
}

// Pager is implemented by backends that list a group's members in pages:
// MembersPage returns the page at cursor ("" for the first) and the cursor
// of the next ("" after the last). Instrument then gives every page its own
// deadline and retries a failed page where the listing stopped, instead of
// one deadline for the whole listing and a retry from page one.
type Pager interface {
	MembersPage(ctx context.Context, group string, nested bool, cursor string) (members []string, next string, err error)
}

// ConnPager is implemented by backends whose member listing is a run of
// requests that must stay on the connection that began it, so Instrument
// cannot page it: an LDAP paged search's cookie (RFC 2696) belongs to its
// connection. Such a backend gives every request of the listing its own
// deadline, retries and resumes within the listing as far as its protocol
// allows, and gives up after a bounded number of restarts, reporting each
// request's outcome and duration to page as it ends. Instrument then calls
// MembersPaged once per listing under the caller's context, with no
// deadline of its own over the whole listing and no retry from the start
// on top of the backend's (the same terms a Pager's listing gets), and
// counts every reported request as a members_page.
type ConnPager interface {
	MembersPaged(ctx context.Context, group string, nested bool, page func(err error, took time.Duration)) ([]string, error)
}

// PasswordVerifier is implemented by backends that can check a password
// (LDAP bind, Crowd authenticate). The simulator uses it; floatseat itself
// never needs a user's password.
type PasswordVerifier interface {
	VerifyPassword(ctx context.Context, user, password string) error
}

// EmailLookup is implemented by backends that can find a user by e-mail,
// for SSO assertions that name users by e-mail while the directory's
// username is another attribute (docs/sso.md). Exactly one match is an
// answer; none or several is ErrUserNotFound.
type EmailLookup interface {
	UserByEmail(ctx context.Context, email string) (string, error)
}

// AsEmailLookup finds an EmailLookup in d or the backends it wraps.
func AsEmailLookup(d Directory) (EmailLookup, bool) {
	for d != nil {
		if el, ok := d.(EmailLookup); ok {
			return el, true
		}
		u, ok := d.(interface{ Unwrap() Directory })
		if !ok {
			return nil, false
		}
		d = u.Unwrap()
	}
	return nil, false
}

// GroupCreator is implemented by backends that can create a group.
// floatseat creates its parking groups (DESIGN §2.10) where the backend
// allows; elsewhere an admin creates them once.
type GroupCreator interface {
	// CreateGroup creates an empty group. A group that exists is success.
	CreateGroup(ctx context.Context, group string) error
}

// CreateGroup creates group in d, or answers ErrNotSupported when d cannot
// create groups.
func CreateGroup(ctx context.Context, d Directory, group string) error {
	c, ok := d.(GroupCreator)
	if !ok {
		return fmt.Errorf("create group %s: %w", group, ErrNotSupported)
	}
	return c.CreateGroup(ctx, group)
}

// Typed errors. Backends wrap them (fmt.Errorf("...: %w", ErrUserNotFound))
// so callers test with errors.Is.
var (
	// ErrUserNotFound: the directory does not know the user.
	ErrUserNotFound = errors.New("user not found")
	// ErrGroupNotFound: the directory does not know the group.
	ErrGroupNotFound = errors.New("group not found")
	// ErrPermissionDenied: floatseat's account may not do this (bad
	// credentials, address not allowed, read-only directory). Not retryable.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnavailable: the directory could not be reached or answered with a
	// server error or timeout. Retryable.
	ErrUnavailable = errors.New("directory unavailable")
	// ErrBadCredentials: VerifyPassword was given a wrong password.
	ErrBadCredentials = errors.New("bad credentials")
	// ErrNotSupported: the backend cannot do this at all (e.g. create a
	// group of a class that needs more than a name). Not retryable.
	ErrNotSupported = errors.New("not supported by this directory")
)

// Retryable reports whether err is worth retrying later.
func Retryable(err error) bool { return errors.Is(err, ErrUnavailable) }
