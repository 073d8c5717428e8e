//go:build !unix

package reader

import "io/fs"

func stampOf(fi fs.FileInfo) fileStamp {
	return fileStamp{size: fi.Size(), mtime: fi.ModTime()}
}

// holdFailed: Watch holds no file open (failedFile): stamps here have no
// inode number to keep, and an open file could not be renamed over on
// Windows.
const holdFailed = false
