package reader

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// populate reads the mapped file data into the page cache in order and
// maps every page of it: MADV_POPULATE_READ (Linux 5.14), under
// MADV_SEQUENTIAL and MADV_HUGEPAGE, then MADV_RANDOM again, as mapFile
// left it. MADV_HUGEPAGE makes the kernel read the file in 2 MiB folios
// where the file system allows, which it then maps as huge pages; under
// MADV_SEQUENTIAL alone it reads 4 KiB folios, as page faults do (see
// README.md, "Preloading"). The mapping keeps MADV_HUGEPAGE, so a page
// the kernel drops later comes back with its 2 MiB. Older kernels refuse
// MADV_POPULATE_READ with EINVAL; populate then touches every page.
func populate(data []byte) error {
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	_ = unix.Madvise(data, unix.MADV_HUGEPAGE) // EINVAL without transparent huge pages: harmless
	defer unix.Madvise(data, unix.MADV_RANDOM)
	err := unix.Madvise(data, unix.MADV_POPULATE_READ)
	switch {
	case errors.Is(err, unix.EINVAL):
		return touch(data, os.Getpagesize())
	case errors.Is(err, unix.EFAULT): // where an access would raise SIGBUS: past the end of the file
		return ErrFault
	}
	return err
}
