package reader

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on Linux with 4 KiB
// pages (x86-64, arm64): the kernel maps a file with one page table entry
// per hugePage bytes where the page cache holds them as one folio, at an
// address that is a multiple of hugePage.
const hugePage = 2 << 20

// mapShared maps the first size bytes of the file fd read-only and shared.
// A mapping of at least hugePage bytes starts at a multiple of hugePage, so
// that file offset and address agree modulo hugePage and each whole huge
// page of the file can be mapped as one.
func mapShared(fd int, size uintptr) (unsafe.Pointer, error) {
	if size < hugePage {
		return unix.MmapPtr(fd, 0, nil, size, unix.PROT_READ, unix.MAP_SHARED)
	}
	// Reserve hugePage more address space than needed, map the file over
	// its first aligned address, and give back the rest on either side.
	reserved := size + hugePage
	res, err := unix.MmapPtr(-1, 0, nil, reserved, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, err
	}
	head := (hugePage - uintptr(res)%hugePage) % hugePage
	addr, err := unix.MmapPtr(fd, 0, unsafe.Add(res, head), size, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_FIXED)
	if err != nil {
		unix.MunmapPtr(res, reserved)
		return nil, err
	}
	if head > 0 {
		unix.MunmapPtr(res, head)
	}
	pageSize := uintptr(unix.Getpagesize())
	if end := head + (size+pageSize-1)/pageSize*pageSize; end < reserved {
		unix.MunmapPtr(unsafe.Add(res, end), reserved-end)
	}
	return addr, nil
}

// advise tells the kernel how the mapping data is read: at random, a few
// cache lines at a time, so read-ahead of small pages would fetch pages
// nobody asked for; and in huge pages where it can, which spares most
// lookups a TLB miss (a page walk for each of a lookup's dependent reads).
// Where the page cache holds the file in huge-page folios (idxbuild writes
// it in aligned 2 MiB chunks, and the kernel reads a cold file in them
// under this advice), each huge page is then mapped with one entry.
// Advice is a hint; a kernel without transparent huge pages ignores it or
// fails, which is harmless.
func advise(data []byte) {
	_ = unix.Madvise(data, unix.MADV_RANDOM)
	_ = unix.Madvise(data, unix.MADV_HUGEPAGE)
}
