//go:build !race

package main

// Sizes of the key sets of the crash tests: the new set takes about a
// second to build.
const (
	crashOldKeys = 200_000
	crashNewKeys = 1_000_000
)
