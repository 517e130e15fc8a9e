//go:build !race

package filesec_test

const raceEnabled = false
