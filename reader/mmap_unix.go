//go:build unix

package reader

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openFlags are added to O_RDONLY when Open opens a file: with O_NONBLOCK,
// opening a named pipe returns at once instead of waiting for a writer
// (Open then refuses it, as it is not a regular file); reads of a
// regular file do not depend on it.
const openFlags = unix.O_NONBLOCK

// A mapping is a read-only shared mapping of a file.
type mapping struct {
	addr     unsafe.Pointer
	size     uintptr
	released atomic.Bool // set by the first release: unmapping twice could unmap a later mapping
}

// mapFile maps the first size bytes of f read-only and shared. For size 0,
// which mmap refuses, it returns nil and no mapping.
func mapFile(f *os.File, size int64) ([]byte, *mapping, error) {
	if size == 0 {
		return nil, nil, nil
	}
	if size < 0 || size != int64(int(size)) {
		return nil, nil, fmt.Errorf("stru: %s: file of %d bytes is too large to map in this process's address space: %w", f.Name(), size, errors.ErrUnsupported)
	}
	addr, err := unix.MmapPtr(int(f.Fd()), 0, nil, uintptr(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("stru: mapping %s: %w", f.Name(), err)
	}
	data := unsafe.Slice((*byte)(addr), int(size))
	// Lookups touch a few scattered cache lines: read-ahead would only
	// fetch pages nobody asked for. Advice is a hint; failure is harmless.
	_ = unix.Madvise(data, unix.MADV_RANDOM)
	return data, &mapping{addr: addr, size: uintptr(size)}, nil
}

// retire replaces the file's pages with anonymous zero pages at the same
// addresses, in one atomic mmap call. A lookup still running reads zeros,
// which decode as empty slots, instead of faulting on unmapped memory; the
// file itself is no longer referenced. The zero pages cost address space
// only, until release.
func (m *mapping) retire() error {
	_, err := unix.MmapPtr(-1, 0, m.addr, m.size, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_FIXED)
	if err != nil {
		return fmt.Errorf("stru: retiring mapping: %w", err)
	}
	return nil
}

// release unmaps the addresses, once however often it is called. Nothing
// may read them afterwards.
func (m *mapping) release() error {
	if m.released.Swap(true) {
		return nil
	}
	return unix.MunmapPtr(m.addr, m.size)
}
