package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAppsimUsersFromAFileAndACount(t *testing.T) {
	f := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(f, []byte("# the estate\nerin:secret\n\n frank \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := moreUsers(f, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"erin", "secret"}, {"frank", "frank"}, {"user000000", "user000000"}, {"user000001", "user000001"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("user %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := moreUsers(filepath.Join(t.TempDir(), "missing"), 0); err == nil {
		t.Error("a missing file: want an error")
	}
}
