package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floatseat/floatseat/internal/testenv"
)

// TestCheckReachesRedis: check sends Redis one PING over the configured
// TLS. A CA that did not sign the server's certificate is an error naming
// redis.tls.ca_file; the right one is ok; a Redis nothing answers for is a
// warning only (check may run where Redis cannot be reached).
func TestCheckReachesRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real TLS redis-server")
	}
	r := testenv.StartRedisTLS(t)
	wrong := testenv.NewCA(t, "not-the-servers")
	dir := t.TempDir()
	write := func(name, redis string) string {
		p := filepath.Join(dir, name)
		body := fmt.Sprintf("product: jira\nmode: observe\nupstream: http://127.0.0.1:8080\nredis: %s\npools: [{name: jira-software, license_groups: [jira-software-users], seats: 10}]\n", redis)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	code, out, errOut := run("check", "--config", write("wrong-ca.yaml", fmt.Sprintf("{addr: %q, tls: {enabled: true, ca_file: %q}}", r.Addr, wrong.CertFile)))
	if code != 1 || !strings.Contains(errOut, "error: redis: "+r.Addr+": the server's TLS certificate is not trusted (redis.tls.ca_file") ||
		!strings.Contains(errOut, "certificate signed by unknown authority") {
		t.Errorf("check with a wrong CA: %d %q %q, want exit 1 naming redis.tls.ca_file", code, out, errOut)
	}
	code, out, errOut = run("check", "--config", write("right-ca.yaml", fmt.Sprintf("{addr: %q, tls: {enabled: true, ca_file: %q}}", r.Addr, r.CA.CertFile)))
	if code != 0 || !strings.Contains(out, "ok") || strings.Contains(errOut, "redis") {
		t.Errorf("check with the server's CA: %d %q %q, want ok", code, out, errOut)
	}
	code, out, errOut = run("check", "--config", write("unreachable.yaml", `{addr: "127.0.0.1:1"}`))
	if code != 0 || !strings.Contains(out, "ok") || !strings.Contains(errOut, "warning: redis: 127.0.0.1:1 not reachable from here") {
		t.Errorf("check with nothing at the address: %d %q %q, want ok and a warning", code, out, errOut)
	}
}
