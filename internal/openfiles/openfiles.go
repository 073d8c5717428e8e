// Package openfiles counts the files a process holds open, for tests that
// check that nothing leaks a file descriptor, and fills the process's
// descriptor table (Exhaust), for tests of what runs out of descriptors.
package openfiles

import (
	"os"
	"path/filepath"
	"strings"
)

// In returns how many file descriptors of this process are open on files
// in dir or below it, removed files included, as /proc/self/fd shows them
// (Linux). Where there is no /proc/self/fd it returns -1.
func In(dir string) int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, dir+"/") {
			n++
		}
	}
	return n
}
