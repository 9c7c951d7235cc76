package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
)

// TB is the part of testing.TB that testenv uses. *testing.T, *testing.B
// and a *Scope satisfy it, so services can be started for one test, for a
// whole test binary (Shared) or by a program such as floatseat-bench.
type TB interface {
	Helper()
	Cleanup(func())
	TempDir() string
	Context() context.Context
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Logf(format string, args ...any)
	Failed() bool
}

// ErrSkipped is wrapped by Scope.Run's error when fn skipped (a binary is
// missing outside CI).
var ErrSkipped = errors.New("skipped")

// Scope is a TB that belongs to no test: what is started in it lives until
// Close. Fatal and Skip end the goroutine Run started and make Run return
// the message.
type Scope struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	err      error
}

// NewScope returns an open scope.
func NewScope() *Scope {
	ctx, cancel := context.WithCancel(context.Background())
	return &Scope{ctx: ctx, cancel: cancel}
}

// Run calls fn(s) on its own goroutine and returns fn's Fatal or Skip
// message as an error (wrapping ErrSkipped for a skip).
func (s *Scope) Run(fn func(TB)) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(s)
	}()
	<-done
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.err
	s.err = nil
	return err
}

// Close runs the cleanups, last registered first.
func (s *Scope) Close() {
	s.mu.Lock()
	cs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
	s.cancel()
}

func (s *Scope) Helper()                  {}
func (s *Scope) Context() context.Context { return s.ctx }
func (s *Scope) Failed() bool             { s.mu.Lock(); defer s.mu.Unlock(); return s.failed }
func (s *Scope) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "testenv: "+format+"\n", args...)
}

func (s *Scope) Cleanup(f func()) {
	s.mu.Lock()
	s.cleanups = append(s.cleanups, f)
	s.mu.Unlock()
}

func (s *Scope) TempDir() string {
	d, err := os.MkdirTemp("", "testenv")
	if err != nil {
		s.Fatal(err)
	}
	s.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

func (s *Scope) Fatal(args ...any) { s.stop(fmt.Errorf("%s", fmt.Sprint(args...))) }
func (s *Scope) Fatalf(format string, args ...any) {
	s.stop(fmt.Errorf(format, args...))
}
func (s *Scope) Skip(args ...any) { s.stop(fmt.Errorf("%w: %s", ErrSkipped, fmt.Sprint(args...))) }

func (s *Scope) stop(err error) {
	s.mu.Lock()
	if !errors.Is(err, ErrSkipped) {
		s.failed = true
	}
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	runtime.Goexit()
}

// shared holds the services tests of one binary share (Shared); Main
// stops them.
var shared = struct {
	mu    sync.Mutex
	scope *Scope
	vals  map[string]*sharedVal
}{vals: map[string]*sharedVal{}}

type sharedVal struct {
	once sync.Once
	val  any
	err  error
}

// Shared starts a service the first time any test of the binary asks for
// key and hands every later caller the same one: starting a Redis Cluster
// or a Sentinel group costs seconds, so a package starts each once. The
// package's TestMain must call Main, which stops them. A start that failed
// or skipped fails or skips every caller the same way.
func Shared[V any](t TB, key string, start func(TB) V) V {
	t.Helper()
	shared.mu.Lock()
	if shared.scope == nil {
		shared.scope = NewScope()
	}
	sc := shared.scope
	sv := shared.vals[key]
	if sv == nil {
		sv = &sharedVal{}
		shared.vals[key] = sv
	}
	shared.mu.Unlock()
	sv.once.Do(func() {
		sv.err = sc.Run(func(tb TB) { sv.val = start(tb) })
	})
	switch {
	case errors.Is(sv.err, ErrSkipped):
		t.Skip(sv.err.Error())
	case sv.err != nil:
		t.Fatalf("testenv: shared %s: %v", key, sv.err)
	}
	return sv.val.(V)
}

// Main runs the tests and then stops every Shared service.
func Main(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	sc := shared.scope
	shared.mu.Unlock()
	if sc != nil {
		sc.Close()
	}
	os.Exit(code)
}
