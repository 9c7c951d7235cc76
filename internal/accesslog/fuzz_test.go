package accesslog

import (
	"bytes"
	"testing"
)

// FuzzParseLine: no line, however broken, panics a parser or yields
// slices from outside the line; a parsed time is within the years a log
// can name. The corpus is testdata/fuzz/FuzzParseLine plus the samples.
func FuzzParseLine(f *testing.F) {
	for _, s := range samples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		Detect(line)
		for g := Jira; g < numFormats; g++ {
			var e Entry
			if !ParseLine(g, line, &e) {
				continue
			}
			for _, s := range [][]byte{e.User, e.Method, e.Path, e.Query} {
				if len(s) > 0 && !within(line, s) && string(s) != "/" { // "/" for an absolute target with no path
					t.Fatalf("%s: slice %q not from the line %q", g, s, line)
				}
			}
			if len(e.Method) == 0 || e.Status < 0 || e.Status > 999 {
				t.Fatalf("%s: parsed %q into %+v", g, line, e)
			}
			if e.At < -86400 || e.At > 253402300799+86400 {
				t.Fatalf("%s: time %d out of range", g, e.At)
			}
			if bytes.Equal(e.User, []byte("-")) {
				t.Fatalf("%s: '-' is nobody, not a user", g)
			}
		}
	})
}

// within reports whether s is a sub-slice of b.
func within(b, s []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i := range b {
		if &b[i] == &s[0] {
			return i+len(s) <= len(b)
		}
	}
	return false
}
