package directory

import (
	"context"
	"fmt"
	"strconv"
)

// MaxPages bounds one paged listing, so that a misbehaving server cannot
// keep a listing going forever: 100,000 pages is 5 million members at
// Jira's 50 a page.
const MaxPages = 100000

// PageFunc reads the page of a listing at cursor ("" for the first) and
// returns its items and the cursor of the next page ("" after the last).
// Each backend's PageFunc speaks its API's paging: its page size, and how
// the API says a page is the last.
type PageFunc func(ctx context.Context, cursor string) (items []string, next string, err error)

// AllPages reads every page of one listing through page, in order. It is
// the one paging loop: the backends' Members and UserGroups use it, and
// Instrument's Members, which wraps page to give every page its own
// deadline and to retry a failed page where the listing stopped. It stops
// at the first error (returned as page gave it), after MaxPages pages, and
// at a cursor that does not advance; what names the listing in those two
// errors ("crowd members of g").
func AllPages(ctx context.Context, what string, page PageFunc) ([]string, error) {
	var out []string
	cursor := ""
	for range MaxPages {
		items, next, err := page(ctx, cursor)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		if next == cursor {
			return nil, fmt.Errorf("%s: the listing does not advance past %q", what, cursor)
		}
		cursor = next
	}
	return nil, fmt.Errorf("%s: more than %d pages; giving up", what, MaxPages)
}

// Offset is the start index an offset cursor holds: 0 for the first page.
// Every paging API floatseat reads (Crowd's start-index, Jira's startAt,
// Confluence's start) pages by offset.
func Offset(cursor string) (int, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(cursor)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad page cursor %q", cursor)
	}
	return n, nil
}

// NextOffset is the cursor after a page of n items that began at start:
// "" when the API said the page was the last.
func NextOffset(start, n int, last bool) string {
	if last {
		return ""
	}
	return strconv.Itoa(start + n)
}
