package app

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/store"
	"github.com/floatseat/floatseat/internal/store/storetest"
	"github.com/floatseat/floatseat/internal/testenv"
)

// stack is nginx (deploy/nginx/floatseat.conf) → floatseat → an upstream
// that answers like Jira (X-AUSERNAME from a "user" cookie), with a real
// redis-server.
type stack struct {
	app      *App
	nginx    *testenv.Nginx
	redis    *testenv.Redis
	st       *store.Store // a second client on the same Redis, to look inside
	upstream *http.Server
	upAddr   string
	uploaded atomic.Int64
}

func startStack(t *testing.T) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: real redis-server and nginx")
	}
	s := &stack{redis: testenv.StartRedis(t)}
	up := testenv.FreePort(t)
	s.upAddr = fmt.Sprintf("127.0.0.1:%d", up)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("user"); err == nil {
			w.Header().Set("X-AUSERNAME", c.Value)
		} else {
			w.Header().Set("X-AUSERNAME", "anonymous")
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.uploaded.Store(n)
		w.Header().Set("X-AUSERNAME", "alice")
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-AUSERNAME", "alice")
		w.Header().Set("Content-Length", fmt.Sprint(512<<20))
		chunk := make([]byte, 1<<20)
		for i := 0; i < 512; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/synchrony/v1/bayeux-sync1", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(conn, brw)
	})
	s.upstream = &http.Server{Addr: s.upAddr, Handler: mux}
	go s.upstream.ListenAndServe()
	t.Cleanup(func() { s.upstream.Close() })
	if err := testenv.WaitTCP(t.Context(), s.upAddr, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	yaml := fmt.Sprintf(`
product: jira
listen: "127.0.0.1:0"
upstream: "http://%s"
mode: observe
admin: {listen: "127.0.0.1:0"}
redis: {addr: %q, key_prefix: "floatseat:it", timeout: 200ms}
activity: {resolution: 1s, flush_interval: 50ms, heartbeat_interval: 1s}
pools: [{name: jira-software, license_groups: [jira-software-users], seats: 100}]
log: {level: error}
`, s.upAddr, s.redis.Addr)
	s.app = runApp(t, yaml)
	s.nginx = testenv.StartNginx(t, s.app.ProxyAddr())
	s.st = storetest.At(t, s.redis.Addr, "floatseat:it")
	return s
}

func (s *stack) get(t *testing.T, path, user string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.nginx.Addr+path, nil)
	if user != "" {
		req.Header.Set("Cookie", "user="+user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *stack) lastActive(t *testing.T, user string) bool {
	last, err := s.st.LastActivity(t.Context(), []string{user})
	return err == nil && !last[user].IsZero()
}

func TestThroughNginxActivityLandsInRedis(t *testing.T) {
	s := startStack(t)
	for _, tc := range []struct{ path, user string }{
		{"/browse/FS-1", "Alice"},
		{"/rest/servicedesk/1/servicedesk/SD/queues/poll", "bob"}, // noise
		{"/secure/Dashboard.jspa", ""},
	} {
		if code := s.get(t, tc.path, tc.user); code != 200 {
			t.Fatalf("GET %s: got %d", tc.path, code)
		}
	}
	eventually(t, "alice's activity in Redis (lower-cased)", func() bool { return s.lastActive(t, "alice") })
	if s.lastActive(t, "bob") {
		t.Error("queue polling was recorded as activity")
	}
	eventually(t, "a heartbeat", func() bool {
		hbs, _ := s.st.Heartbeats(t.Context())
		return len(hbs) == 1
	})
}

func TestThroughNginxWebSocket(t *testing.T) {
	s := startStack(t)
	if got := proxyWebSocketEcho(t, s.nginx.Addr); got != "synchrony says hi" {
		t.Errorf("echo through nginx and floatseat: got %q", got)
	}
}

// zeros is an endless reader that allocates nothing.
type zeros struct{ left int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > z.left {
		n = z.left
	}
	clear(p[:n])
	z.left -= n
	return int(n), nil
}

func TestThroughNginxLargeBodiesStream(t *testing.T) {
	s := startStack(t)
	const size = 512 << 20
	var peak atomic.Uint64
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()

	req, _ := http.NewRequest(http.MethodPost, "http://"+s.nginx.Addr+"/upload", &zeros{left: size})
	req.ContentLength = size
	req.Header.Set("Cookie", "user=alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != fmt.Sprint(size) {
		t.Fatalf("upload: got %d %q, want 200 and %d bytes received", resp.StatusCode, body, size)
	}

	resp, err = http.Get("http://" + s.nginx.Addr + "/download")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: got %d bytes, %v; want %d", n, err, size)
	}
	close(stop)
	wg.Wait()
	// The whole process (client, floatseat, upstream) moved 1 GiB; its heap
	// must not have grown with the bodies.
	if grown := int64(peak.Load()) - int64(base.HeapInuse); grown > 64<<20 {
		t.Errorf("heap grew by %d MiB while streaming 2 × 512 MiB; bodies are being buffered", grown>>20)
	}
}

func TestRedisDownTrafficContinues(t *testing.T) {
	s := startStack(t)
	if code := s.get(t, "/browse/FS-1", "carol"); code != 200 {
		t.Fatalf("got %d", code)
	}
	eventually(t, "carol recorded", func() bool { return s.lastActive(t, "carol") })

	s.redis.Kill()
	for i := 0; i < 50; i++ {
		user := fmt.Sprintf("user%d", i%5)
		if code := s.get(t, "/browse/FS-1", user); code != 200 {
			t.Fatalf("request %d with Redis down: got %d, want 200", i, code)
		}
	}
	s.redis.Restart(t)
	// Recording resumes by itself: new requests land in the fresh Redis.
	eventually(t, "activity recorded again after Redis returned", func() bool {
		s.get(t, "/browse/FS-2", "dave")
		return s.lastActive(t, "dave")
	})
}

func proxyWebSocketEcho(t *testing.T, addr string) string {
	return testenv.WebSocketEcho(t, addr, "/synchrony/v1/bayeux-sync1", "synchrony says hi")
}
