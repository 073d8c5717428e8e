package builder

// Tests of how WriteFile publishes a file: the order of the file-system
// operations, what each failure leaves on disk, and cancellation. They run
// publish with recordingFS, the real file system plus a log of operations
// and one injected failure.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stru-index/stru/index"
)

// A recordingFS is osFS that logs each operation publish performs and can
// make one of them fail, with the injected error wrapped as package os
// wraps its errors.
type recordingFS struct {
	ops []string // operations in order; consecutive writes are logged once

	failOp    string // the operation to fail: "create", "write", "sync", ...
	failWrite int    // with failOp "write": which write call fails, from 1
	err       error  // the error the failing operation returns

	before  func(op string) // if set, called before each operation
	writes  int             // write calls so far
	extents []extent        // what each write and positional write wrote
}

// An extent is where one write call wrote in the file: n bytes from off.
type extent struct{ off, n int64 }

// log appends op, marked with "!" if it fails, and reports whether it
// should fail.
func (fs *recordingFS) log(op string, fail bool) bool {
	if fs.before != nil {
		fs.before(op)
	}
	entry := op
	if fail {
		entry += "!"
	}
	if entry == "write" && len(fs.ops) > 0 && fs.ops[len(fs.ops)-1] == "write" {
		return false
	}
	fs.ops = append(fs.ops, entry)
	return fail
}

func (fs *recordingFS) CreateTemp(dir, pattern string) (tempFile, error) {
	if fs.log("create", fs.failOp == "create") {
		return nil, &os.PathError{Op: "createtemp", Path: filepath.Join(dir, pattern), Err: fs.err}
	}
	f, err := createTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &recordingFile{File: f, fs: fs}, nil
}

func (fs *recordingFS) Rename(oldpath, newpath string) error {
	if fs.log("rename", fs.failOp == "rename") {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.err}
	}
	return os.Rename(oldpath, newpath)
}

func (fs *recordingFS) Remove(name string) error {
	fs.log("remove", false)
	return os.Remove(name)
}

func (fs *recordingFS) SyncDir(dir string) error {
	if fs.log("syncdir", fs.failOp == "syncdir") {
		return &os.PathError{Op: "sync", Path: dir, Err: fs.err}
	}
	return osFS{}.SyncDir(dir)
}

// A recordingFile is a temporary file of a recordingFS.
type recordingFile struct {
	*os.File
	fs *recordingFS
}

// Write writes p. The failing write writes half of p and returns the
// injected error, as a write to a full disk does.
func (f *recordingFile) Write(p []byte) (int, error) {
	fs := f.fs
	fs.writes++
	if off, err := f.File.Seek(0, io.SeekCurrent); err == nil {
		fs.extents = append(fs.extents, extent{off, int64(len(p))})
	}
	if fs.log("write", fs.failOp == "write" && fs.writes == fs.failWrite) {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: fs.err}
	}
	return f.File.Write(p)
}

// WriteAt writes p at off, for the build through temporary files.
func (f *recordingFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.extents = append(f.fs.extents, extent{off, int64(len(p))})
	return f.File.WriteAt(p, off)
}

func (f *recordingFile) Sync() error {
	if f.fs.log("sync", f.fs.failOp == "sync") {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: f.fs.err}
	}
	return f.File.Sync()
}

// Close closes the file, really, even when it reports the injected error.
func (f *recordingFile) Close() error {
	err := f.File.Close()
	if f.fs.log("close", f.fs.failOp == "close") {
		return &os.PathError{Op: "close", Path: f.Name(), Err: f.fs.err}
	}
	return err
}

// publishKeys returns a Builder holding n keys of 70–130 bytes starting
// with prefix, with a fixed hash key.
func publishKeys(t *testing.T, prefix string, n int) *Builder {
	t.Helper()
	key := index.HashKey{'p', 'u', 'b', 'l', 'i', 's', 'h'}
	b, err := New(Options{HashKey: &key})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := b.AddString(fmt.Sprintf("%s-%d-%s", prefix, i, strings.Repeat("x", 60+i%61))); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// publishDir returns a new directory holding the index file "set.stru" of
// the old keys, and that file's path and contents.
func publishDir(t *testing.T) (dir, path string, old []byte) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "set.stru")
	if err := publishKeys(t, "old", 1000).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return dir, path, old
}

// checkPublished checks that dir holds only set.stru, whose contents are
// want.
func checkPublished(t *testing.T, dir, path string, want []byte, what string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s: %s holds %d bytes (%v), want the %d bytes of the %s file", what, path, len(got), err, len(want), what)
	}
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"set.stru"}) {
		t.Errorf("directory holds %q, want only [set.stru]: a temporary file is left", names)
	}
}

// TestPublishOrder checks the order of WriteFile's operations, and what a
// failure of each leaves: before the rename, the old file untouched and
// the temporary file removed; after it, the new file in place. Each
// failure is reported, and none is retried: the log shows every operation
// performed, so one "sync" means fsync was called once.
func TestPublishOrder(t *testing.T) {
	errInjected := errors.New("injected failure")
	tests := []struct {
		failOp    string
		failWrite int
		err       error
		wantOps   string
		wantNew   bool // the new file replaced the old
	}{
		{wantOps: "create write sync close rename syncdir", wantNew: true},
		{failOp: "create", err: errInjected, wantOps: "create!"},
		{failOp: "write", failWrite: 1, err: syscall.ENOSPC, wantOps: "create write! close remove"},
		{failOp: "write", failWrite: 3, err: syscall.ENOSPC, wantOps: "create write write! close remove"},
		{failOp: "write", failWrite: 4, err: syscall.EIO, wantOps: "create write write! close remove"},
		{failOp: "sync", err: syscall.EIO, wantOps: "create write sync! close remove"},
		{failOp: "close", err: syscall.EIO, wantOps: "create write sync close! remove"},
		{failOp: "rename", err: syscall.EXDEV, wantOps: "create write sync close rename! remove"},
		{failOp: "syncdir", err: syscall.EIO, wantOps: "create write sync close rename syncdir!", wantNew: true},
	}
	// 80,000 keys make a file of about 8.8 MB: several 2 MiB writes.
	b := publishKeys(t, "new", 80_000)
	var want bytes.Buffer
	if _, err := b.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		name := "none"
		if tt.failOp != "" {
			name = fmt.Sprintf("%s %d %v", tt.failOp, tt.failWrite, tt.err)
		}
		t.Run(name, func(t *testing.T) {
			dir, path, old := publishDir(t)
			b.stats = Stats{}
			fs := &recordingFS{failOp: tt.failOp, failWrite: tt.failWrite, err: tt.err}
			err := b.publish(context.Background(), fs, path)
			if tt.failOp == "" && fs.writes < 4 {
				t.Fatalf("the file took %d writes, want at least 4 for the failing writes to be tested", fs.writes)
			}
			if got := strings.Join(fs.ops, " "); got != tt.wantOps {
				t.Errorf("operations:\n got  %s\n want %s", got, tt.wantOps)
			}
			switch {
			case tt.err == nil && err != nil:
				t.Fatalf("WriteFile: %v", err)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Fatalf("WriteFile failing at %s returned %v, want an error wrapping %v", tt.failOp, err, tt.err)
			case err != nil && !strings.Contains(err.Error(), dir):
				t.Errorf("error %q does not name the file", err)
			}
			if tt.wantNew {
				checkPublished(t, dir, path, want.Bytes(), "new")
				if b.Stats().Keys != 80_000 {
					t.Errorf("Stats after the rename describe %d keys, want 80000", b.Stats().Keys)
				}
			} else {
				checkPublished(t, dir, path, old, "old")
				if b.Stats().Keys != 0 {
					t.Errorf("Stats after a failed WriteFile describe a file of %d keys", b.Stats().Keys)
				}
			}
		})
	}
}

// TestWriteFileFailureDoc checks what the WriteFile documentation promises
// of a failed directory fsync, so that the two change together.
func TestWriteFileFailureDoc(t *testing.T) {
	dir, path, _ := publishDir(t)
	fs := &recordingFS{failOp: "syncdir", err: syscall.EIO}
	err := publishKeys(t, "new", 10).publish(context.Background(), fs, path)
	for _, want := range []string{"syncing directory " + dir, "in place", path} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

// TestWriteFileContextCanceledWhileWriting cancels the context during the
// second write to the temporary file: WriteFileContext stops, returns the
// context's error, leaves the old file and removes the temporary one.
func TestWriteFileContextCanceledWhileWriting(t *testing.T) {
	dir, path, old := publishDir(t)
	b := publishKeys(t, "new", 40_000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fs := &recordingFS{}
	fs.before = func(op string) {
		if op == "write" && fs.writes == 2 {
			cancel()
		}
	}
	err := b.publish(ctx, fs, path)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteFileContext canceled while writing returned %v, want context.Canceled", err)
	}
	if got, want := strings.Join(fs.ops, " "), "create write close remove"; got != want {
		t.Errorf("operations:\n got  %s\n want %s", got, want)
	}
	if fs.writes != 2 {
		t.Errorf("%d writes, want 2: the write after the cancellation went ahead", fs.writes)
	}
	checkPublished(t, dir, path, old, "old")
}

// A countdownContext is never done until Err has been called n times; from
// then on Err returns context.Canceled. It cancels WriteFileContext at
// exactly its n-th check of the context.
type countdownContext struct {
	context.Context
	n, calls int
}

func (c *countdownContext) Err() error {
	if c.calls++; c.n > 0 && c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// TestWriteFileContextCanceledEverywhere cancels WriteFileContext at each
// of its checks of the context in turn: each time it returns the context's
// error, the old file is untouched and no temporary file is left; when the
// cancellation comes before the temporary file is created (sorting,
// hashing, placing, checksumming), no file is created at all.
func TestWriteFileContextCanceledEverywhere(t *testing.T) {
	dir, path, old := publishDir(t)
	b := publishKeys(t, "new", 5000)

	// A run that is never canceled counts the checks, in all and before
	// the temporary file is created.
	probe := &countdownContext{Context: context.Background()}
	checksBeforeCreate := -1
	fs := &recordingFS{}
	b.stats = Stats{}
	var want bytes.Buffer
	if _, err := b.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	fs.before = func(op string) {
		if op == "create" {
			checksBeforeCreate = probe.calls
		}
	}
	if err := b.publish(probe, fs, path); err != nil {
		t.Fatal(err)
	}
	checkPublished(t, dir, path, want.Bytes(), "new")
	total := probe.calls
	t.Logf("%d checks of the context, %d before the temporary file is created", total, checksBeforeCreate)
	// Sorting, hashing, placing and at least one chunk of each section's
	// checksum come first.
	if checksBeforeCreate < 6 || total < checksBeforeCreate+6 {
		t.Fatalf("%d checks, %d before creating the file: too few to stop a long build promptly", total, checksBeforeCreate)
	}

	for n := 1; n <= total; n++ {
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Fatal(err)
		}
		fs := &recordingFS{}
		err := b.publish(&countdownContext{Context: context.Background(), n: n}, fs, path)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled at check %d of %d: WriteFileContext returned %v", n, total, err)
		}
		ops := strings.Join(fs.ops, " ")
		switch {
		case n <= checksBeforeCreate && ops != "":
			t.Errorf("canceled at check %d, before the file is created: operations %q, want none", n, ops)
		case n > checksBeforeCreate && (!strings.HasPrefix(ops, "create") || !strings.HasSuffix(ops, " close remove") || strings.Contains(ops, "rename")):
			t.Errorf("canceled at check %d, while writing: operations %q", n, ops)
		}
		checkPublished(t, dir, path, old, fmt.Sprintf("old (canceled at check %d)", n))
	}
}

// TestPublishWritesAlignedPieces checks that the builds write the file in
// whole aligned pieces of publishChunk bytes, which the page cache of a
// file system with large folios keeps as huge pages (publishChunk): each
// such piece of the file must have been written by one write call that
// covers it. The in-memory build writes the file from start to end, so
// every piece is; the streaming builds write each section in its own pass,
// so the pieces that hold the end of one section and the start of the
// next, and the header's, are written in parts. The sorted build writes
// its key data to a temporary file of its own and copies it into place.
func TestPublishWritesAlignedPieces(t *testing.T) {
	// Some 24 MB: eleven pieces of 2 MiB.
	keys := make([]string, 200_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%07d-%s", i, strings.Repeat("k", 80+i%41))
	}
	hashKey := index.HashKey{'a', 'l', 'i', 'g', 'n'}
	for _, build := range []string{"in-memory", "runs", "sorted"} {
		t.Run(build, func(t *testing.T) {
			opts := Options{HashKey: &hashKey, MemoryBudget: -1, TempDir: t.TempDir()}
			if build != "in-memory" {
				opts.MemoryBudget = 1 << 20
			}
			fs := &recordingFS{}
			_, path, _ := publishDir(t)
			if build == "sorted" {
				publishSorted(t, opts, keys, fs, path)
			} else {
				b, err := New(opts)
				if err != nil {
					t.Fatal(err)
				}
				for i := range keys { // out of order
					b.AddString(keys[i*7919%len(keys)])
				}
				if err := b.publish(context.Background(), fs, path); err != nil {
					t.Fatal(err)
				}
				if spilled := b.Stats().Runs > 0; spilled != (build == "runs") {
					t.Fatalf("the %s build spilled %d runs", build, b.Stats().Runs)
				}
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			pieces := fi.Size() / publishChunk
			whole := 0
			for p := range pieces {
				start, end := p*publishChunk, (p+1)*publishChunk
				if slices.ContainsFunc(fs.extents, func(e extent) bool { return e.off <= start && end <= e.off+e.n }) {
					whole++
				}
			}
			// The pieces that can be split: one at each of the four
			// sections' starts.
			split := int64(0)
			if build != "in-memory" {
				split = 4
			}
			t.Logf("%d of %d pieces written whole", whole, pieces)
			if pieces < 10 || int64(whole) < pieces-split {
				t.Errorf("%d of the file's %d whole %d-byte pieces were written by one write call, want at least %d",
					whole, pieces, publishChunk, pieces-split)
			}
			if build == "in-memory" {
				for i, e := range fs.extents[:len(fs.extents)-1] {
					if e.n != publishChunk {
						t.Errorf("write %d of %d wrote %d bytes at %d, want %d", i+1, len(fs.extents), e.n, e.off, publishChunk)
					}
				}
			}
		})
	}
}

// publishSorted builds the index of keys, which are in ascending order, as
// a SortedWriter does without Expect — a streamer writing the key data to
// a temporary file — and publishes it to path through fs.
func publishSorted(t *testing.T, opts Options, keys []string, fs *recordingFS, path string) {
	t.Helper()
	set, err := opts.resolve()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := newScratch(opts.TempDir)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.remove()
	s, err := newStreamer(context.Background(), set, dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for _, k := range keys {
		if err := s.add([]byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	err = publishFile(context.Background(), fs, path, func(f tempFile) error {
		_, err := s.finish(f.(outputFile))
		return err
	}, func() {})
	if err != nil {
		t.Fatal(err)
	}
}
