package appdir

import (
	"testing"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/directorytest"
)

func TestConformance(t *testing.T) {
	for _, product := range products {
		t.Run(product, func(t *testing.T) {
			directorytest.RunWith(t, directorytest.Options{EffectiveOnly: true}, func(t *testing.T) directory.Directory {
				_, d := fixture(t, product)
				return d
			})
		})
	}
}
