package scale

import (
	"context"
	"fmt"
	"sync"

	"github.com/floatseat/floatseat/internal/directory"
)

// standIn is an in-memory directory that answers at once and
// counts its calls as a paging backend would make them: a listing of n
// members is ⌈n/pageSize⌉ calls.
type standIn struct {
	pageSize int
	mu       sync.Mutex
	groups   map[string]map[string]bool
	calls    int
}

func newDirectory(pageSize int) *standIn {
	return &standIn{pageSize: pageSize, groups: map[string]map[string]bool{}}
}

func (d *standIn) add(user, group string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.groups[group] == nil {
		d.groups[group] = map[string]bool{}
	}
	d.groups[group][user] = true
}

func (d *standIn) remove(user, group string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.groups[group], user)
}

// take returns the calls counted since the last take.
func (d *standIn) take() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.calls
	d.calls = 0
	return n
}

func (d *standIn) IsMember(_ context.Context, user, group string, _ bool) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	return d.groups[group][user], nil
}

func (d *standIn) UserGroups(_ context.Context, user string, _ bool) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	var out []string
	for g, ms := range d.groups {
		if ms[user] {
			out = append(out, g)
		}
	}
	return out, nil
}

func (d *standIn) Members(_ context.Context, group string, _ bool) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ms, ok := d.groups[group]
	if !ok {
		d.calls++
		return nil, fmt.Errorf("%s: %w", group, directory.ErrGroupNotFound)
	}
	d.calls += max(1, (len(ms)+d.pageSize-1)/d.pageSize)
	out := make([]string, 0, len(ms))
	for u := range ms {
		out = append(out, u)
	}
	return out, nil
}

func (d *standIn) AddMember(_ context.Context, user, group string) error {
	d.add(user, group)
	d.mu.Lock()
	d.calls++
	d.mu.Unlock()
	return nil
}

func (d *standIn) RemoveMember(_ context.Context, user, group string) error {
	d.remove(user, group)
	d.mu.Lock()
	d.calls++
	d.mu.Unlock()
	return nil
}
