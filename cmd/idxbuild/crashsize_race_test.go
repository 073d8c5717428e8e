//go:build race

package main

// Sizes of the key sets of the crash tests: the new set takes about a
// second to build with the race detector, which makes idxbuild about 8
// times slower.
const (
	crashOldKeys = 25_000
	crashNewKeys = 150_000
)
