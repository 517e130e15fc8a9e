//go:build race

package filesec_test

const raceEnabled = true
