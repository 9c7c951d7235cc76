package noise

import "strings"

// Static reports web resources that the app serves for a page already
// being viewed (path without the context path). They are not activity in
// their own right. The proxy and replay both ask here.
func Static(path string) bool {
	switch {
	case strings.HasPrefix(path, "/s/"),
		strings.HasPrefix(path, "/download/resources/"),
		strings.HasPrefix(path, "/download/batch/"),
		strings.HasPrefix(path, "/download/contextbatch/"),
		strings.HasPrefix(path, "/download/superbatch/"),
		strings.HasPrefix(path, "/images/"),
		strings.HasPrefix(path, "/static-assets/"),
		path == "/favicon.ico":
		return true
	}
	return false
}
