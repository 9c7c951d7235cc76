package config

import (
	"bytes"
	"testing"
)

// Two replicas of one configuration hold the same identity key without
// Redis, and a different secret or key file gives another.
func TestIdentityKeyIsStableWithoutRedis(t *testing.T) {
	parse := func(env map[string]string, yaml string) *Config {
		t.Helper()
		cfg, _, errs := Parse([]byte(yaml), "", func(k string) string { return env[k] })
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return cfg
	}
	base := "mode: observe\nredis: {addr: 127.0.0.1:6379}\npools: [{name: p, license_groups: [g], seats: 50}]\n"
	a := parse(map[string]string{"FLOATSEAT_ADMIN_TOKEN": "tok", "FLOATSEAT_APP_PASSWORD": "pw"}, base).IdentityKey()
	b := parse(map[string]string{"FLOATSEAT_ADMIN_TOKEN": "tok", "FLOATSEAT_APP_PASSWORD": "pw"}, base).IdentityKey()
	if len(a) != 32 || !bytes.Equal(a, b) {
		t.Fatalf("two replicas: keys %x and %x, want the same 32 bytes", a, b)
	}
	if c := parse(map[string]string{"FLOATSEAT_ADMIN_TOKEN": "tok", "FLOATSEAT_APP_PASSWORD": "other"}, base).IdentityKey(); bytes.Equal(a, c) {
		t.Error("another secret gave the same key")
	}
	if c := parse(map[string]string{"FLOATSEAT_ADMIN_TOKEN": "tok", "FLOATSEAT_APP_PASSWORD": "pw", "FLOATSEAT_IDENTITY_KEY": "0123456789abcdef0123456789abcdef"}, base).IdentityKey(); string(c) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("identity.key_file (FLOATSEAT_IDENTITY_KEY) must win: %q", c)
	}
	if c := parse(nil, base).IdentityKey(); c != nil {
		t.Errorf("no secret at all: %x, want nil (the key kept in Redis)", c)
	}
}
