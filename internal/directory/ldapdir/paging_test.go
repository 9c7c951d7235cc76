package ldapdir

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/testenv"
)

// cutter is a TCP proxy in front of slapd that can cut every connection
// through it at once, as a network that drops them would.
type cutter struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); c.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return c
}

func (c *cutter) url() string { return "ldap://" + c.ln.Addr().String() }

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.conns {
		x.Close()
	}
	c.conns = nil
}

// step is one request of a listing as its hook saw it.
type step struct {
	kind, cookie string // cookie in hex
	attempt      int
	conn         int // the listing's n-th connection
}

// pagingFixture is slapd with the conformance groups and 25 more, all
// holding alice, and a Dir on it (through url, if given) that pages 10
// groups at a time, so a nested listing reads the groups in several pages.
func pagingFixture(t *testing.T, url string, timeout time.Duration) (*testenv.Slapd, func(url string) *Dir) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: real slapd")
	}
	s := testenv.StartSlapd(t)
	f := flavours[0]
	c, base := seed(t, s, f, []string{"alice"})
	for i := 0; i < 25; i++ {
		add(t, c, fmt.Sprintf("cn=bulk-%02d,%s", i, base), map[string][]string{"objectClass": {f.class}, "cn": {fmt.Sprintf("bulk-%02d", i)}, f.attr: {userDN("alice")}})
	}
	return s, func(url string) *Dir {
		d := newDir(t, s, f, base)
		d.cfg.URL, d.cfg.PageSize, d.cfg.Timeout = url, 10, timeout
		return d
	}
}

// record makes d's hook append every request to the returned log, and
// call fault (if not nil) first.
func record(d *Dir, fault func(ev event)) func() []step {
	var mu sync.Mutex
	var log []step
	d.hook = func(ev event) {
		mu.Lock()
		log = append(log, step{kind: ev.kind, cookie: fmt.Sprintf("%x", ev.cookie), attempt: ev.attempt, conn: ev.s.conns})
		mu.Unlock()
		if fault != nil {
			fault(ev)
		}
	}
	return func() []step { mu.Lock(); defer mu.Unlock(); return slices.Clone(log) }
}

// TestPagedSearchStartsAgainOnANewConnection: a connection cut while the
// groups are read page by page is replaced, and that paged search starts
// again from its first page there (its cookie was the old connection's);
// the listing is whole and right.
func TestPagedSearchStartsAgainOnANewConnection(t *testing.T) {
	s, dir := pagingFixture(t, "", 2*time.Second)
	want, err := dir(s.URL).Members(t.Context(), "jira-software-users", true)
	if err != nil {
		t.Fatal(err)
	}
	p := newCutter(t, s.Addr)
	d := dir(p.url())
	cut := false
	steps := record(d, func(ev event) {
		if ev.kind != "page" || ev.cookie == "" || cut {
			return
		}
		cut = true
		p.cut()
		// Let the client see it, so this page meets a closed connection.
		for deadline := time.Now().Add(5 * time.Second); !ev.s.c.IsClosing() && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	})
	got, err := d.Members(t.Context(), "jira-software-users", true)
	if err != nil {
		t.Fatalf("listing with a cut connection: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("members: %v, want %v", got, want)
	}
	log := steps()
	i := slices.IndexFunc(log, func(s step) bool { return s.cookie != "" })
	if i < 0 || i+1 >= len(log) {
		t.Fatalf("requests: %+v, want a page with a cookie and more after it", log)
	}
	if next := log[i+1]; next.kind != "page" || next.cookie != "" || next.conn != 2 {
		t.Errorf("after the cut: %+v, want the first page again on connection 2 (requests %+v)", next, log)
	}
	if last := log[len(log)-1]; last.conn != 2 {
		t.Errorf("the listing used %d connections, want 2", last.conn)
	}
}

// TestPagedSearchTimeoutRetriedOnTheSameConnection: a page slapd does not
// answer in time (it is stopped) is sent again on the same connection
// with the same cookie. slapd, let go, serves the page that timed out and
// then refuses the cookie as old, so the search starts again from its
// first page on that connection; a server that answered the resend would
// carry on. Either way the listing is whole, on one connection.
func TestPagedSearchTimeoutRetriedOnTheSameConnection(t *testing.T) {
	s, dir := pagingFixture(t, "", time.Second)
	want, err := dir(s.URL).Members(t.Context(), "jira-software-users", true)
	if err != nil {
		t.Fatal(err)
	}
	d := dir(s.URL)
	pid := s.Pid()
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	stopped, resumed := false, false
	steps := record(d, func(ev event) {
		switch {
		case ev.kind == "page" && ev.cookie != "" && !stopped:
			stopped = true
			_ = syscall.Kill(pid, syscall.SIGSTOP) // this page times out
			waitStopped(t, pid)
		case ev.attempt == 1 && stopped && !resumed:
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	got, err := d.Members(t.Context(), "jira-software-users", true)
	if err != nil {
		t.Fatalf("listing with a page that timed out: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("members: %v, want %v", got, want)
	}
	log := steps()
	i := slices.IndexFunc(log, func(s step) bool { return s.attempt == 1 })
	if i < 1 || log[i].kind != "page" || log[i].cookie == "" || log[i].cookie != log[i-1].cookie {
		t.Fatalf("requests: %+v, want the timed-out page sent again with its cookie", log)
	}
	for _, st := range log {
		if st.conn != 1 {
			t.Fatalf("request %+v on connection %d, want every request on the first (requests %+v)", st, st.conn, log)
		}
	}
	if i+1 < len(log) && log[i+1].cookie == "" {
		t.Logf("slapd refused the resent cookie; the search started again from its first page on the same connection")
	} else {
		t.Logf("slapd answered the resent cookie; the search went on")
	}
}

// waitStopped waits until every thread of process pid has stopped: kill
// returns before a multi-threaded process has, and a thread still running
// could answer the page that is meant to time out.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	tasks := fmt.Sprintf("/proc/%d/task", pid)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		ids, err := os.ReadDir(tasks)
		if err != nil {
			t.Fatalf("threads of slapd: %v", err)
		}
		all := true
		for _, id := range ids {
			b, err := os.ReadFile(filepath.Join(tasks, id.Name(), "stat"))
			// The state follows the command name in parentheses: "pid (comm) T …".
			if i := strings.LastIndexByte(string(b), ')'); err != nil || i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
				all = false
				break
			}
		}
		if all {
			return
		}
	}
	t.Fatalf("slapd (pid %d) did not stop", pid)
}
