package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Slapd is a real OpenLDAP server started for one test.
type Slapd struct {
	*Process
	URL, BaseDN, AdminDN, AdminPassword string
	Addr                                string
}

// StartSlapd runs slapd with the core, cosine, inetOrgPerson and nis
// schemas and an empty mdb database for dc=example,dc=org on a free
// loopback port, in the foreground so the test owns it.
func StartSlapd(t TB) *Slapd {
	t.Helper()
	bin := Binary(t, "slapd")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &Slapd{BaseDN: "dc=example,dc=org", AdminDN: "cn=admin,dc=example,dc=org", AdminPassword: "admin-secret"}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile %[1]s/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[5]s
maxsize 104857600
`, dir, s.BaseDN, s.AdminDN, s.AdminPassword, data)
	cf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	s.URL = "ldap://" + s.Addr
	s.Process = StartProcess(t, dir, bin, "-d", "0", "-h", s.URL+"/", "-f", cf)
	s.wait(t)
	return s
}

// Restart starts slapd again on the same port and data after Stop or Kill.
func (s *Slapd) Restart(t TB) {
	t.Helper()
	s.Start()
	s.wait(t)
}

func (s *Slapd) wait(t TB) {
	t.Helper()
	if err := WaitTCP(t.Context(), s.Addr, 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, s.Output())
	}
}
