package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/floatseat/floatseat/internal/config"
)

func TestOpenEmbedded(t *testing.T) {
	s, err := Open(config.Redis{KeyPrefix: "fs"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.mini == nil {
		t.Fatal("no address: got no embedded store")
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("embedded store: ping: %v", err)
	}
	addr := s.mini.Addr()
	_ = s.Close()
	if err := s.mini.m.StartAddr(addr); err != nil {
		t.Errorf("after Close the embedded store still holds %s: %v", addr, err)
	} else {
		s.mini.m.Close()
	}
}

func TestOpenAddress(t *testing.T) {
	mr := miniredis.RunT(t)
	s, err := Open(config.Redis{Addr: mr.Addr(), KeyPrefix: "fs"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if s.mini != nil {
		t.Error("with an address: got an embedded store too")
	}
	if err := s.Heartbeat(t.Context(), "r1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if !mr.Exists("{fs}:heartbeats") {
		t.Errorf("keys: got %v, want {fs}:heartbeats", mr.Keys())
	}
}

func TestUniversalOptions(t *testing.T) {
	dir := t.TempDir()
	noCert := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(noCert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cfg     config.Redis
		addrs   []string
		master  string
		cluster bool
		tls     bool
		wantErr string
	}{
		{name: "one address", cfg: config.Redis{Addr: "r:6379"}, addrs: []string{"r:6379"}},
		{name: "sentinel", cfg: config.Redis{Addrs: []string{"s1:26379", "s2:26379"}, SentinelMaster: "mymaster"}, addrs: []string{"s1:26379", "s2:26379"}, master: "mymaster"},
		{name: "cluster seed", cfg: config.Redis{Addr: "r:6379", Cluster: true}, addrs: []string{"r:6379"}, cluster: true},
		{name: "tls", cfg: config.Redis{Addr: "r:6380", TLS: config.TLS{Enabled: true, ServerName: "r"}}, addrs: []string{"r:6380"}, tls: true},
		{name: "missing CA file", cfg: config.Redis{Addr: "r:6380", TLS: config.TLS{Enabled: true, CAFile: filepath.Join(dir, "nope.pem")}}, wantErr: "redis.tls.ca_file"},
		{name: "CA file without a certificate", cfg: config.Redis{Addr: "r:6380", TLS: config.TLS{Enabled: true, CAFile: noCert}}, wantErr: "no certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := universalOptions(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(o.Addrs, ",") != strings.Join(tc.addrs, ",") || o.MasterName != tc.master || o.IsClusterMode != tc.cluster || (o.TLSConfig != nil) != tc.tls {
				t.Errorf("got addrs %v master %q tls %v; want %v %q %v", o.Addrs, o.MasterName, o.TLSConfig != nil, tc.addrs, tc.master, tc.tls)
			}
		})
	}
}

// TestOpenClusterReloadsSlotMap: a Cluster client reloads its slot map
// every clusterStateReload, so that after a failover it finds the promoted
// replica within seconds (go-redis reloads on MOVED, not when a master
// stops answering, and defaults to once a minute).
func TestOpenClusterReloadsSlotMap(t *testing.T) {
	for _, cfg := range []config.Redis{
		{Addr: "seed:6379", Cluster: true, KeyPrefix: "fs"},
		{Addrs: []string{"n1:6379", "n2:6379"}, KeyPrefix: "fs"},
	} {
		s, err := Open(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		cc, ok := s.rdb.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("%+v: got a %T, want a cluster client", cfg, s.rdb)
		}
		if got := cc.Options().ClusterStateReloadInterval; got != clusterStateReload {
			t.Errorf("%+v: slot map reloaded every %v, want %v", cfg, got, clusterStateReload)
		}
		_ = s.Close()
	}
}
