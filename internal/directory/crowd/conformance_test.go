//go:build directorytest

// The shared conformance suite (internal/directory/directorytest) arrives
// from another branch; until it is merged this file is built only with
// -tags directorytest. Remove the constraint once the package is on main.

package crowd

import (
	"testing"

	"github.com/floatseat/floatseat/internal/crowdfake"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/directorytest"
)

func TestConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) directory.Directory {
		_, c := fixture(t, crowdfake.Options{})
		return c
	})
}
