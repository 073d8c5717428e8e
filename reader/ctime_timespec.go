//go:build darwin || freebsd || ios || netbsd

package reader

import "syscall"

// ctimeOf returns the file's status change time in nanoseconds since 1970.
func ctimeOf(sys *syscall.Stat_t) int64 {
	return int64(sys.Ctimespec.Sec)*1e9 + int64(sys.Ctimespec.Nsec)
}
