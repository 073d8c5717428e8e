//go:build unix && !linux

package reader

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapShared maps the first size bytes of the file fd read-only and shared.
func mapShared(fd int, size uintptr) (unsafe.Pointer, error) {
	return unix.MmapPtr(fd, 0, nil, size, unix.PROT_READ, unix.MAP_SHARED)
}

// advise tells the kernel that the mapping data is read at random, a few
// cache lines at a time: read-ahead would only fetch pages nobody asked
// for. Advice is a hint; failure is harmless.
func advise(data []byte) {
	_ = unix.Madvise(data, unix.MADV_RANDOM)
}
