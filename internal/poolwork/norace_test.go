//go:build !race

package poolwork

const raceOn = false
