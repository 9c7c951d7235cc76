package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/admin"
	"github.com/floatseat/floatseat/internal/appsim"
	"github.com/floatseat/floatseat/internal/testenv"
)

// TestThreeReplicasNeverOverGrant: three floatseat instances on one real
// redis-server, in front of one simulated Jira with 50 free seats; 200
// distinct pool-group members log in at once. Exactly 50 get a seat, the
// rest get the 503 page with Retry-After, and the app never counts more
// users than its licence.
func TestThreeReplicasNeverOverGrant(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: real redis-server")
	}
	rd := testenv.StartRedis(t)
	const seats, licensed, crowd = 60, 10, 200

	sim := appsim.New(appsim.Config{
		Product: "jira", UpdateGroupsAtLogin: appsim.UpdateEvery, AdminUsers: []string{"svc"},
		Roles:  []appsim.Role{{Key: "jira-software", Groups: []string{"jira-software-users"}, Seats: seats}},
		Groups: []string{"jira-users"}, SyncInterval: time.Hour,
	})
	dir := sim.InternalDirectory()
	ctx := t.Context()
	dir.AddUser("svc", "svc-pw")
	dir.AddGroup("jira-software-users")
	dir.AddGroup("jira-users")
	for i := 0; i < licensed; i++ {
		u := fmt.Sprintf("staff%02d", i)
		dir.AddUser(u, "pw")
		_ = dir.AddMember(ctx, u, "jira-software-users")
	}
	for i := 0; i < crowd; i++ {
		u := fmt.Sprintf("user%03d", i)
		dir.AddUser(u, "pw-"+u)
		_ = dir.AddMember(ctx, u, "jira-users")
	}
	if err := sim.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(sim)
	t.Cleanup(up.Close)

	var apps []*App
	for i := 0; i < 3; i++ {
		yaml := fmt.Sprintf(`
product: jira
listen: 127.0.0.1:0
upstream: %s
mode: enforce
admin: {listen: 127.0.0.1:0}
redis: {addr: %q, key_prefix: "floatseat:replicas"}
app: {user: svc}
pools:
  - {name: jira-software, license_groups: [jira-software-users], pool_groups: [jira-users], application_role: jira-software, reserve: 0, refresh_interval: 1s}
exclude: {groups: []}
directory: {type: ldap, ldap: {url: "ldap://unused:389", bind_dn: x, user_base_dn: x, group_base_dn: x}}
# 200 logins at once from one address is what the claim limits treat as a
# script; here they are people racing for seats, so the address may have
# all of them awaiting confirmation at once.
proxy: {grant_timeout: 5s, claims: {address_burst: 1000}}
log: {level: error}
`, up.URL, rd.Addr)
		apps = append(apps, runApp(t, yaml, WithDirectory(dir, false))) // an LDAP-like directory: seen by the app at login
	}
	// Wait until every replica has the app's seat count and its pool-group view.
	for _, a := range apps {
		eventually(t, "licence counts in Redis", func() bool {
			st, err := a.Status(ctx)
			return err == nil && len(st.Pools) == 1 && st.Pools[0].Seats == seats && st.Pools[0].Used == licensed
		})
	}

	type result struct {
		code       int
		retryAfter string
		reason     string
	}
	results := make([]result, crowd)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < crowd; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			u := fmt.Sprintf("user%03d", i)
			body := fmt.Sprintf(`{"username":%q,"password":%q}`, u, "pw-"+u)
			resp, err := http.Post("http://"+apps[i%3].ProxyAddr()+"/rest/auth/1/session", "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("%s: %v", u, err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results[i] = result{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("X-Seraph-Loginreason")}
		}(i)
	}
	close(start)
	wg.Wait()

	ok, denied := 0, 0
	for i, r := range results {
		switch r.code {
		case http.StatusOK:
			ok++
		case http.StatusServiceUnavailable:
			denied++
			if r.retryAfter == "" {
				t.Errorf("user%03d: 503 without Retry-After", i)
			}
		default:
			t.Errorf("user%03d: got %d (%s)", i, r.code, r.reason)
		}
	}
	if ok != seats-licensed || denied != crowd-(seats-licensed) {
		t.Errorf("got %d logins and %d denials, want exactly %d and %d", ok, denied, seats-licensed, crowd-(seats-licensed))
	}
	if max := sim.MaxUserCount("jira-software"); max > seats {
		t.Errorf("the app counted %d users at its peak: over its licence of %d", max, seats)
	}
	for i := 0; i < crowd; i++ {
		if n := sim.FailedLoginCount(fmt.Sprintf("user%03d", i)); n != 0 {
			t.Errorf("user%03d: %d failed logins, want 0 (denied requests never reach the app)", i, n)
			break
		}
	}
	var st admin.Status
	resp, err := http.Get("http://" + apps[0].AdminAddr() + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Pools[0].Headroom > 0 {
		t.Errorf("headroom after the rush: %d, want 0", st.Pools[0].Headroom)
	}
}
