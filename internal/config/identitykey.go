package config

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// IdentityKey is the HMAC key of learned mappings (and of anything else
// floatseat signs for a browser). Every replica must hold the same key, and
// keep it when Redis loses its data, or a mapping learned by one replica is
// missed by the others.
//
// identity.key_file wins. Without it the key is derived (HKDF-SHA256) from
// the secrets the configuration already holds (admin token, service
// account, Redis and directory passwords): every replica of one
// configuration computes the same key, at every start, whatever Redis
// holds, and nothing new has to be distributed. Rotating one of those
// secrets re-keys; mappings are then relearned from the app's own
// responses, which is what happens after any cache loss. nil means the
// configuration holds no secret at all (only then is a key kept in Redis).
func (c *Config) IdentityKey() []byte {
	if k := c.Identity.Key.Reveal(); k != "" {
		return []byte(k)
	}
	var ikm []byte
	for _, s := range []struct {
		label string
		v     Secret
	}{
		{"admin.token", c.Admin.Token},
		{"app.password", c.App.Password},
		{"redis.password", c.Redis.Password},
		{"directory.ldap.bind_password", c.Directory.LDAP.BindPassword},
		{"directory.crowd.app_password", c.Directory.Crowd.AppPassword},
	} {
		if s.v == "" {
			continue
		}
		ikm = append(ikm, s.label...)
		ikm = append(ikm, 0)
		ikm = append(ikm, s.v.Reveal()...)
		ikm = append(ikm, 0)
	}
	if len(ikm) == 0 {
		return nil
	}
	k, err := hkdf.Key(sha256.New, ikm, []byte(c.Redis.KeyPrefix), "floatseat identity key v1", 32)
	if err != nil {
		return nil // only for an impossible length
	}
	return k
}
