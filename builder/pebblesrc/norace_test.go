//go:build !race

package pebblesrc

// raceEnabled reports that the tests run with the race detector.
const raceEnabled = false
