//go:build race

package poolwork

// raceOn: the race detector empties sync.Pool at random, so the regexp
// package allocates matchers it would otherwise reuse.
const raceOn = true
