//go:build !race

package evil_test

const raceEnabled = false
