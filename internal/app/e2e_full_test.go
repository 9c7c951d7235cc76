package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestE2EFullPoolRetryAfterIsHonest: five pool-group members race for the
// last five seats with a 60 s floor; the sixth meets the full page, whose
// Retry-After is when the earliest holder passes the floor plus the time
// the app needs to see a revocation: about two minutes, not a day.
func TestE2EFullPoolRetryAfterIsHonest(t *testing.T) {
	var late []string
	for i := 0; i < 6; i++ {
		late = append(late, fmt.Sprintf("p%d", i))
	}
	w := newWorld(t, worldOpts{seats: 5, poolUsers: late, rest: true, floor: time.Minute, reaperIntv: 5 * time.Second})
	w.reap() // a run while nobody holds a seat must not poison the estimate
	codes := make([]int, len(late))
	retry := make([]string, len(late))
	var wg sync.WaitGroup
	for i, u := range late {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := w.browser(u).Login(t.Context(), false)
			if err != nil {
				t.Error(err)
				return
			}
			codes[i], retry[i] = res.Status, res.Header.Get("Retry-After")
		}()
	}
	wg.Wait()
	denied := 0
	for i, c := range codes {
		if c != http.StatusServiceUnavailable {
			continue
		}
		denied++
		secs, err := strconv.Atoi(retry[i])
		// floor + visibility margin (1 min) = 120 s; within a factor of two.
		if want := 120; err != nil || secs < want/2 || secs > want*2 {
			t.Errorf("%s: Retry-After %q, want within a factor of two of %d s", late[i], retry[i], want)
		}
	}
	if denied != 1 {
		t.Errorf("statuses %v: want exactly one login refused", codes)
	}
}

// TestE2ENoSeatCanEverFree: every seat is held by an excluded admin; the
// full page and its JSON say plainly that no seat will free by itself.
func TestE2ENoSeatCanEverFree(t *testing.T) {
	w := newWorld(t, worldOpts{seats: 2, admins: []string{"root1", "root2"}, poolUsers: []string{"newbie"}, rest: true})
	w.reap()
	res, err := w.browser("newbie").Login(t.Context(), false)
	if err != nil || res.Status != http.StatusServiceUnavailable {
		t.Fatalf("login with every seat held by admins: %+v %v, want 503", res.Status, err)
	}
	if !strings.Contains(res.Body, "no seat will free up by itself") {
		t.Errorf("the page does not say that no seat can free: %s", res.Body)
	}
	req, _ := http.NewRequest(http.MethodPost, w.base+"/rest/auth/1/session", strings.NewReader(`{"username":"newbie","password":"pw-newbie"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		NeverFrees bool `json:"neverFrees"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 503 || !body.NeverFrees {
		t.Errorf("REST login: %d %+v %v, want 503 with neverFrees", resp.StatusCode, body, err)
	}
}
