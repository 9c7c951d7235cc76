package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/floatseat/floatseat/internal/appsim"
)

// cmdAppsim runs the Jira/Confluence simulator on its own, to try
// floatseat against something that behaves like the app where it matters.
func cmdAppsim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("appsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	product := fs.String("product", "jira", "jira or confluence")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on")
	users := fs.String("users", "alice:alice,bob:bob,carol:carol", "licensed users as name:password, comma-separated")
	usersFile := fs.String("users-file", "", "more licensed users, one name[:password] a line (password: the name; # comments)")
	userCount := fs.Int("user-count", 0, "more licensed users, generated: user000000 … (password: the name)")
	others := fs.String("unlicensed", "dave:dave", "users without a licence group, name:password, comma-separated")
	admin := fs.String("admin", "admin:admin", "service account with admin rights (name:password)")
	seats := fs.Int("seats", 3, "licence seats")
	session := fs.Duration("session-timeout", 0, "session timeout (default: the product's)")
	sync := fs.Duration("sync-interval", time.Minute, "directory sync interval")
	update := fs.String("update-groups", appsim.UpdateEvery, "update group memberships at login: every, new or never")
	runFor := fs.Duration("for", 0, "stop after this long (0: until Ctrl-C)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *product != "jira" && *product != "confluence" {
		fmt.Fprintln(stderr, "floatseat appsim: --product must be jira or confluence")
		return 2
	}
	licenceGroup, role := "jira-software-users", "jira-software"
	if *product == "confluence" {
		licenceGroup, role = "confluence-users", "confluence"
	}
	adminName, adminPW, _ := strings.Cut(*admin, ":")
	sim := appsim.New(appsim.Config{
		Product: *product, SessionTimeout: *session, SyncInterval: *sync, UpdateGroupsAtLogin: *update,
		AdminUsers: []string{adminName},
		Roles:      []appsim.Role{{Key: role, Groups: []string{licenceGroup}, Seats: *seats}},
	})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}
	dir := sim.InternalDirectory()
	dir.AddGroup(licenceGroup)
	dir.AddUser(adminName, adminPW)
	for _, spec := range []struct {
		list     string
		licensed bool
	}{{*users, true}, {*others, false}} {
		for _, u := range strings.Split(spec.list, ",") {
			name, pw, ok := strings.Cut(strings.TrimSpace(u), ":")
			if !ok || name == "" {
				continue
			}
			dir.AddUser(name, pw)
			if spec.licensed {
				_ = dir.AddMember(ctx, name, licenceGroup)
			}
		}
	}
	extra, err := moreUsers(*usersFile, *userCount)
	if err != nil {
		fmt.Fprintln(stderr, "floatseat appsim:", err)
		return 2
	}
	for _, u := range extra {
		dir.AddUser(u[0], u[1])
		_ = dir.AddMember(ctx, u[0], licenceGroup)
	}
	if err := sim.SyncNow(ctx); err != nil {
		fmt.Fprintln(stderr, "floatseat appsim:", err)
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "floatseat appsim:", err)
		return 1
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	go func() { _ = sim.Run(ctx) }()
	fmt.Fprintf(stdout, "appsim: simulated %s on http://%s (%d seats on %s; admin %s)\n", *product, ln.Addr(), *seats, licenceGroup, adminName)
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(stderr, "floatseat appsim:", err)
		return 1
	}
	return 0
}

// moreUsers reads --users-file (name or name:password a line; a name
// alone has itself as password) and generates --user-count more, for an
// estate of any size: name and password pairs.
func moreUsers(file string, count int) ([][2]string, error) {
	var out [][2]string
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			name, pw, ok := strings.Cut(line, ":")
			if name = strings.TrimSpace(name); !ok {
				pw = name
			}
			out = append(out, [2]string{name, pw})
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("user%06d", i)
		out = append(out, [2]string{name, name})
	}
	return out, nil
}
