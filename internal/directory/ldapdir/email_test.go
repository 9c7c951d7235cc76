package ldapdir

import (
	"errors"
	"testing"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/testenv"
)

func TestUserByEmail(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real slapd")
	}
	s := testenv.StartSlapd(t)
	c, base := seed(t, s, flavours[0], nil)
	for u, mail := range map[string]string{"hjones": "hank@example.org", "twin1": "twin@example.org", "twin2": "twin@example.org"} {
		add(t, c, userDN(u), map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {u}, "cn": {u}, "sn": {u}, "mail": {mail}})
	}
	d := newDir(t, s, flavours[0], base)
	if u, err := d.UserByEmail(t.Context(), "hank@example.org"); err != nil || u != "hjones" {
		t.Errorf("hank: %q %v, want hjones", u, err)
	}
	for _, e := range []string{"twin@example.org", "nobody@example.org", "*", "x)(uid=*"} {
		if u, err := d.UserByEmail(t.Context(), e); !errors.Is(err, directory.ErrUserNotFound) {
			t.Errorf("%q: %q %v, want ErrUserNotFound", e, u, err)
		}
	}
	if _, ok := directory.AsEmailLookup(directory.Instrument("ldap", d, directory.NewMetrics(nil), directory.Options{})); !ok {
		t.Error("the instrumented backend hides UserByEmail")
	}
}
