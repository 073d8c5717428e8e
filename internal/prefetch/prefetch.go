//go:build amd64 || arm64

package prefetch

import "unsafe"

// Line asks the processor to bring the cache line holding p into the
// cache, without waiting for it.
//
//go:noescape
func Line(p unsafe.Pointer)
