//go:build unix

package reader_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/internal/childtest"
	"github.com/stru-index/stru/internal/openfiles"
	"github.com/stru-index/stru/reader"
	"golang.org/x/sys/unix"
)

// watchErrors starts h.Watch, checking every millisecond, and returns the
// channel its errors arrive on and a function that stops it and waits
// for it to return.
func watchErrors(t *testing.T, h *reader.Handle) (errs <-chan error, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Watch(ctx, time.Millisecond, func(err error) { ch <- err })
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return ch, stop
}

// nextWatchError waits for Watch's next error, which must wrap want.
func nextWatchError(t *testing.T, errs <-chan error, what string, want error) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, want) {
			t.Fatalf("%s: Watch's error %v, want one wrapping %v", what, err, want)
		}
	case <-time.After(20 * time.Second): // far more than a check every millisecond needs
		t.Fatalf("%s: no error from Watch within 20 s", what)
	}
}

// renameOver puts a hard link to file at path, by a rename: path then
// holds file's inode, with its size and modification time.
func renameOver(t *testing.T, file, path string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.Link(file, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestHandleWatchFailedFileAgain publishes a foreign file, then a good
// index, then the same foreign file again (its inode, size and time): the
// second time is a new failure, which Watch must report, not skip as the
// file that failed before, while the good index keeps serving.
func TestHandleWatchFailedFileAgain(t *testing.T) {
	h, dir, path := publishedHandle(t)
	errs, _ := watchErrors(t, h)
	foreign := filepath.Join(dir, "foreign")
	if err := os.WriteFile(foreign, []byte("not an index, but a file of some length\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	renameOver(t, foreign, path)
	nextWatchError(t, errs, "the foreign file", index.ErrNotIndex)

	publish(t, path, versionKeys("B"))
	deadline := time.Now().Add(20 * time.Second)
	for !h.ContainsString("version-B") {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not serve version B within 20 s")
		}
		time.Sleep(time.Millisecond)
	}

	renameOver(t, foreign, path)
	nextWatchError(t, errs, "the foreign file again, after version B", index.ErrNotIndex)
	if !h.ContainsString("version-B") {
		t.Fatal("the Handle stopped serving version B")
	}
}

// TestHandleWatchFailedInodeReused publishes a foreign file, waits for
// Watch's error, removes it and at once publishes another foreign file of
// the same size with the same modification time, as two files written
// within one second have on a file system with whole-second times (and
// under qemu's emulation of stat on some architectures). A file system
// such as ext4 gives the removed file's inode number to the new file
// unless something holds the removed one open: then the new file's stamp
// is the failed one's, and Watch, which held nothing, never reported it.
// Where inode numbers are not reused (tmpfs), this test passes either way.
func TestHandleWatchFailedInodeReused(t *testing.T) {
	h, dir, path := publishedHandle(t)
	errs, stop := watchErrors(t, h)
	when := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	write := func(name, content string) string {
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, when, when); err != nil {
			t.Fatal(err)
		}
		return file
	}
	inode := func() uint64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return uint64(fi.Sys().(*syscall.Stat_t).Ino)
	}

	if err := os.Rename(write("first.tmp", "the first foreign file\n"), path); err != nil {
		t.Fatal(err)
	}
	first := inode()
	nextWatchError(t, errs, "the first foreign file", index.ErrNotIndex)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(write("second.tmp", "the other foreign file\n"), path); err != nil {
		t.Fatal(err)
	}
	t.Logf("inode numbers: %d, then %d", first, inode())
	nextWatchError(t, errs, "the second foreign file", index.ErrNotIndex)
	if !h.ContainsString("version-A") {
		t.Fatal("the Handle stopped serving version A")
	}
	// Watch holds the failed file open until it returns, no longer.
	if n := openfiles.In(dir); n != -1 && n != 1 {
		t.Errorf("%d files in the directory open while Watch holds the failed one, want 1", n)
	}
	stop()
	if n := openfiles.In(dir); n > 0 {
		t.Errorf("%d files in the directory still open after Watch returned", n)
	}
}

// TestHandleWatchDoesNotHoldPipe publishes a named pipe at the path:
// Watch reports it, as it is not a regular file, and does not hold it
// open, which would let a writer's open succeed and its bytes go into a
// pipe nobody reads. A writer's non-blocking open must still fail with
// ENXIO, no reader.
func TestHandleWatchDoesNotHoldPipe(t *testing.T) {
	h, dir, path := publishedHandle(t)
	errs, _ := watchErrors(t, h)
	fifo := filepath.Join(dir, "pipe")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, path); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Watch's error %v, want one saying the pipe is not a regular file", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no error from Watch within 20 s of a named pipe at the path")
	}
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err == nil {
		syscall.Close(fd)
		t.Fatal("a writer could open the named pipe: something holds it open for reading")
	}
	if !errors.Is(err, syscall.ENXIO) {
		t.Fatalf("a writer's open of the named pipe: %v, want ENXIO", err)
	}
}

// TestHandleWatchFailedFileStatusChange publishes a foreign file, which
// Watch reports, then makes it a good index in place, keeping its inode,
// size and modification time, as a file published unreadable keeps them
// when its permissions are fixed with chmod (which this test, run as root,
// could not fail to read). Only the file's status change time tells the
// difference: Watch must load it. A status change of the file served then
// must not reload it.
func TestHandleWatchFailedFileStatusChange(t *testing.T) {
	h, dir, path := publishedHandle(t)
	errs, _ := watchErrors(t, h)
	indexB := filepath.Join(dir, "b.stru")
	publish(t, indexB, versionKeys("B"))
	good, err := os.ReadFile(indexB)
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign")
	if err := os.WriteFile(foreign, make([]byte, len(good)), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(foreign, when, when); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(foreign, path); err != nil {
		t.Fatal(err)
	}
	nextWatchError(t, errs, "the foreign file", index.ErrNotIndex)

	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, path, good)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || before.Size() != after.Size() || !before.ModTime().Equal(after.ModTime()) {
		t.Fatalf("the file changed more than its status: %v %d %v, then %v %d %v",
			before.Sys(), before.Size(), before.ModTime(), after.Sys(), after.Size(), after.ModTime())
	}
	// Each chmod sets the status change time to now: on a file system
	// that keeps it in whole seconds, one within the next second shows.
	deadline := time.Now().Add(20 * time.Second)
	for !h.ContainsString("version-B") {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not load the repaired file within 20 s")
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-errs:
		t.Fatalf("Watch reported %v for the repaired file", err)
	default:
	}

	served := h.Reader()
	for range 5 {
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // 100 checks
	}
	if h.Reader() != served {
		t.Error("a change of permissions reloaded the file served")
	}
}

// TestHandleWatchRetriesTransientError publishes a new version while the
// process has no descriptor left, so that Watch's reload fails with
// EMFILE, and then frees the descriptors: Watch must load the new version
// at a later check, as the failure said nothing of the file, rather than
// wait for the path to change again. It runs in a child process, as the
// descriptor limit is the whole process's.
func TestHandleWatchRetriesTransientError(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	h, dir, path := publishedHandle(t)
	errs, _ := watchErrors(t, h)
	versionB := filepath.Join(dir, "b.stru")
	publish(t, versionB, versionKeys("B"))

	// With no descriptor left, publish version B (a link and a rename,
	// which take none).
	restore := openfiles.Exhaust(t, 0)
	defer restore()
	renameOver(t, versionB, path)
	nextWatchError(t, errs, "version B with no descriptor left", syscall.EMFILE)
	if h.ContainsString("version-B") {
		t.Fatal("the Handle served version B while no descriptor was left")
	}
	restore()
	deadline := time.Now().Add(20 * time.Second)
	for !h.ContainsString("version-B") {
		if time.Now().After(deadline) {
			t.Fatal("20 s after descriptors were freed, Watch has not loaded version B")
		}
		time.Sleep(time.Millisecond)
	}
}
