// Command floatseat is the floating-licence proxy for Jira and Confluence
// Data Center. main only parses the command line and hands over to
// internal/app; see `floatseat help`.
package main

import (
	"os"

	"github.com/floatseat/floatseat/internal/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
