//go:build race

package pebblesrc

// raceEnabled reports that the tests run with the race detector, which
// makes Pebble several times slower.
const raceEnabled = true
