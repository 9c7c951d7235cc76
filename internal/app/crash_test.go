package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/keeper"
	"github.com/floatseat/floatseat/internal/testenv"
)

// hangingDir is a directory whose RemoveMember never returns: the moment
// a process dies between "intent recorded" and "directory changed".
type hangingDir struct {
	directory.Directory
	entered chan struct{}
	once    sync.Once
}

func (h *hangingDir) RemoveMember(ctx context.Context, u, g string) error {
	h.once.Do(func() { close(h.entered) })
	<-ctx.Done()
	return ctx.Err()
}

// TestCrashBetweenIntentAndDirectoryChange stops a floatseat in the middle
// of a revocation and starts another on the same Redis: the revocation is
// completed, the user's groups are recorded, and the user gets exactly
// those groups back on return.
func TestCrashBetweenIntentAndDirectoryChange(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real redis-server")
	}
	rd := testenv.StartRedis(t)
	sim := appsim.New(appsim.Config{Product: "jira", UpdateGroupsAtLogin: appsim.UpdateEvery, AdminUsers: []string{"svc"},
		Roles: []appsim.Role{{Key: "jira-software", Groups: []string{"jira-software-users"}, Seats: 10},
			{Key: "jira-servicedesk", Groups: []string{"jira-servicedesk-users"}, Seats: 10}}})
	dir := sim.InternalDirectory()
	ctx := t.Context()
	dir.AddUser("svc", "svc-pw")
	dir.AddUser("agent", "pw")
	dir.AddGroup("jira-software-users")
	dir.AddGroup("jira-servicedesk-users")
	_ = dir.AddMember(ctx, "agent", "jira-software-users")
	_ = dir.AddMember(ctx, "agent", "jira-servicedesk-users")
	up := httptest.NewServer(sim)
	t.Cleanup(up.Close)

	yaml := fmt.Sprintf(`
listen: 127.0.0.1:0
upstream: %s
admin: {listen: 127.0.0.1:0}
redis: {addr: %q, key_prefix: "floatseat:crash"}
app: {user: svc}
pools:
  - {name: jira-software, license_groups: [jira-software-users], application_role: jira-software}
  - {name: jsm, license_groups: [jira-servicedesk-users], application_role: jira-servicedesk}
exclude: {groups: []}
directory: {type: jira}
reaper: {interval: 1h}
log: {level: error}
`, up.URL, rd.Addr)
	cfg := parseTestConfig(t, yaml)
	start := func(d directory.Directory) (*App, func()) {
		a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), WithDirectory(d, true))
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = a.Run(rctx); close(done) }()
		return a, func() { cancel(); <-done }
	}

	// First process: the revocation hangs in the directory call; the
	// process is stopped there.
	hang := &hangingDir{Directory: dir, entered: make(chan struct{})}
	a1, stop1 := start(hang)
	rctx, cancelRevoke := context.WithCancel(ctx)
	go func() {
		_ = a1.seats.keeper.Revoke(rctx, keeper.RevokeRequest{Pool: "jsm", User: "agent", Reason: "ceiling", Trigger: "test"})
	}()
	select {
	case <-hang.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the revocation never reached the directory")
	}
	intents, err := a1.Store().Intents(ctx)
	if err != nil || len(intents) != 1 {
		t.Fatalf("intents at the crash: %+v %v, want the one recorded before the directory call", intents, err)
	}
	stop1()
	cancelRevoke()

	// Second process on the same Redis: its reaper run reconciles.
	a2, stop2 := start(dir)
	defer stop2()
	if err := a2.seats.reaper.RunOnce(ctx); err != nil {
		t.Logf("reaper run: %v", err)
	}
	if in, _ := dir.IsMember(ctx, "agent", "jira-servicedesk-users", false); in {
		t.Error("the interrupted revocation was not completed")
	}
	if in, _ := dir.IsMember(ctx, "agent", "jira-software-users", false); !in {
		t.Error("reconcile touched a group outside the intent")
	}
	rec, ok, _ := a2.Store().RevokedUser(ctx, "jsm", "agent")
	if !ok || len(rec.Groups) != 1 || rec.Groups[0] != "jira-servicedesk-users" {
		t.Errorf("revoked record: %+v %v", rec, ok)
	}
	if ins, _ := a2.Store().Intents(ctx); len(ins) != 0 {
		t.Errorf("intents left: %+v", ins)
	}
	// Returning: exactly the JSM group comes back.
	eventually(t, "licence counts", func() bool {
		n, _, _, _, _, err := a2.Store().PoolState(ctx, "jsm")
		return err == nil && n == 10
	})
	b := appsim.NewBrowser("http://"+a2.ProxyAddr(), "agent", "pw", "jira")
	res, err := b.Login(ctx, false)
	if err != nil || res.LoginReason() != "OK" {
		t.Fatalf("login after the crash: %+v %v", res, err)
	}
	// A login is Software work (DESIGN §2.11); the first queue is agent
	// work and brings exactly the JSM group back.
	if in, _ := dir.IsMember(ctx, "agent", "jira-servicedesk-users", false); in {
		t.Error("a login gave the agent seat back")
	}
	_, _ = b.Get(ctx, "/projects/SD/queues/custom/1")
	if in, _ := dir.IsMember(ctx, "agent", "jira-servicedesk-users", false); !in {
		t.Error("the agent did not get JSM back on the first queue")
	}
	if n := sim.FailedLoginCount("agent"); n != 0 {
		t.Errorf("failed logins: %d, want 0", n)
	}
}
