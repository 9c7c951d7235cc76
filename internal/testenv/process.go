package testenv

import (
	"bytes"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a service started for a test. Stop and Start let a test kill a
// service mid-run and bring it back.
type Process struct {
	t    TB
	name string
	args []string
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *bytes.Buffer
}

// StartProcess runs name with args in dir and stops it in t.Cleanup. Its
// output is kept and printed if the test fails.
func StartProcess(t TB, dir, name string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, name: name, args: args, dir: dir}
	p.Start()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("testenv: output of %s:\n%s", name, p.out.String())
			p.mu.Unlock()
		}
	})
	return p
}

// Start starts the process again after Stop.
func (p *Process) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return
	}
	cmd := exec.Command(p.name, p.args...)
	cmd.Dir = p.dir
	if p.out == nil {
		p.out = &bytes.Buffer{}
	}
	w := &lockedWriter{mu: &p.mu, buf: p.out}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("testenv: start %s: %v", p.name, err)
	}
	p.cmd = cmd
}

// Stop terminates the process (SIGTERM, then SIGKILL after 5 s) and waits.
func (p *Process) Stop() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Kill stops the process at once with SIGKILL, as a crash would.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// Output returns what the process printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	// Start holds mu while wiring the writer but the process writes later;
	// TryLock avoids a deadlock if a write races Start.
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

// Pid returns the process id of the running service, or 0 when stopped,
// so a benchmark can read the service's own CPU time.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
