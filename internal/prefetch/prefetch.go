//go:build amd64 || arm64

// Package prefetch asks the processor for a cache line ahead of its use.
//
// Go has no prefetch intrinsic outside the runtime, so Line is a
// two-instruction assembly function (prefetch_amd64.s, prefetch_arm64.s).
// Unlike a load, a prefetch does not hold up the instructions after it
// until the line arrives: the caller goes on with other work, such as
// the next keys of a batch, while the lines it asked for are on their
// way. A prefetch never faults, whatever the address; callers pass
// addresses of memory they own all the same. On other architectures Line
// does nothing, and callers' results are the same, only slower.
//
// index.View.FindBatch prefetches the filter blocks, buckets and key
// bytes of a group of keys; the builders prefetch the filter blocks and
// table entries they are about to update, a few keys ahead.
package prefetch

import "unsafe"

// Line asks the processor to bring the cache line holding p into the
// cache, without waiting for it.
//
//go:noescape
func Line(p unsafe.Pointer)
