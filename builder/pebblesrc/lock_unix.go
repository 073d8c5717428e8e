//go:build !windows

package pebblesrc

import (
	"errors"
	"io/fs"
	"syscall"
)

// lockConflict reports whether err is the failure to lock a LOCK file that
// another process holds: Pebble locks it with fcntl(F_SETLK), which fails
// with EAGAIN or EACCES, returned as a bare errno. (Creating the LOCK file
// can fail with EACCES too, for want of permission, but that error is an
// *fs.PathError.)
func lockConflict(err error) bool {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return false
	}
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES)
}
