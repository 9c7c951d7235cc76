// Package directorytest is the conformance suite every directory backend
// passes: the same fixture, the same questions, the same answers, whether
// the backend is LDAP, Crowd, the app's REST API or the simulator's own
// directory.
package directorytest

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/floatseat/floatseat/internal/directory"
)

// ParkingGroup is the fixture's parking group of jira-software-users.
const ParkingGroup = "floatseat-parked-jira-software-users"

// Fixture is what newDir must seed, as plain data.
var Fixture = struct {
	Users   []string
	Groups  map[string][]string // group → direct user members
	Nesting map[string][]string // group → direct subgroups
}{
	Users: []string{"alice", "bob", "carol", "dave", "Erin"},
	Groups: map[string][]string{
		"jira-software-users":    {"alice"},
		"jira-servicedesk-users": {"bob"},
		"confluence-users":       {},
		"child-group":            {"carol"},
		"parent-group":           {},
		// A parking group (DESIGN §2.10), seeded for backends that cannot
		// create groups; the others create one of their own too.
		ParkingGroup: {},
	},
	Nesting: map[string][]string{"parent-group": {"child-group"}},
}

func lower(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	sort.Strings(out)
	return out
}

func same(got, want []string) bool {
	g, w := lower(got), lower(want)
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		if g[i] != w[i] {
			return false
		}
	}
	return true
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Options describe what a backend cannot do.
type Options struct {
	// EffectiveOnly: the backend sees only effective (nested) membership,
	// as the apps' REST group APIs do; direct-only questions are skipped.
	EffectiveOnly bool
	// NoNesting: groups cannot contain groups (posixGroup's memberUid holds
	// uids); nested questions then answer like direct ones.
	NoNesting bool
}

// Run runs the suite; newDir returns a freshly seeded directory each call.
func Run(t *testing.T, newDir func(t *testing.T) directory.Directory) {
	RunWith(t, Options{}, newDir)
}

// RunWith runs the suite for a backend with the limits in o.
func RunWith(t *testing.T, o Options, newDir func(t *testing.T) directory.Directory) {
	ctx := context.Background()
	t.Run("is member", func(t *testing.T) {
		d := newDir(t)
		for _, tc := range []struct {
			user, group string
			nested      bool
			want        bool
		}{
			{"alice", "jira-software-users", false, true},
			{"ALICE", "Jira-Software-Users", false, true},
			{"bob", "jira-software-users", false, false},
			{"carol", "parent-group", true, !o.NoNesting},
			{"erin", "confluence-users", true, false},
		} {
			got, err := d.IsMember(ctx, tc.user, tc.group, tc.nested)
			if err != nil || got != tc.want {
				t.Errorf("IsMember(%s, %s, nested=%v) = %v, %v; want %v", tc.user, tc.group, tc.nested, got, err, tc.want)
			}
		}
	})
	t.Run("user groups", func(t *testing.T) {
		d := newDir(t)
		if !o.EffectiveOnly {
			direct, err := d.UserGroups(ctx, "carol", false)
			if err != nil || !same(direct, []string{"child-group"}) {
				t.Errorf("direct groups of carol: %v %v", direct, err)
			}
			if ok, err := d.IsMember(ctx, "carol", "parent-group", false); err != nil || ok {
				t.Errorf("carol a direct member of parent-group: %v %v, want false", ok, err)
			}
		}
		wantNested := []string{"child-group", "parent-group"}
		if o.NoNesting {
			wantNested = wantNested[:1]
		}
		nested, err := d.UserGroups(ctx, "Carol", true)
		if err != nil || !same(nested, wantNested) {
			t.Errorf("nested groups of carol: %v %v", nested, err)
		}
	})
	t.Run("members", func(t *testing.T) {
		d := newDir(t)
		wantParent := []string{"carol"}
		if o.NoNesting {
			wantParent = nil
		}
		m, err := d.Members(ctx, "parent-group", true)
		if err != nil || !same(m, wantParent) {
			t.Errorf("nested members of parent-group: %v %v", m, err)
		}
		if !o.EffectiveOnly {
			m, err = d.Members(ctx, "parent-group", false)
			if err != nil || len(m) != 0 {
				t.Errorf("direct members of parent-group: %v %v, want none", m, err)
			}
		}
		m, err = d.Members(ctx, "confluence-users", true)
		if err != nil || len(m) != 0 {
			t.Errorf("members of an empty group: %v %v", m, err)
		}
	})
	t.Run("add and remove are idempotent", func(t *testing.T) {
		d := newDir(t)
		for i := 0; i < 2; i++ {
			if err := d.AddMember(ctx, "dave", "jira-software-users"); err != nil {
				t.Fatalf("AddMember #%d: %v", i+1, err)
			}
		}
		m, _ := d.Members(ctx, "jira-software-users", false)
		if !same(m, []string{"alice", "dave"}) {
			t.Errorf("members after adding dave twice: %v", m)
		}
		for i := 0; i < 2; i++ {
			if err := d.RemoveMember(ctx, "dave", "jira-software-users"); err != nil {
				t.Fatalf("RemoveMember #%d: %v", i+1, err)
			}
		}
		if ok, _ := d.IsMember(ctx, "dave", "jira-software-users", false); ok {
			t.Error("dave still a member after removal")
		}
	})
	t.Run("typed errors", func(t *testing.T) {
		d := newDir(t)
		if err := d.AddMember(ctx, "nobody", "jira-software-users"); !errors.Is(err, directory.ErrUserNotFound) {
			t.Errorf("unknown user: %v, want ErrUserNotFound", err)
		}
		if err := d.AddMember(ctx, "alice", "no-such-group"); !errors.Is(err, directory.ErrGroupNotFound) {
			t.Errorf("unknown group on add: %v, want ErrGroupNotFound", err)
		}
		if _, err := d.Members(ctx, "no-such-group", false); !errors.Is(err, directory.ErrGroupNotFound) {
			t.Errorf("unknown group on members: %v, want ErrGroupNotFound", err)
		}
	})
	t.Run("parking sequence", func(t *testing.T) {
		d := newDir(t)
		parking := ParkingGroup
		// Where the backend can create groups, park in one it created.
		switch err := directory.CreateGroup(ctx, d, "floatseat-parked-confluence-users"); {
		case errors.Is(err, directory.ErrNotSupported):
			t.Log("the backend cannot create groups: using the seeded parking group")
		case err != nil:
			t.Fatalf("CreateGroup: %v", err)
		default:
			parking = "floatseat-parked-confluence-users"
			if err := directory.CreateGroup(ctx, d, parking); err != nil {
				t.Errorf("CreateGroup of an existing group: %v, want success", err)
			}
			if err := directory.CreateGroup(ctx, d, ParkingGroup); err != nil {
				t.Errorf("CreateGroup of a seeded group: %v, want success", err)
			}
			if m, err := d.Members(ctx, parking, false); err != nil || len(m) != 0 {
				t.Errorf("members of a created group: %v %v, want none", m, err)
			}
		}
		// Revoke: park first, then remove from the licence group.
		const lic = "jira-software-users"
		if err := d.AddMember(ctx, "alice", parking); err != nil {
			t.Fatalf("park alice: %v", err)
		}
		if err := d.RemoveMember(ctx, "alice", lic); err != nil {
			t.Fatalf("remove alice from %s: %v", lic, err)
		}
		if m, err := d.Members(ctx, parking, false); err != nil || !same(m, []string{"alice"}) {
			t.Errorf("parked users: %v %v, want alice", m, err)
		}
		if m, err := d.Members(ctx, lic, false); err != nil || contains(m, "alice") {
			t.Errorf("licensed users while parked: %v %v, want no alice", m, err)
		}
		if ok, err := d.IsMember(ctx, "Alice", parking, false); err != nil || !ok {
			t.Errorf("IsMember(alice, parking) = %v %v, want true", ok, err)
		}
		// Grant: give the licence group back, then unpark.
		if err := d.AddMember(ctx, "alice", lic); err != nil {
			t.Fatalf("give alice %s back: %v", lic, err)
		}
		if err := d.RemoveMember(ctx, "alice", parking); err != nil {
			t.Fatalf("unpark alice: %v", err)
		}
		if m, err := d.Members(ctx, parking, false); err != nil || len(m) != 0 {
			t.Errorf("parked users after the grant: %v %v, want none", m, err)
		}
		if m, err := d.Members(ctx, lic, false); err != nil || !same(m, []string{"alice"}) {
			t.Errorf("licensed users after the grant: %v %v, want alice", m, err)
		}
		groups, err := d.UserGroups(ctx, "alice", false)
		if err != nil || contains(groups, parking) || !contains(groups, lic) {
			t.Errorf("alice's groups after the grant: %v %v", groups, err)
		}
	})
	t.Run("concurrent add and remove stay consistent", func(t *testing.T) {
		d := newDir(t)
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if i%2 == 0 {
					_ = d.AddMember(ctx, "erin", "confluence-users")
				} else {
					_ = d.RemoveMember(ctx, "erin", "confluence-users")
				}
			}(i)
		}
		wg.Wait()
		if err := d.AddMember(ctx, "erin", "confluence-users"); err != nil {
			t.Fatal(err)
		}
		m, err := d.Members(ctx, "confluence-users", false)
		if err != nil || len(m) != 1 || !contains(m, "erin") {
			t.Errorf("after the race and a final add: %v %v, want exactly erin once", m, err)
		}
	})
}
