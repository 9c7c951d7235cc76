//go:build directorytest

// The shared conformance suite (internal/directory/directorytest) arrives
// from another branch; until it is merged this file is built only with
// -tags directorytest. Remove the constraint once the package is on main.

package appdir

import (
	"testing"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/directorytest"
)

func TestConformance(t *testing.T) {
	for _, product := range products {
		t.Run(product, func(t *testing.T) {
			directorytest.Run(t, func(t *testing.T) directory.Directory {
				_, d := fixture(t, product)
				return d
			})
		})
	}
}
