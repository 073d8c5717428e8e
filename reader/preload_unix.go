//go:build unix && !linux

package reader

import (
	"os"

	"golang.org/x/sys/unix"
)

// populate asks the kernel to read the mapped file data ahead
// (MADV_WILLNEED) and touches every page of it in order.
func populate(data []byte) error {
	_ = unix.Madvise(data, unix.MADV_WILLNEED)
	return touch(data, os.Getpagesize())
}
