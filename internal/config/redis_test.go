package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floatseat/floatseat/internal/testenv"
)

// TestRedisTopology: check refuses redis: combinations that cannot work
// and accepts the three topologies floatseat is tested on.
func TestRedisTopology(t *testing.T) {
	const from = "  addr: \"127.0.0.1:6379\""
	for _, tc := range []struct {
		name    string
		redis   string // replaces the valid config's addr line
		err     string // substring of an error; empty: no error
		warn    string // substring of a warning
		cluster bool   // ClusterMode
	}{
		{name: "one server", redis: from},
		{name: "cluster through one seed", redis: "  addr: r1:6379\n  cluster: true", cluster: true},
		{name: "cluster seed in addrs", redis: "  addrs: [r1:6379]\n  cluster: true", cluster: true},
		{name: "cluster through several addrs", redis: "  addrs: [r1:6379, r2:6379, r3:6379]", cluster: true},
		{name: "sentinel", redis: "  addrs: [s1:26379, s2:26379, s3:26379]\n  sentinel_master: mymaster\n  db: 2"},
		{name: "db with cluster", redis: "  addr: r1:6379\n  cluster: true\n  db: 1", err: "only database 0"},
		{name: "db with several addrs", redis: "  addrs: [r1:6379, r2:6379]\n  db: 3", err: "only database 0"},
		{name: "cluster and sentinel", redis: "  addrs: [s1:26379]\n  sentinel_master: m\n  cluster: true", err: "exclude each other"},
		{name: "cluster without address", redis: "  cluster: true", err: "needs a seed address"},
		{name: "sentinel master with addr", redis: "  addr: s1:26379\n  sentinel_master: m", err: "list the sentinels in redis.addrs"},
		{name: "sentinel master without addresses", redis: "  sentinel_master: m", err: "needs the sentinels"},
		{name: "one addrs entry without a topology", redis: "  addrs: [r1:6379]", warn: "set redis.cluster: true"},
		{name: "fewer than three sentinels", redis: "  addrs: [s1:26379, s2:26379]\n  sentinel_master: m", warn: "2 sentinel(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, warns, errs := Parse([]byte(strings.Replace(valid, from, tc.redis, 1)), "", secrets)
			all := ""
			for _, e := range errs {
				all += e.Error() + "\n"
			}
			if tc.err == "" {
				if len(errs) > 0 {
					t.Fatalf("got errors:\n%s", all)
				}
				if cfg.Redis.ClusterMode() != tc.cluster {
					t.Errorf("ClusterMode: got %v, want %v", cfg.Redis.ClusterMode(), tc.cluster)
				}
			} else if !strings.Contains(all, tc.err) {
				t.Errorf("got errors:\n%s want one mentioning %q", all, tc.err)
			}
			if w := strings.Join(warns, "\n"); tc.warn != "" && !strings.Contains(w, tc.warn) {
				t.Errorf("got warnings:\n%s\nwant one mentioning %q", w, tc.warn)
			}
		})
	}
}

// TestRedisTLS: redis.tls files are resolved relative to the configuration
// file like every *_file key, checked when TLS is on (a CA with a
// certificate, a client certificate with its key), and warned about when
// they would do nothing or expose something.
func TestRedisTLS(t *testing.T) {
	ca := testenv.NewCA(t, "config-test")
	cert, key := ca.IssueClient(t, "floatseat")
	other, _ := testenv.NewCA(t, "other").IssueClient(t, "other")
	dir := filepath.Dir(ca.CertFile) // the CA's files and the client's are side by side
	path := filepath.Join(dir, "floatseat.yaml")
	base := filepath.Base
	const from = "  addr: \"127.0.0.1:6379\""
	for _, tc := range []struct {
		name string
		tls  string // the tls: section, under redis:
		err  string // substring of an error; empty: no error
		warn string // substring of a warning
	}{
		{name: "CA and client certificate, relative to the file", tls: "{enabled: true, ca_file: " + base(ca.CertFile) + ", cert_file: " + base(cert) + ", key_file: " + base(key) + "}"},
		{name: "CA only, absolute", tls: "{enabled: true, ca_file: " + ca.CertFile + "}"},
		{name: "missing CA file", tls: "{enabled: true, ca_file: nope.pem}", err: "redis.tls.ca_file"},
		{name: "CA file without a certificate", tls: "{enabled: true, ca_file: " + base(key) + "}", err: "no certificate found"},
		{name: "certificate without its key", tls: "{enabled: true, cert_file: " + base(cert) + "}", err: "cert_file and key_file go together"},
		{name: "key of another certificate", tls: "{enabled: true, cert_file: " + other + ", key_file: " + key + "}", err: "redis.tls.cert_file/key_file"},
		{name: "files with TLS off", tls: "{ca_file: " + ca.CertFile + "}", warn: "redis.tls.enabled is false"},
		{name: "no verification", tls: "{enabled: true, insecure_skip_verify: true}", warn: "not verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, warns, errs := Parse([]byte(strings.Replace(valid, from, from+"\n  tls: "+tc.tls, 1)), path, secrets)
			all := ""
			for _, e := range errs {
				all += e.Error() + "\n"
			}
			switch {
			case tc.err == "" && all != "":
				t.Fatalf("got errors:\n%s", all)
			case tc.err != "" && !strings.Contains(all, tc.err):
				t.Fatalf("got errors:\n%s want one mentioning %q", all, tc.err)
			}
			if w := strings.Join(warns, "\n"); tc.warn != "" && !strings.Contains(w, tc.warn) {
				t.Errorf("got warnings:\n%s\nwant one mentioning %q", w, tc.warn)
			}
			if tc.err != "" {
				return
			}
			if c := cfg.Redis.TLS.CAFile; c != "" && c != ca.CertFile {
				t.Errorf("ca_file: got %q, want %q (relative to %s)", c, ca.CertFile, path)
			}
			tc2, err := cfg.Redis.TLS.ClientConfig("redis.tls")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tc2 != nil, cfg.Redis.TLS.Enabled; got != want {
				t.Fatalf("ClientConfig: got a config %v, want %v", got, want)
			}
			if tc2 != nil && (len(tc2.Certificates) == 1) != (cfg.Redis.TLS.CertFile != "") {
				t.Errorf("ClientConfig: %d client certificates, cert_file %q", len(tc2.Certificates), cfg.Redis.TLS.CertFile)
			}
		})
	}
	t.Run("a client key everyone can read", func(t *testing.T) {
		if err := os.Chmod(key, 0o644); err != nil {
			t.Fatal(err)
		}
		_, warns, errs := Parse([]byte(strings.Replace(valid, from, from+"\n  tls: {enabled: true, cert_file: "+cert+", key_file: "+key+"}", 1)), path, secrets)
		if len(errs) > 0 || !strings.Contains(strings.Join(warns, "\n"), "redis.tls.key_file: "+key+" is readable by every user") {
			t.Errorf("got %v %v, want a warning about the key", errs, warns)
		}
	})
}
