//go:build unix

package reader

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

func stampOf(fi fs.FileInfo) fileStamp {
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino, st.dev = uint64(sys.Ino), uint64(sys.Dev)
	}
	return st
}

// holdFile opens the file at path and returns it open if it is the file
// of stamp st, which holding it keeps from giving its inode number to
// another file. It reports false if path holds another file now; if the
// file cannot be opened (its permissions), it returns nil and true.
func holdFile(path string, st fileStamp) (held io.Closer, same bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0) // openFlags: a named pipe does not block
	if err != nil {
		return nil, true
	}
	fi, err := f.Stat()
	if err != nil || stampOf(fi) != st {
		f.Close()
		return nil, false
	}
	return f, true
}
