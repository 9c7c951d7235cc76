package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Nginx is a real nginx started for one test with floatseat's shipped
// server block.
type Nginx struct {
	*Process
	Addr string // host:port nginx listens on
	Dir  string
}

// RepoFile returns the path of a file in the repository, found by walking
// up from the test's working directory to go.mod.
func RepoFile(t TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testenv: go.mod not found above the test directory")
		}
		dir = parent
	}
}

// StartNginx runs nginx in front of backends (host:port, where floatseat
// replicas listen; several are balanced round-robin) using deploy/nginx/floatseat.conf as shipped: only the listen
// address, the upstream address and the TLS parts are rewritten for the
// test, everything else is what ops deploy.
func StartNginx(t TB, backends ...string) *Nginx {
	t.Helper()
	bin := Binary(t, "nginx")
	dir := t.TempDir()
	for _, d := range []string{"logs", "tmp", "client_body", "proxy"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	site := RenderSite(t, addr, backends, filepath.Join(dir, "logs"))
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 512; }
http {
  access_log %[1]s/logs/access.log;
  client_body_temp_path %[1]s/client_body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/tmp;
  uwsgi_temp_path %[1]s/tmp;
  scgi_temp_path %[1]s/tmp;
%[2]s
}
`, dir, site)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-c", cf, "-p", dir).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejected deploy/nginx/floatseat.conf: %v\n%s", err, out)
	}
	p := StartProcess(t, dir, bin, "-c", cf, "-p", dir)
	n := &Nginx{Process: p, Addr: addr, Dir: dir}
	if err := WaitTCP(t.Context(), addr, 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	return n
}

// RenderSite returns the shipped server block with the test's addresses.
// The shipped file marks the lines a site changes with "# SITE:" comments;
// TLS is dropped because the test speaks plain HTTP on loopback.
func RenderSite(t TB, listen string, backends []string, logDir string) string {
	t.Helper()
	b, err := os.ReadFile(RepoFile(t, "deploy/nginx/floatseat.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, "server 127.0.0.1:8090"):
			var lines []string
			for _, b := range backends {
				lines = append(lines, "    server "+b+" max_fails=0;")
			}
			line = strings.Join(lines, "\n")
		case strings.HasPrefix(trim, "listen 443"):
			line = "    listen " + listen + ";"
		case strings.HasPrefix(trim, "listen [::]:443"):
			continue
		case strings.HasPrefix(trim, "ssl_"), strings.HasPrefix(trim, "http2 "):
			continue
		case strings.HasPrefix(trim, "access_log /var/log/nginx/"):
			line = strings.Replace(line, "/var/log/nginx/", logDir+"/", 1)
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
