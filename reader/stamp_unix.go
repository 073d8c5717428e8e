//go:build unix

package reader

import (
	"io/fs"
	"syscall"
)

func stampOf(fi fs.FileInfo) fileStamp {
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino, st.dev = uint64(sys.Ino), uint64(sys.Dev)
		st.ctime = ctimeOf(sys)
	}
	return st
}

// holdFailed: Watch holds a file that failed to load open (failedFile),
// so that its inode number, part of its stamp, cannot pass to another.
const holdFailed = true
