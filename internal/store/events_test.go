package store

import "testing"

func TestEventWireForm(t *testing.T) {
	for _, e := range []Event{{"revoke", "jira-software", "alice"}, {"seatless", "jsm", "bob"}, {"stale", "k@123", "carol"}} {
		got, ok := ParseEvent(e.String())
		if !ok || got != e {
			t.Errorf("ParseEvent(%q) = %+v, %v; want %+v", e.String(), got, ok, e)
		}
	}
	for _, s := range []string{"", "revoke", "revoke|pool", "|pool|user"} {
		if e, ok := ParseEvent(s); ok {
			t.Errorf("ParseEvent(%q) = %+v, want not an event", s, e)
		}
	}
}
