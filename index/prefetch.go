//go:build amd64 || arm64

package index

import "unsafe"

// Go has no prefetch intrinsic outside the runtime, so FindBatch calls a
// two-instruction assembly function (prefetch_amd64.s, prefetch_arm64.s)
// to ask for the cache line at p. Unlike a load, a prefetch does not hold
// up the instructions after it until the line arrives: FindBatch goes on
// with the next keys while the lines it asked for are on their way. A prefetch never
// faults, whatever the address; FindBatch only passes addresses inside the
// file all the same. On other architectures prefetch does nothing, and
// FindBatch's answers are the same, only slower.

// prefetch asks the processor to bring the cache line holding p into the
// cache, without waiting for it.
//
//go:noescape
func prefetch(p unsafe.Pointer)
