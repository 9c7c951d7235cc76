package identity

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func testHints(now *time.Time) *Hints {
	return NewHints(NewHasher(bytes.Repeat([]byte("k"), 32)), 8*24*time.Hour, "/jira", func() time.Time { return *now })
}

func TestHintRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hs := testHints(&now)
	for _, u := range []string{"alice", "Bob.Smith", "ünïcode user", "a|b%c;d", "x@example.org"} {
		v := hs.Value(u)
		if strings.ContainsAny(v, " ;,\"\\") {
			t.Errorf("%q: value %q is not a valid cookie value", u, v)
		}
		if got, ok := hs.User(v); !ok || got != u {
			t.Errorf("%q: User = %q %v", u, got, ok)
		}
		if !hs.Fresh(v, strings.ToUpper(u)) && u == "alice" {
			t.Errorf("%q: not fresh for the same user in other case", u)
		}
		if hs.Fresh(v, u+"x") || hs.Fresh(v, u[:len(u)-1]) {
			t.Errorf("%q: fresh for another user", u)
		}
	}
	v := hs.Value("alice")
	now = now.Add(5 * 24 * time.Hour) // past half the lifetime: refresh due
	if hs.Fresh(v, "alice") {
		t.Error("fresh past half its lifetime")
	}
	if _, ok := hs.User(v); !ok {
		t.Error("still valid before expiry")
	}
	now = now.Add(4 * 24 * time.Hour)
	if _, ok := hs.User(v); ok {
		t.Error("valid after expiry")
	}
}

func TestHintForgeries(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hs := testHints(&now)
	other := NewHints(NewHasher(bytes.Repeat([]byte("x"), 32)), 8*24*time.Hour, "/", func() time.Time { return now })
	good := hs.Value("alice")
	payload, _, _, mac, _ := parseHint(good)
	for name, v := range map[string]string{
		"other key":       other.Value("alice"),
		"user swapped":    strings.Replace(good, "alice", "mallory", 1),
		"expiry extended": strings.Replace(payload, "|17", "|27", 1) + "|" + mac,
		"mac flipped":     good[:len(good)-1] + "0",
		"empty":           "",
		"junk":            "1|||",
		"no version":      strings.TrimPrefix(good, "1|"),
		"short mac":       good[:len(good)-2],
	} {
		if u, ok := hs.User(v); ok {
			t.Errorf("%s: accepted as %q", name, u)
		}
		if hs.Fresh(v, "alice") {
			t.Errorf("%s: fresh", name)
		}
	}
}

func TestHintSetCookie(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hs := testHints(&now)
	for _, tc := range []struct {
		secure bool
		want   string
	}{{true, "; Secure; SameSite=None"}, {false, "; SameSite=Lax"}} {
		c := hs.SetCookie("alice", tc.secure)
		if !strings.HasPrefix(c, HintCookie+"=1|alice|") || !strings.Contains(c, "; Path=/jira; Max-Age=691200; HttpOnly") || !strings.HasSuffix(c, tc.want) {
			t.Errorf("secure=%v: %q", tc.secure, c)
		}
	}
}

func TestHintFreshAllocatesNothing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hs := testHints(&now)
	v := hs.Value("alice")
	hdr := []string{"atlassian.xsrf.token=B|lin; JSESSIONID=0123; " + HintCookie + "=" + v}
	if n := testing.AllocsPerRun(100, func() {
		c := ParseCredentials(hdr, "")
		if !hs.Fresh(c.Hint, "alice") {
			t.Fatal("not fresh")
		}
	}); n != 0 {
		t.Errorf("parsing and checking a hint allocates %v times, want 0", n)
	}
}

func FuzzHintCookie(f *testing.F) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hs := testHints(&now)
	f.Add(hs.Value("alice"))
	f.Add(hs.Value("ü|%"))
	f.Add("1|%|1|")
	f.Add("1|a%4|99999999999|00")
	f.Fuzz(func(t *testing.T, v string) {
		u, ok := hs.User(v)
		fresh := hs.Fresh(v, "alice")
		c := ParseCredentials([]string{HintCookie + "=" + v}, "")
		_ = c
		if ok {
			// Only what we signed verifies: re-signing the user gives a
			// value that verifies to the same user.
			if got, ok2 := hs.User(hs.Value(u)); !ok2 || got != u {
				t.Fatalf("re-signed %q gives %q %v", u, got, ok2)
			}
		}
		if fresh && !ok {
			t.Fatalf("fresh but not valid: %q", v)
		}
	})
}
