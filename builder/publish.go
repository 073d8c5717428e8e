package builder

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteFile writes the index to path atomically, as WriteFileContext does
// with a context that is never canceled.
func (b *Builder) WriteFile(path string) error {
	return b.WriteFileContext(context.Background(), path)
}

// WriteFileContext writes the index to path atomically. In order, it
//
//  0. checks that path names no directory, device, named pipe or socket,
//     and that path's directory exists and takes a new file
//     (CheckDestination), so that a build bound to fail, or to replace
//     /dev/null with a regular file, fails before its work;
//  1. sorts and places the keys, with nothing on disk yet;
//  2. creates a temporary file named ".BASE.tmp-" and digits, where BASE is
//     path's base name, in path's directory, with mode 0666 less the
//     process's umask, as the shell's ">" creates a file (-rw-r--r-- under
//     the usual umask 022; the mode of a file path replaces is not kept);
//  3. writes the index to it;
//  4. fsyncs it;
//  5. closes it;
//  6. renames it to path, replacing any file there in one step (a
//     symbolic link at path is replaced, not followed);
//  7. fsyncs the directory, so that the rename survives a crash of the
//     operating system.
//
// ctx is checked before each step and between chunks of at most 64 KiB
// while writing, and between phases of step 1.
//
// If a step up to 6 fails, or ctx is canceled before step 6, path is
// untouched, the temporary file is removed, and the error returned wraps
// the cause: the system call's error, or ctx.Err(). A failed fsync is never
// retried: the kernel may have dropped the data it could not write and
// marked it clean, so a second fsync could report success for data that is
// not on disk.
//
// If step 7 fails, the rename has happened: path is the new file, and
// anyone opening path gets the new index, but durability is not
// guaranteed: after an operating-system crash or power loss path may again
// be the old file. WriteFileContext returns the error.
//
// Readers that have the old file open or mapped keep reading the old file,
// whole and unchanged. If the process is killed during steps 2–6 (SIGKILL,
// an out-of-memory kill), the temporary file stays behind; nothing ever
// reads it, and it can be removed.
func (b *Builder) WriteFileContext(ctx context.Context, path string) error {
	if err := CheckDestination(path); err != nil {
		return err
	}
	return b.publish(ctx, osFS{}, path)
}

// CheckDestination returns the error that WriteFileContext would return
// at its step 0 for path: path names a directory, which the final rename
// cannot replace; or another file that is not a regular file (a device
// such as /dev/null, a named pipe, a socket), which the rename would
// replace with a regular file; or path's directory is missing, not a
// directory, or does not let this process create a file in it (for its
// permissions, or a read-only file system), where the temporary file
// cannot be created: CheckDestination creates one, as step 2 would, and
// removes it at once. A symbolic link at path is allowed: the rename
// replaces the link itself, not the file it points to. A program that
// gathers its keys for a long time (idxbuild reading its input) can call
// it first, to fail before that work rather than after it.
func CheckDestination(path string) error {
	if path == "" {
		return errors.New("stru: writing an index: empty path")
	}
	if fi, err := os.Lstat(path); err == nil {
		switch {
		case fi.IsDir(): // also a link to one, given as "link/"
			return errorf("writing %s: it is a directory", path)
		case fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
			// Not every file that is not regular: on Windows, Go calls
			// OneDrive's files irregular, and the rename replaces them.
			return errorf("writing %s: it is not a regular file (mode %v), and renaming the new index over it would replace it", path, fi.Mode())
		}
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return errorf("writing %s: %w", path, err)
	case !fi.IsDir():
		return errorf("writing %s: %s is not a directory", path, dir)
	}
	// Whether the directory takes a new file (its permissions, a read-only
	// file system) shows only by creating one.
	f, err := createTemp(dir, tempPattern(path))
	if err != nil {
		return errorf("writing %s: %w", path, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// publish is WriteFileContext with the file system fsys, which is osFS
// except in tests.
func (b *Builder) publish(ctx context.Context, fsys fileSystem, path string) error {
	if b.external() {
		return b.publishExternal(ctx, fsys, path) // extsort.go
	}
	p, err := b.prepare(ctx)
	if err != nil {
		return errorf("writing %s: %w", path, err)
	}
	return publishFile(ctx, fsys, path, func(f tempFile) error {
		bw := bufio.NewWriterSize(f, bufferFor(p.header.FileSize, publishChunk))
		if _, err := b.write(ctx, p, bw); err != nil {
			return err
		}
		return bw.Flush()
	}, func() { b.setStats(p) })
}

// publishChunk is the size of every write but the last into the temporary
// file: the file is written in whole, aligned 2 MiB pieces, the size of an
// x86-64 huge page. A file system that caches files in large folios (ext4
// on this project's Linux 6.18 machines) keeps each piece in the page
// cache as one 2 MiB folio, which a reader's mapping maps with one
// page-table entry: the lookups, a few random reads in the file each,
// mostly find their address in the TLB instead of walking the page
// tables. Written in 1 MiB pieces, the same file is mapped in 4 KiB pages.
const publishChunk = 2 << 20

// publishFile does steps 2–7 of WriteFileContext: fill writes the index
// into the temporary file (step 3), and renamed is called once the rename
// has succeeded.
func publishFile(ctx context.Context, fsys fileSystem, path string, fill func(f tempFile) error, renamed func()) error {
	p, err := createPending(ctx, fsys, path)
	if err != nil {
		return err
	}
	if err := fill(p.f); err != nil {
		p.abort()
		return errorf("writing %s: %w", p.tmp, err)
	}
	return p.commit(ctx, renamed)
}

// A pending is the temporary file of steps 2–7 of WriteFileContext, from
// its creation to its rename: createPending does step 2, the caller step
// 3, and commit the rest, or abort removes the file.
type pending struct {
	fsys      fileSystem
	path, tmp string
	f         tempFile
}

// createPending checks ctx, then creates the temporary file for path
// (step 2).
func createPending(ctx context.Context, fsys fileSystem, path string) (*pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, errorf("writing %s: %w", path, err)
	}
	f, err := fsys.CreateTemp(filepath.Dir(path), tempPattern(path))
	if err != nil {
		return nil, errorf("creating temporary file for %s: %w", path, err)
	}
	return &pending{fsys: fsys, path: path, tmp: f.Name(), f: f}, nil
}

// abort closes and removes the temporary file.
func (p *pending) abort() {
	p.f.Close()
	p.fsys.Remove(p.tmp)
}

// commit does steps 4–7 of WriteFileContext, checking ctx before the
// fsync and before the rename, and calls renamed once the rename has
// succeeded. If a step up to the rename fails, it removes the file.
func (p *pending) commit(ctx context.Context, renamed func()) (err error) {
	closed, moved := false, false
	defer func() {
		switch {
		case err == nil || moved:
		case closed:
			p.fsys.Remove(p.tmp)
		default:
			p.abort()
		}
	}()
	if err = ctx.Err(); err != nil {
		return errorf("writing %s: %w", p.path, err)
	}
	if err = p.f.Sync(); err != nil {
		return errorf("syncing %s: %w", p.tmp, err)
	}
	closed = true
	if err = p.f.Close(); err != nil {
		return errorf("closing %s: %w", p.tmp, err)
	}
	if err = ctx.Err(); err != nil {
		return errorf("writing %s: %w", p.path, err)
	}
	if err = p.fsys.Rename(p.tmp, p.path); err != nil {
		return errorf("%w", err)
	}
	moved = true
	renamed()
	dir := filepath.Dir(p.path)
	if err = p.fsys.SyncDir(dir); err != nil {
		return errorf("syncing directory %s: %w (the new %s is in place but may not survive a system crash)", dir, err, p.path)
	}
	return nil
}

// A fileSystem is what publish needs of the file system. osFS is the only
// implementation outside tests; tests substitute one that records the
// order of the operations and makes chosen ones fail.
type fileSystem interface {
	CreateTemp(dir, pattern string) (tempFile, error) // as os.CreateTemp, with mode 0666 less the umask
	Rename(oldpath, newpath string) error
	Remove(name string) error
	SyncDir(dir string) error // fsync the directory itself
}

// A tempFile is the temporary file being written: an *os.File in osFS.
type tempFile interface {
	Name() string
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// osFS is the operating system's file system.
type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (tempFile, error) {
	f, err := createTemp(dir, pattern)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil tempFile
	}
	return f, nil
}

// tempPattern is the os.CreateTemp pattern of the temporary file that
// becomes path (step 2): ".BASE.tmp-*" for path's base name BASE.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// createTemp is os.CreateTemp, which makes files of mode 0600, but makes
// the file with mode 0666, less the umask, as os.Create does: the mode a
// published index should have.
func createTemp(dir, pattern string) (*os.File, error) {
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 { // the last, as os.CreateTemp: BASE may hold one
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	for range 10000 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10)+suffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, pattern), Err: fs.ErrExist}
}

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error             { return os.Remove(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
