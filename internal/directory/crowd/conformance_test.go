package crowd

import (
	"testing"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/crowd/crowdfake"
	"github.com/floatseat/floatseat/internal/directory/directorytest"
)

func TestConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) directory.Directory {
		_, c := fixture(t, crowdfake.Options{})
		return c
	})
}
