package admin

import (
	"context"
	"errors"
	"testing"

	"github.com/floatseat/floatseat/internal/config"
)

type (
	noDirectory struct{}
	noMembers   struct{}
)

func (noDirectory) Members(context.Context, string, bool) ([]string, error)    { return nil, nil }
func (noDirectory) UserGroups(context.Context, string, bool) ([]string, error) { return nil, nil }
func (noMembers) Ensure(context.Context) error                                 { return nil }
func (noMembers) Members(...string) (map[string]bool, bool)                    { return nil, true }
func (noMembers) Excluded() map[string]bool                                    { return nil }

// TestNewModelNeedsMembers: with a directory the model lists users from
// the membership view the reaper judges by, never from a view of its own.
func TestNewModelNeedsMembers(t *testing.T) {
	base := ModelOptions{Running: fixedConfig{&config.Config{Product: config.ProductJira}}, Store: emptyStore{}, Audit: emptyAudit{}}
	withDir := base
	withDir.Directory = noDirectory{}
	if _, err := NewModel(withDir); !errors.Is(err, ErrNoMembers) {
		t.Errorf("a directory without the membership view: got %v, want ErrNoMembers", err)
	}
	withDir.Members = noMembers{}
	if m, err := NewModel(withDir); err != nil || !m.HasSeats() {
		t.Errorf("a directory with the view: got %v, HasSeats %v; want a model with seats", err, m != nil && m.HasSeats())
	}
	if m, err := NewModel(base); err != nil || m.HasSeats() {
		t.Errorf("no directory: got %v; want a model without seats", err)
	}
}
