package appsim

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/directory/appdir"
	"github.com/floatseat/floatseat/internal/directory/directorytest"
)

// floatseat's app-REST backend against the simulator's group REST API
// (group creation for the parking groups included) must pass the same
// suite as every directory.
func TestRESTGroupAPIConformance(t *testing.T) {
	for _, product := range []string{Jira, Confluence} {
		t.Run(product, func(t *testing.T) {
			directorytest.RunWith(t, directorytest.Options{EffectiveOnly: true}, func(t *testing.T) directory.Directory {
				ctx := context.Background()
				sim := New(Config{Product: product, AdminUsers: []string{"svc"}})
				d := sim.InternalDirectory()
				d.AddUser("svc", "svc-pw")
				for _, u := range directorytest.Fixture.Users {
					d.AddUser(u, "pw")
				}
				for g, members := range directorytest.Fixture.Groups {
					d.AddGroup(g)
					for _, u := range members {
						if err := d.AddMember(ctx, u, g); err != nil {
							t.Fatal(err)
						}
					}
				}
				for parent, children := range directorytest.Fixture.Nesting {
					for _, c := range children {
						d.AddSubgroup(parent, c)
					}
				}
				if err := sim.SyncNow(ctx); err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(sim)
				t.Cleanup(srv.Close)
				ad, err := appdir.New(appdir.Config{Product: product, URL: srv.URL, User: "svc", Password: "svc-pw", Timeout: 5 * time.Second}, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = ad.Close() })
				return ad
			})
		})
	}
}
