package appsim

import (
	"context"
	"testing"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/directorytest"
)

// The simulator's own directory stands in for LDAP in tests and the demo,
// so it must behave like every real backend.
func TestInternalDirectoryConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) directory.Directory {
		d := NewInternalDirectory()
		for _, u := range directorytest.Fixture.Users {
			d.AddUser(u, "pw")
		}
		for g, members := range directorytest.Fixture.Groups {
			d.AddGroup(g)
			for _, u := range members {
				if err := d.AddMember(context.Background(), u, g); err != nil {
					t.Fatal(err)
				}
			}
		}
		for parent, children := range directorytest.Fixture.Nesting {
			for _, c := range children {
				d.AddSubgroup(parent, c)
			}
		}
		return d
	})
}
