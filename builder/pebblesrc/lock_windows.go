package pebblesrc

import (
	"errors"

	"golang.org/x/sys/windows"
)

// lockConflict reports whether err is the failure to lock a LOCK file that
// another process holds: Pebble opens it with no sharing, which fails with
// ERROR_SHARING_VIOLATION while another process has it open.
func lockConflict(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION)
}
