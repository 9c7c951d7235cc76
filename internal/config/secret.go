package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Secret holds a password, token or key. It prints and logs as REDACTED so a
// stray %v or slog attribute cannot leak it.
type Secret string

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret itself, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

// secretRef is one secret: its file key, the env override, and the target.
type secretRef struct {
	key  string // config key of the file, for messages
	file string
	env  string
	dst  *Secret
}

func (c *Config) secretRefs() []secretRef {
	return []secretRef{
		{"admin.token_file", c.Admin.TokenFile, "FLOATSEAT_ADMIN_TOKEN", &c.Admin.Token},
		{"admin.read_token_file", c.Admin.ReadTokenFile, "FLOATSEAT_ADMIN_READ_TOKEN", &c.Admin.ReadToken},
		{"redis.password_file", c.Redis.PasswordFile, "FLOATSEAT_REDIS_PASSWORD", &c.Redis.Password},
		{"app.password_file", c.App.PasswordFile, "FLOATSEAT_APP_PASSWORD", &c.App.Password},
		{"directory.ldap.bind_password_file", c.Directory.LDAP.BindPasswordFile, "FLOATSEAT_LDAP_BIND_PASSWORD", &c.Directory.LDAP.BindPassword},
		{"directory.crowd.app_password_file", c.Directory.Crowd.AppPasswordFile, "FLOATSEAT_CROWD_APP_PASSWORD", &c.Directory.Crowd.AppPassword},
		{"identity.key_file", c.Identity.KeyFile, "FLOATSEAT_IDENTITY_KEY", &c.Identity.Key},
	}
}

// readSecrets fills every Secret from its environment variable, or else its
// file. Files are resolved relative to the config file and must not be
// readable by everyone.
func (c *Config) readSecrets(v *validator, getenv func(string) string) {
	for _, r := range c.secretRefs() {
		if e := getenv(r.env); e != "" {
			*r.dst = Secret(strings.TrimRight(e, "\r\n"))
			continue
		}
		if r.file == "" {
			continue
		}
		p := c.resolve(r.file)
		st, err := os.Stat(p)
		if err != nil {
			v.errf("%s: %v", r.key, err)
			continue
		}
		if st.Mode().Perm()&0o004 != 0 {
			v.warn("%s: %s is readable by every user on this machine; chmod 600 it", r.key, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			v.errf("%s: %v", r.key, err)
			continue
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			v.errf("%s: %s is empty", r.key, p)
			continue
		}
		*r.dst = Secret(s)
	}
}

// resolveFiles resolves the file keys that are not secrets (certificates,
// keys, CA bundles) relative to the configuration file, as the secrets are.
func (c *Config) resolveFiles() {
	for _, p := range []*string{&c.Redis.TLS.CAFile, &c.Redis.TLS.CertFile, &c.Redis.TLS.KeyFile, &c.Directory.LDAP.CAFile} {
		if *p != "" {
			*p = c.resolve(*p)
		}
	}
}

func (c *Config) resolve(p string) string {
	if filepath.IsAbs(p) || c.Path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.Path), p)
}

// validator collects every problem instead of stopping at the first.
type validator struct {
	errs     []error
	warnings []string
}

func (v *validator) errf(format string, a ...any) { v.errs = append(v.errs, fmt.Errorf(format, a...)) }
func (v *validator) warn(format string, a ...any) {
	v.warnings = append(v.warnings, fmt.Sprintf(format, a...))
}
