package reader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A Handle serves lookups from the index currently published at a path,
// and switches to a newly published file when Reload is called (or, with
// Watch, when the path changes). Publishers replace the file by renaming a
// new one over the path, as builder.WriteFile and idxbuild do.
//
// Switching is atomic: every lookup is answered by exactly one complete
// version of the file. A replaced file stays mapped until no goroutine
// still uses it, which the Handle learns from the garbage collector: the
// old Reader is never closed by the Handle, and is unmapped when it becomes
// unreachable. Lookups therefore cost nothing beyond a Reader's (one
// atomic pointer load, no shared counter), and a lookup that started on
// the old file finishes on it. So that a replaced file, usually deleted by
// the rename that replaced it, does not hold its disk space until the
// collector happens to run, each reload starts a collection in the
// background, and, while a replaced Reader survives it because a
// goroutine held it then, more, at intervals that double from 10 ms to
// two minutes.
//
// A Handle is safe for concurrent use.
type Handle struct {
	path    string
	verify  bool
	preload bool
	current atomic.Pointer[Reader]

	mu     sync.Mutex // serializes Reload and Close
	stamp  fileStamp  // of the file current was opened from
	closed bool       // Close has been called
}

// HandleOptions configure OpenHandle.
type HandleOptions struct {
	// SkipVerify makes OpenHandle and Reload switch to a new file after
	// Open's O(1) header checks only. By default they run the full
	// Verify first, so that a damaged file is never served; that reads
	// the whole file once per reload, after reading it into memory in
	// order (Reader.Preload).
	SkipVerify bool

	// Preload makes OpenHandle and Reload read each new file into memory
	// (Reader.Preload) before switching to it even with SkipVerify, so
	// that the first lookups it serves do not wait for the disk. Without
	// SkipVerify, the verification does it anyway.
	Preload bool
}

// fileStamp identifies one published version of a path.
type fileStamp struct {
	ino, dev uint64
	size     int64
	mtime    time.Time
	ctime    int64 // status change time, ns since 1970 (Unix; 0 elsewhere): a chmod changes it
}

// sameVersion reports whether s and o stamp the same published version:
// the same file, size and modification time. A change of status alone
// (permissions, owner, links) is not a new version: the file served is
// not reloaded for it.
func (s fileStamp) sameVersion(o fileStamp) bool {
	s.ctime = o.ctime
	return s == o
}

// OpenHandle opens the index at path and returns a Handle serving it.
func OpenHandle(path string, opts HandleOptions) (*Handle, error) {
	h := &Handle{path: path, verify: !opts.SkipVerify, preload: opts.Preload}
	if err := h.Reload(); err != nil {
		return nil, err
	}
	return h, nil
}

// Reader returns the Reader of the current file. The caller may keep using
// it, and slices from it, for as long as it holds it, even after the
// Handle has switched to a newer file; it must not Close it.
func (h *Handle) Reader() *Reader { return h.current.Load() }

// Contains reports whether key is in the current file.
func (h *Handle) Contains(key []byte) bool { return h.current.Load().Contains(key) }

// ContainsString reports whether key is in the current file.
func (h *Handle) ContainsString(key string) bool { return h.current.Load().ContainsString(key) }

// Reload opens the file now at the handle's path and, if it opens (and,
// unless SkipVerify, verifies, or with Preload preloads), makes it
// current. On any error the
// current file keeps serving and the error is returned. Reload does this
// whether or not the file changed, reading the whole file each time it
// verifies; Watch reloads only a changed file.
func (h *Handle) Reload() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return fmt.Errorf("stru: %s: Reload of a closed Handle", h.path)
	}
	return h.reloadLocked()
}

func (h *Handle) reloadLocked() error {
	f, fi, err := openPath(h.path)
	if err != nil {
		return err
	}
	defer f.Close()
	return h.switchTo(f, fi)
}

// switchTo serves the index in f, opened from the Handle's path, whose
// FileInfo is fi, if it opens (and verifies or preloads, as the Handle's
// options say). It does not close f.
func (h *Handle) switchTo(f *os.File, fi fs.FileInfo) error {
	// The errors of Open, Verify and Preload name the file; they are
	// returned as they are, for OpenHandle as for Reload.
	r, err := openFile(f, fi, h.path)
	if err != nil {
		return err
	}
	switch {
	case h.verify:
		err = r.Verify()
	case h.preload:
		err = r.Preload()
	}
	if err != nil {
		r.Close()
		return err
	}
	if r.m != nil {
		// Unmap the file once no goroutine holds r any more.
		runtime.AddCleanup(r, func(m *mapping) { m.release() }, r.m)
	}
	if old := h.current.Swap(r); old != nil && old.m != nil {
		collectReplaced(old)
	}
	h.stamp = stampOf(fi)
	return nil
}

// Watch reloads the Handle whenever the file at its path changes, checking
// every interval, until ctx is done or the Handle is closed. A change is
// a different file (device and inode, as a rename over the path makes) or
// a different size or modification time; a check is one stat call. Its
// reloads follow the Handle's HandleOptions, as Reload's do. Each failed
// reload is passed to onError (which may be nil). One that failed for
// want of a resource (too many open files, or memory: EMFILE, ENFILE,
// ENOMEM, EAGAIN) is retried at the next check, and any other at the next
// change; on Unix also when the failed file's status change time moves
// (a chmod, chown or link does that), so that a file published unreadable
// is loaded once made readable (a change within the same tick of the file
// system's clock as the failed load, which may be a second, goes unseen).
// Meanwhile the current file keeps serving; a change of its status alone
// does not reload it. On Unix, Watch holds a regular file that failed open
// until the path changes, so that its inode number cannot pass to a new
// file that would then look unchanged.
// Like time.NewTicker, Watch panics if interval is not positive.
func (h *Handle) Watch(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var failed failedFile
	defer failed.forget()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		closed, err := h.reloadIfChanged(&failed)
		if closed {
			return
		}
		if err != nil && onError != nil {
			onError(err)
		}
	}
}

// reloadIfChanged is one check of Watch: it reloads the Handle if the file
// at its path is neither the one it serves nor the one that last failed to
// load (*failed, which it updates). It reports whether the Handle is
// closed, and the reload's error.
func (h *Handle) reloadIfChanged(failed *failedFile) (closed bool, err error) {
	fi, err := os.Stat(h.path)
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return true, nil
	case err != nil: // the path is between a remove and a rename, or gone
		failed.forget()
		return false, nil
	}
	// known reports whether the file of stamp st needs no reload: it is
	// the one that failed, or the one served. The failed one is forgotten
	// once the path holds another file.
	known := func(st fileStamp) bool {
		if failed.is(st) {
			return true
		}
		failed.forget()
		return st.sameVersion(h.stamp)
	}
	stated := stampOf(fi)
	if known(stated) {
		return false, nil
	}
	// The path changed. What is judged, and held if it fails, is the file
	// opened now, whatever the path held at the stat.
	f, fi, err := openPath(h.path)
	switch {
	case errors.Is(err, fs.ErrNotExist): // gone since the stat
		return false, nil
	case err != nil:
		// No file to hold (its permissions, say): its stamp is
		// remembered, unless the process lacked a resource.
		if !transient(err) {
			failed.remember(stated, nil, false)
		}
		return false, err
	}
	st := stampOf(fi)
	if known(st) {
		f.Close()
		return false, nil
	}
	if err := h.switchTo(f, fi); err != nil {
		if transient(err) {
			f.Close()
		} else {
			failed.remember(st, f, fi.Mode().IsRegular())
		}
		return false, err
	}
	f.Close()
	return false, nil
}

// transient reports whether err, from loading a file, says that the
// process lacked a resource (descriptors, memory) rather than anything of
// the file: Watch then tries the file again at its next check.
func transient(err error) bool {
	for _, e := range transientErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// transientErrors are the errors of a process short of a resource.
var transientErrors = []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.EAGAIN}

// A failedFile is the file at a Handle's path that Watch last failed to
// load, which it does not try again while the path holds it. File systems
// give a deleted file's inode number to new files, and on one that keeps
// modification times in whole seconds (or 2 s), a new file of the same
// size published within the same second as a failed one, after it was
// removed, would have its stamp, and would never be loaded. So a failed
// regular file is held open, on Unix, where stamps have inode numbers,
// which keeps its inode number its own, until the path changes. (Other
// files are not held: a named pipe held open would take a writer's
// bytes.)
type failedFile struct {
	stamp fileStamp
	held  *os.File // the failed file, open, or nil
	set   bool     // stamp is a failed file's
}

// is reports whether st is the stamp of the failed file. Its status
// change time counts: a file that could not be opened for its
// permissions is tried again once they change.
func (f *failedFile) is(st fileStamp) bool { return f.set && st == f.stamp }

// remember makes the file of stamp st the failed one. file is that file,
// open, or nil; remember keeps it open if it is a regular file and
// holdFailed allows, and closes it otherwise.
func (f *failedFile) remember(st fileStamp, file *os.File, regular bool) {
	f.forget()
	f.stamp, f.set = st, true
	if file != nil && regular && holdFailed {
		f.held = file
	} else if file != nil {
		file.Close()
	}
}

// forget lets the failed file go.
func (f *failedFile) forget() {
	if f.held != nil {
		f.held.Close()
	}
	*f = failedFile{}
}

// Close stops the Handle from reloading: Reload returns an error, and
// Watch returns at its next check. Lookups keep answering from the current
// file, which is unmapped when the Handle and every Reader taken from it
// are unreachable.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	return nil
}
