package app

import (
	"fmt"
	"log/slog"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
)

// openLDAP is replaced when the LDAP backend is built in.
var openLDAP = func(cfg *config.Config, log *slog.Logger) (directory.Directory, error) {
	return nil, fmt.Errorf("%w: ldap", errNoBackend)
}
