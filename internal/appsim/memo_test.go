package appsim

import (
	"fmt"
	"testing"
)

// TestGroupPagesShareOneSortedList: the pages of a listing read one sorted
// member list per cache generation (O(page) a page, not a re-sort of every
// member per page), and a membership change is seen by the next page.
func TestGroupPagesShareOneSortedList(t *testing.T) {
	sim := New(Config{Product: "jira", Roles: []Role{{Key: "jira-software", Groups: []string{"jira-software-users"}, Seats: 10}}})
	dir := sim.InternalDirectory()
	ctx := t.Context()
	dir.AddGroup("jira-software-users")
	for i := 0; i < 120; i++ {
		u := fmt.Sprintf("u%03d", i)
		dir.AddUser(u, "pw")
		_ = dir.AddMember(ctx, u, "jira-software-users")
	}
	if err := sim.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	sim.mu.Lock()
	a, b := sim.cachedMembers("jira-software-users"), sim.cachedMembers("JIRA-software-users")
	sim.mu.Unlock()
	if len(a) != 120 || &a[0] != &b[0] || a[0] != "u000" || a[119] != "u119" {
		t.Fatalf("two pages: %d members, shared %v; want 120 sorted, one list", len(a), &a[0] == &b[0])
	}
	dir.AddUser("aaron", "pw")
	_ = dir.AddMember(ctx, "aaron", "jira-software-users")
	sim.cacheAdd(ctx, "aaron", "jira-software-users") // through the app's own group API
	sim.mu.Lock()
	c := sim.cachedMembers("jira-software-users")
	sim.mu.Unlock()
	if len(c) != 121 || c[0] != "aaron" {
		t.Errorf("after a change: %d members, first %q; want 121 with aaron first", len(c), c[0])
	}
}
