//go:build race

package evil_test

// raceEnabled: the race detector makes sync.Pool drop items at random, so pooled
// paths allocate now and then.
const raceEnabled = true
