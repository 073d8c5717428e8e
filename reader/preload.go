package reader

import (
	"errors"
	"fmt"
	"runtime"
)

// Preload reads the whole file into memory now, so that lookups do not
// wait for the disk: a Reader maps its file on demand, and a lookup that
// touches a page not in the operating system's page cache reads it from
// the disk, one page at a time, since Open asks for random access. A
// service calls Preload after Open when it would rather spend a
// sequential read of the file at start than a disk read in the first
// lookups of each page; Verify calls it itself.
//
// On Linux, Preload reads the file in order and maps all of it
// (madvise MADV_POPULATE_READ), asking for huge pages (MADV_HUGEPAGE):
// where the file system caches files in large folios, the file is then
// mapped in 2 MiB pages, as a file just built is, where a file read back
// a page at a time after the page cache dropped it is mapped in 4 KiB
// pages, and lookups miss the processor's TLB more often (README.md,
// "Preloading", has the figures). Elsewhere it touches every page in
// order.
//
// Preload returns an error after Close, and one wrapping ErrFault if
// the file turned out shorter than when it was opened. It does nothing
// for a Reader from FromBytes. It is safe to call while other goroutines
// use the Reader, and the memory is the page cache's, shared with every
// process that maps the file.
func (r *Reader) Preload() error {
	if r.closed.Load() {
		return r.errorf("Preload after Close")
	}
	if r.m == nil {
		return nil
	}
	err := populate(r.view.Data())
	runtime.KeepAlive(r) // keep the mapping until here (see Reader)
	if err != nil {
		if errors.Is(err, ErrFault) { // its message starts with "stru: " already
			return fmt.Errorf("%w, while preloading %s", err, r.file)
		}
		return fmt.Errorf("stru: preloading %s: %w", r.file, err)
	}
	return nil
}
