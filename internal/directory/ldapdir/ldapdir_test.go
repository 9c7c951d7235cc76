package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/directorytest"
	"github.com/floatseat/floatseat/internal/testenv"
)

const placeholder = "cn=nobody,dc=example,dc=org"

type flavour struct {
	name, class, attr, value string
}

var flavours = []flavour{
	{"groupOfNames", "groupOfNames", "member", "dn"},
	{"groupOfUniqueNames", "groupOfUniqueNames", "uniqueMember", "dn"},
	{"posixGroup", "posixGroup", "memberUid", "uid"},
}

func admin(t *testing.T, s *testenv.Slapd) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func add(t *testing.T, c *ldap.Conn, dn string, attrs map[string][]string) {
	t.Helper()
	r := ldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		r.Attribute(k, v)
	}
	if err := c.Add(r); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		t.Fatalf("add %s: %v", dn, err)
	}
}

func userDN(u string) string { return "uid=" + ldap.EscapeDN(u) + ",ou=people,dc=example,dc=org" }

// seed builds ou=people and ou=<flavour> with the conformance fixture.
func seed(t *testing.T, s *testenv.Slapd, f flavour, users []string) (*ldap.Conn, string) {
	t.Helper()
	c := admin(t, s)
	add(t, c, "dc=example,dc=org", map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}})
	add(t, c, "ou=people,dc=example,dc=org", map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}})
	base := "ou=" + f.name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ",dc=example,dc=org"
	add(t, c, base, map[string][]string{"objectClass": {"organizationalUnit"}})
	for _, u := range users {
		add(t, c, userDN(u), map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {u}, "cn": {u}, "sn": {u},
			"userPassword": {"pw-" + u}})
	}
	gdn := func(g string) string { return "cn=" + g + "," + base }
	gid := 1000
	for g, members := range directorytest.Fixture.Groups {
		vals := []string{}
		for _, m := range members {
			if f.value == "uid" {
				vals = append(vals, m)
			} else {
				vals = append(vals, userDN(m))
			}
		}
		attrs := map[string][]string{"objectClass": {f.class}, "cn": {g}}
		if f.value == "uid" {
			gid++
			attrs["gidNumber"] = []string{strconv.Itoa(gid)} // posixGroup: members optional, no nesting
		} else {
			for _, sub := range directorytest.Fixture.Nesting[g] {
				vals = append(vals, gdn(sub))
			}
			if len(vals) == 0 {
				vals = []string{placeholder} // these classes must have a member
			}
		}
		if len(vals) > 0 {
			attrs[f.attr] = vals
		}
		add(t, c, gdn(g), attrs)
	}
	return c, base
}

func newDir(t *testing.T, s *testenv.Slapd, f flavour, groupBase string) *Dir {
	t.Helper()
	d, err := New(Config{URL: s.URL, BindDN: s.AdminDN, BindPassword: s.AdminPassword,
		UserBaseDN: "ou=people,dc=example,dc=org", UserFilter: "(&(objectClass=inetOrgPerson)(uid=%s))",
		GroupBaseDN: groupBase, MemberAttribute: f.attr, MemberValue: f.value, Nested: true, Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestConformanceAgainstSlapd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real slapd")
	}
	s := testenv.StartSlapd(t)
	for _, f := range flavours {
		t.Run(f.name, func(t *testing.T) {
			directorytest.RunWith(t, directorytest.Options{NoNesting: f.value == "uid"}, func(t *testing.T) directory.Directory {
				_, base := seed(t, s, f, directorytest.Fixture.Users)
				return newDir(t, s, f, base)
			})
		})
	}
}

func TestEscapingCannotInjectFilters(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real slapd")
	}
	s := testenv.StartSlapd(t)
	f := flavours[0]
	_, base := seed(t, s, f, []string{"alice", "bob", "Zoë", `we(ir)d*\name`})
	d := newDir(t, s, f, base)
	ctx := t.Context()
	for _, u := range []string{"*", "alice)(uid=*", "a*"} {
		if err := d.AddMember(ctx, u, "confluence-users"); !errors.Is(err, directory.ErrUserNotFound) {
			t.Errorf("AddMember(%q): %v, want ErrUserNotFound (no filter injection)", u, err)
		}
	}
	for _, u := range []string{"Zoë", `we(ir)d*\name`} {
		if err := d.AddMember(ctx, u, "confluence-users"); err != nil {
			t.Fatalf("AddMember(%q): %v", u, err)
		}
		if ok, err := d.IsMember(ctx, u, "confluence-users", false); !ok || err != nil {
			t.Errorf("IsMember(%q): %v %v", u, ok, err)
		}
	}
	if err := d.VerifyPassword(ctx, "Zoë", "pw-Zoë"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := d.VerifyPassword(ctx, "Zoë", "nope"); !errors.Is(err, directory.ErrBadCredentials) {
		t.Errorf("wrong password: %v", err)
	}
}

func TestLargeGroupAndCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real slapd")
	}
	s := testenv.StartSlapd(t)
	f := flavours[0]
	c, base := seed(t, s, f, []string{"alice"})
	vals := make([]string, 5000)
	for i := range vals {
		vals[i] = userDN(fmt.Sprintf("user%04d", i))
	}
	add(t, c, "cn=big,"+base, map[string][]string{"objectClass": {f.class}, "cn": {"big"}, f.attr: vals})
	add(t, c, "cn=loop-a,"+base, map[string][]string{"objectClass": {f.class}, "cn": {"loop-a"}, f.attr: {"cn=loop-b," + base, userDN("alice")}})
	add(t, c, "cn=loop-b,"+base, map[string][]string{"objectClass": {f.class}, "cn": {"loop-b"}, f.attr: {"cn=loop-a," + base}})
	d := newDir(t, s, f, base)
	ctx := t.Context()
	m, err := d.Members(ctx, "big", true)
	if err != nil || len(m) != 5000 {
		t.Errorf("members of a 5,000-member group: %d, %v", len(m), err)
	}
	m, err = d.Members(ctx, "loop-b", true)
	if err != nil || len(m) != 1 || m[0] != "alice" {
		t.Errorf("nested members through a cycle: %v %v, want [alice]", m, err)
	}
	gs, err := d.UserGroups(ctx, "alice", true)
	if err != nil || len(gs) != 3 {
		t.Errorf("nested groups of alice through a cycle: %v %v, want jira-software-users, loop-a and loop-b", gs, err)
	}
}

func TestSlapdDownFailsFastAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real slapd")
	}
	s := testenv.StartSlapd(t)
	f := flavours[0]
	_, base := seed(t, s, f, []string{"alice"})
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	d := directory.Instrument("ldap", newDir(t, s, f, base), directory.NewMetrics(prometheus.NewRegistry()),
		directory.Options{Timeout: time.Second, Retries: -1, Threshold: 2, Cooldown: time.Hour, Clock: clock})
	ctx := t.Context()
	if _, err := d.IsMember(ctx, "alice", "jira-software-users", false); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	for i := 0; i < 2; i++ {
		if _, err := d.IsMember(ctx, "alice", "jira-software-users", false); !errors.Is(err, directory.ErrUnavailable) {
			t.Fatalf("slapd down, call %d: %v, want ErrUnavailable", i, err)
		}
	}
	_, err := d.IsMember(ctx, "alice", "jira-software-users", false)
	if !errors.Is(err, directory.ErrCircuitOpen) {
		t.Errorf("after the breaker opened: %v, want ErrCircuitOpen without calling slapd", err)
	}
	s.Restart(t)
	mu.Lock()
	now = now.Add(2 * time.Hour) // past the cooldown: a probe goes through
	mu.Unlock()
	if ok, err := d.IsMember(context.Background(), "alice", "jira-software-users", false); err != nil || !ok {
		t.Errorf("after slapd restarted: %v %v, want recovery", ok, err)
	}
}
