package username

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"alice", "alice"},
		{"Alice", "alice"},
		{"ALICE.SMITH@EXAMPLE.COM", "alice.smith@example.com"},
		{"jira-software-users", "jira-software-users"},
		{"Ärger", "ärger"},
		{"ÉLODIE", "élodie"},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q): got %q, want %q", tc.in, got, tc.want)
		}
		if got := Normalize(tc.in); got != strings.ToLower(tc.in) {
			t.Errorf("Normalize(%q) = %q differs from strings.ToLower", tc.in, got)
		}
	}
}

func TestNormalizeDoesNotAllocateForLowerCase(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Normalize("alice.smith") }); n != 0 {
		t.Errorf("got %v allocations, want 0", n)
	}
}
