package appsim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/floatseat/floatseat/internal/directory"
)

// InternalDirectory is the simulator's own user store, standing in for the
// app's internal directory (or for Crowd/LDAP in unit tests). It satisfies
// directory.Directory and directory.PasswordVerifier, so the same simulator
// can be pointed at a real LDAP or Crowd backend instead. Names compare
// case-insensitively and keep the case they were created with (REFERENCE §2:
// "compared case-insensitively at login, stored case preserved").
type InternalDirectory struct {
	mu     sync.Mutex
	users  map[string]*dirUser  // lower name → user
	groups map[string]*dirGroup // lower name → group
}

type dirUser struct {
	name     string
	password string
}

type dirGroup struct {
	name      string
	users     map[string]bool // lower user names, direct members
	subgroups map[string]bool // lower group names, direct child groups
}

var (
	_ directory.Directory        = (*InternalDirectory)(nil)
	_ directory.PasswordVerifier = (*InternalDirectory)(nil)
)

// NewInternalDirectory returns an empty directory.
func NewInternalDirectory() *InternalDirectory {
	return &InternalDirectory{users: map[string]*dirUser{}, groups: map[string]*dirGroup{}}
}

// AddUser creates a user, or resets the password of an existing one.
func (d *InternalDirectory) AddUser(name, password string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := strings.ToLower(name)
	if u, ok := d.users[k]; ok {
		u.password = password
		return
	}
	d.users[k] = &dirUser{name: name, password: password}
}

// DeleteUser removes a user and all its memberships.
func (d *InternalDirectory) DeleteUser(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := strings.ToLower(name)
	delete(d.users, k)
	for _, g := range d.groups {
		delete(g.users, k)
	}
}

// AddGroup creates a group; existing groups are left alone.
func (d *InternalDirectory) AddGroup(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addGroupLocked(name)
}

func (d *InternalDirectory) addGroupLocked(name string) *dirGroup {
	k := strings.ToLower(name)
	if g, ok := d.groups[k]; ok {
		return g
	}
	g := &dirGroup{name: name, users: map[string]bool{}, subgroups: map[string]bool{}}
	d.groups[k] = g
	return g
}

// AddSubgroup makes child a direct member of parent (nested groups), creating
// both groups when needed.
func (d *InternalDirectory) AddSubgroup(parent, child string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.addGroupLocked(parent)
	d.addGroupLocked(child)
	p.subgroups[strings.ToLower(child)] = true
}

// Users lists every user's stored name, sorted. The simulator's directory
// sync uses it (through the optional userLister interface) to learn users
// that belong to no tracked group.
func (d *InternalDirectory) Users(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.users))
	for _, u := range d.users {
		out = append(out, u.name)
	}
	slices.Sort(out)
	return out, nil
}

// Groups lists every group's stored name, sorted (optional groupLister).
func (d *InternalDirectory) Groups(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.groups))
	for _, g := range d.groups {
		out = append(out, g.name)
	}
	slices.Sort(out)
	return out, nil
}

// VerifyPassword implements directory.PasswordVerifier.
func (d *InternalDirectory) VerifyPassword(ctx context.Context, user, password string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[strings.ToLower(user)]
	if !ok {
		return fmt.Errorf("internal directory verify %s: %w", user, directory.ErrUserNotFound)
	}
	if u.password != password {
		return fmt.Errorf("internal directory verify %s: %w", user, directory.ErrBadCredentials)
	}
	return nil
}

// StoredName returns the user's name in its stored case (optional
// nameResolver), so X-AUSERNAME carries the stored case whatever was typed.
func (d *InternalDirectory) StoredName(ctx context.Context, user string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[strings.ToLower(user)]
	if !ok {
		return "", fmt.Errorf("internal directory user %s: %w", user, directory.ErrUserNotFound)
	}
	return u.name, nil
}

// IsMember implements directory.Directory.
func (d *InternalDirectory) IsMember(ctx context.Context, user, group string, nested bool) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	uk, gk := strings.ToLower(user), strings.ToLower(group)
	if _, ok := d.users[uk]; !ok {
		return false, fmt.Errorf("internal directory is-member %s: %w", user, directory.ErrUserNotFound)
	}
	if _, ok := d.groups[gk]; !ok {
		return false, fmt.Errorf("internal directory is-member %s: %w", group, directory.ErrGroupNotFound)
	}
	return d.memberLocked(uk, gk, nested, map[string]bool{}), nil
}

func (d *InternalDirectory) memberLocked(uk, gk string, nested bool, seen map[string]bool) bool {
	if seen[gk] {
		return false
	}
	seen[gk] = true
	g, ok := d.groups[gk]
	if !ok {
		return false
	}
	if g.users[uk] {
		return true
	}
	if !nested {
		return false
	}
	for sub := range g.subgroups {
		if d.memberLocked(uk, sub, true, seen) {
			return true
		}
	}
	return false
}

// UserGroups implements directory.Directory.
func (d *InternalDirectory) UserGroups(ctx context.Context, user string, nested bool) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	uk := strings.ToLower(user)
	if _, ok := d.users[uk]; !ok {
		return nil, fmt.Errorf("internal directory groups of %s: %w", user, directory.ErrUserNotFound)
	}
	var out []string
	for gk, g := range d.groups {
		if d.memberLocked(uk, gk, nested, map[string]bool{}) {
			out = append(out, g.name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// HasGroup reports whether the directory knows group.
func (d *InternalDirectory) HasGroup(group string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.groups[strings.ToLower(group)]
	return ok
}

// Members implements directory.Directory.
func (d *InternalDirectory) Members(ctx context.Context, group string, nested bool) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	gk := strings.ToLower(group)
	if _, ok := d.groups[gk]; !ok {
		return nil, fmt.Errorf("internal directory members of %s: %w", group, directory.ErrGroupNotFound)
	}
	var out []string
	for uk, u := range d.users {
		if d.memberLocked(uk, gk, nested, map[string]bool{}) {
			out = append(out, u.name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// AddMember implements directory.Directory; already a member is success.
func (d *InternalDirectory) AddMember(ctx context.Context, user, group string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	uk, gk := strings.ToLower(user), strings.ToLower(group)
	if _, ok := d.users[uk]; !ok {
		return fmt.Errorf("internal directory add %s to %s: %w", user, group, directory.ErrUserNotFound)
	}
	g, ok := d.groups[gk]
	if !ok {
		return fmt.Errorf("internal directory add %s to %s: %w", user, group, directory.ErrGroupNotFound)
	}
	g.users[uk] = true
	return nil
}

// RemoveMember implements directory.Directory; not a member is success.
func (d *InternalDirectory) RemoveMember(ctx context.Context, user, group string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	uk, gk := strings.ToLower(user), strings.ToLower(group)
	if _, ok := d.users[uk]; !ok {
		return fmt.Errorf("internal directory remove %s from %s: %w", user, group, directory.ErrUserNotFound)
	}
	g, ok := d.groups[gk]
	if !ok {
		return fmt.Errorf("internal directory remove %s from %s: %w", user, group, directory.ErrGroupNotFound)
	}
	delete(g.users, uk)
	return nil
}
