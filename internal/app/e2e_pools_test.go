package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/appsim"
)

// TestE2EJiraTwoPools: Jira Software and JSM sharing users, through nginx,
// two replicas, the app-REST backend and real Redis. A user who only works
// in Software loses the agent seat after its window and keeps Software; the
// first queue gives the agent seat back before it is forwarded (the app
// answers 200, not 403); viewing a ticket never takes an agent seat; portal
// customers and a revoked employee browse the portal with no seat, no grant
// and no full page.
func TestE2EJiraTwoPools(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 10, agents: []string{"sam", "zoe", "ann"}, users: []string{"emp"},
		customers: []string{"cust"}, unlicensed: true, rest: true})
	ctx := t.Context()
	eventually(t, "project types learned from the app", func() bool {
		for _, a := range w.apps {
			if a.work.Projects() == 0 {
				return false
			}
		}
		return true
	})
	sam, zoe, ann, emp := w.browser("sam"), w.browser("zoe"), w.browser("ann"), w.browser("emp")
	for _, b := range []*appsim.Browser{sam, zoe, ann, emp} {
		w.mustLogin(b, false)
	}
	// Five hours: sam and zoe work on boards, ann works her queue.
	for i := 0; i < 10; i++ {
		w.clock.Advance(30 * time.Minute)
		for _, b := range []*appsim.Browser{sam, zoe} {
			if res, _ := b.Get(ctx, "/secure/RapidBoard.jspa"); res.Status != 200 {
				t.Fatalf("%s's board: %d", b.User, res.Status)
			}
		}
		if res, _ := ann.Get(ctx, "/projects/SD/queues/custom/1"); res.Status != 200 {
			t.Fatalf("ann's queue: %d", res.Status)
		}
	}
	w.settle()
	w.reap()
	for _, u := range []string{"sam", "zoe"} {
		if w.licensed(u, "jira-servicedesk-users") {
			t.Errorf("%s, who never did agent work, kept the agent seat past max_idle", u)
		}
		if !w.licensed(u, "jira-software-users") {
			t.Errorf("%s lost the Software seat he works with", u)
		}
	}
	if !w.licensed("ann", "jira-servicedesk-users") {
		t.Error("ann, working her queue, lost the agent seat")
	}
	if w.licensed("emp", "jira-software-users") {
		t.Fatal("emp, idle for five hours, kept the Software seat")
	}

	// Viewing and commenting on a ticket: still no agent seat.
	if res, _ := sam.Get(ctx, "/browse/SD-2"); res.Status != 200 || w.licensed("sam", "jira-servicedesk-users") {
		t.Errorf("viewing a ticket: %d, agent seat taken %v; want 200 and none", res.Status, w.licensed("sam", "jira-servicedesk-users"))
	}
	if res, _ := sam.Do(ctx, http.MethodPost, "/rest/api/2/issue/SD-2/comment", "application/json", strings.NewReader(`{"body":"hi"}`)); res.Status != 201 || w.licensed("sam", "jira-servicedesk-users") {
		t.Errorf("commenting as a collaborator: %d; want 201 and no agent seat", res.Status)
	}
	// Transitioning a service-project ticket is agent work: the seat comes
	// back before the app sees the request.
	if res, _ := sam.Do(ctx, http.MethodPost, "/rest/api/2/issue/SD-2/transitions", "application/json", strings.NewReader(`{"transition":{"id":"5"}}`)); res.Status != 204 {
		t.Errorf("sam's first transition: %d, want 204 (the grant must come before forwarding)", res.Status)
	}
	if !w.licensed("sam", "jira-servicedesk-users") {
		t.Error("the transition did not give the agent seat back")
	}
	// The first queue, likewise.
	if res, _ := zoe.Get(ctx, "/projects/SD/queues/custom/1"); res.Status != 200 {
		t.Errorf("zoe's first queue: %d, want 200 (the grant must come before forwarding)", res.Status)
	}
	if !w.licensed("zoe", "jira-servicedesk-users") {
		t.Error("the queue did not give the agent seat back")
	}

	// The portal: a customer with no licence and a revoked employee.
	grantsBefore := auditCount(t, w, "grant")
	for _, b := range []*appsim.Browser{w.browser("cust"), emp} {
		form := url.Values{"os_username": {b.User}, "os_password": {b.Password}}.Encode()
		res, err := b.Do(ctx, http.MethodPost, "/servicedesk/customer/user/login", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil || res.Status != 200 {
			t.Fatalf("%s portal login: %+v %v", b.User, res, err)
		}
		for _, path := range []string{"/servicedesk/customer/portals", "/servicedesk/customer/portal/1"} {
			if res, _ := b.Get(ctx, path); res.Status != 200 {
				t.Errorf("%s on %s: %d, want 200", b.User, path, res.Status)
			}
		}
	}
	if n := auditCount(t, w, "grant"); n != grantsBefore {
		t.Errorf("portal browsing made %d grants, want none", n-grantsBefore)
	}
	if w.licensed("emp", "jira-software-users") || w.licensed("cust", "jira-software-users") {
		t.Error("a portal visit took a Software seat")
	}
}

func auditCount(t *testing.T, w *world, action string) int {
	t.Helper()
	evs, err := w.apps[0].audit.Since(t.Context(), time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == action {
			n++
		}
	}
	return n
}
