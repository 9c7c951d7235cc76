package seats_test

import (
	"fmt"
	"time"

	"github.com/floatseat/floatseat/internal/seats"
)

// A full pool with a reserve of 2: the two longest-idle users past the
// 5 h floor are revoked under pressure; the one idle 2 h is protected, the
// excluded service account is never revoked.
func ExamplePlan() {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	pool := seats.Pool{Name: "jira-software", Seats: 5, Used: 5, Reserve: 2}
	users := []seats.User{
		{Name: "ann", LastActive: now.Add(-2 * time.Hour)},
		{Name: "bob", LastActive: now.Add(-62 * time.Hour)},
		{Name: "cat", LastActive: now.Add(-90 * time.Hour)},
		{Name: "dan", LastActive: now.Add(-20 * time.Hour)},
		{Name: "svc-ci", Excluded: true},
	}
	d := seats.Plan(now, pool, users, seats.Params{
		Floor: 5 * time.Hour, Ceiling: 168 * time.Hour,
		ObservationStart: now.Add(-30 * 24 * time.Hour),
		MaxRevocations:   50, HeartbeatAlive: true,
	})
	for _, r := range d.Revocations {
		fmt.Println(r.User, r.Idle, r.Reason)
	}
	fmt.Println("effective window:", d.EffectiveWindow)
	fmt.Printf("%+v\n", d.Counts)
	// Output:
	// cat 90h0m0s pressure
	// bob 62h0m0s pressure
	// effective window: 62h0m0s
	// {Active:1 Idle:3 Excluded:1}
}
