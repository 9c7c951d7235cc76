package main

import (
	"bytes"
	"strings"
	"testing"
)

// The benchmark runs end to end on a tiny log (make bench runs the month).
func TestBenchRunsTiny(t *testing.T) {
	var out bytes.Buffer
	if err := run(options{users: 12, days: 2, dir: t.TempDir(), inProcess: true}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"parse (1 core):", "replay (default sweep, 2 passes):", "peak_floor_seats"} {
		if strings.Contains(out.String(), "users 0,") {
			t.Fatalf("replay's figures were not read:\n%s", out.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
