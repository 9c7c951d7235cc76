// Command floatseat is the floating-licence proxy for Jira and Confluence
// Data Center. main only parses the command line and hands over to
// internal/cli; see `floatseat help`.
package main

import (
	"os"

	"github.com/floatseat/floatseat/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
