//go:build unix

package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stru-index/stru/internal/childtest"
	"golang.org/x/sys/unix"
)

// TestWriteFileOverFIFO gives WriteFile and NewSortedWriter a named pipe,
// as /dev/null would be: a file that is not a regular file, which the
// final rename would replace with the index. Both refuse it before any
// work, and it stays a named pipe.
func TestWriteFileOverFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	b := mustNew(t, Options{})
	b.AddString("k")
	const want = "it is not a regular file"
	if err := b.WriteFile(fifo); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("WriteFile: %v; want an error saying %q", err, want)
	}
	if _, err := NewSortedWriter(context.Background(), fifo, Options{TempDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("NewSortedWriter: %v; want an error saying %q", err, want)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the named pipe is now %v (%v)", fi.Mode(), err)
	}
}

// TestWriteFileMode checks that WriteFile and SortedWriter give the file
// mode 0666 less the umask, as the shell's ">" would, whatever the mode of
// the file they replace.
func TestWriteFileMode(t *testing.T) {
	defer unix.Umask(unix.Umask(0o022))
	dir := t.TempDir()
	for _, umask := range []int{0o022, 0o077, 0o002, 0} {
		unix.Umask(umask)
		want := os.FileMode(0o666 &^ umask)
		for _, sorted := range []bool{false, true} {
			path := filepath.Join(dir, fmt.Sprintf("%o-%v.stru", umask, sorted))
			if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o600); err != nil { // whatever the umask
				t.Fatal(err)
			}
			var err error
			if sorted {
				_, err = WriteSorted(context.Background(), path, seq2([][]byte{[]byte("a")}), Options{})
			} else {
				b := mustNew(t, Options{})
				b.AddString("k")
				err = b.WriteFile(path)
			}
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Errorf("umask %03o, sorted %v: mode %v (%v), want %v", umask, sorted, fi.Mode(), err, want)
			}
		}
	}
}

// TestWriteFileOverSymlink writes over a symbolic link: the link is
// replaced by the new file, and the file it pointed to is left alone, as
// WriteFileContext says (the rename replaces the link, not its target).
func TestWriteFileOverSymlink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target"), filepath.Join(dir, "link.stru")
	if err := errors.Join(os.WriteFile(target, []byte("old"), 0o644), os.Symlink("target", link)); err != nil {
		t.Fatal(err)
	}
	b := mustNew(t, Options{})
	b.AddString("k")
	if err := b.WriteFile(link); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("link.stru is %v (%v), want a regular file", fi.Mode(), err)
	}
	if data, err := os.ReadFile(target); err != nil || string(data) != "old" {
		t.Errorf("the link's target now holds %q (%v)", data, err)
	}
}

// TestCreateTempName checks the temporary file's name: the pattern's last
// "*" becomes digits, as with os.CreateTemp, so that an output whose name
// holds a "*" (possible on unix) still gets ".BASE.tmp-" and digits;
// with no "*" the digits go at the end, and a "*" may be the first byte.
func TestCreateTempName(t *testing.T) {
	dir := t.TempDir()
	for pattern, re := range map[string]string{
		".set.stru.tmp-*": `^\.set\.stru\.tmp-[0-9]+$`,
		".a*b.stru.tmp-*": `^\.a\*b\.stru\.tmp-[0-9]+$`,
		"no-star":         `^no-star[0-9]+$`,
		"*.tmp":           `^[0-9]+\.tmp$`,
	} {
		f, err := createTemp(dir, pattern)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if name := filepath.Base(f.Name()); !regexp.MustCompile(re).MatchString(name) {
			t.Errorf("pattern %q gave %q, want a name matching %s", pattern, name, re)
		}
	}
}

// TestSyncDir checks osFS.SyncDir's errors: none for a directory, the
// open's for a missing one, and the fsync's for a file that takes none,
// /dev/null on Linux (EINVAL), not the close's success after it.
func TestSyncDir(t *testing.T) {
	if err := (osFS{}).SyncDir(t.TempDir()); err != nil {
		t.Fatalf("SyncDir of a directory: %v", err)
	}
	if err := (osFS{}).SyncDir(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SyncDir of a missing directory: %v, want an error wrapping os.ErrNotExist", err)
	}
	if runtime.GOOS == "linux" {
		if err := (osFS{}).SyncDir(os.DevNull); !errors.Is(err, unix.EINVAL) {
			t.Fatalf("SyncDir(%s): %v, want fsync's EINVAL", os.DevNull, err)
		}
	}
}

// TestSortedExpectBeyondFileLimit gives SortedWriter.Expect counts whose
// keys section starts beyond the process's file size limit (RLIMIT_FSIZE,
// lowered to 1 GiB for the test), as counts too large for the file system
// (ext4's 16 TiB) would: Expect's counts need not be right, so the build
// must still write the index of the keys added, in the same bytes.
func TestSortedExpectBeyondFileLimit(t *testing.T) {
	defer lowerFileSizeLimit(t, 1<<30)()

	keys := [][]byte{[]byte(""), []byte("a"), []byte("b")}
	opts := Options{HashKey: &testKey}
	want, _ := inMemory(t, keys, opts)
	tmp, outDir := t.TempDir(), t.TempDir()
	opts.TempDir = tmp
	path := filepath.Join(outDir, "x.stru")
	w, err := NewSortedWriter(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	// 2^28 keys: a table of 2^28 / 6.4 buckets, 2.7 GB, before the keys.
	if err := w.Expect(1<<28, 1<<28, 1); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := w.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkSameFile(t, got, want, "SortedWriter after Expect")
	checkEmpty(t, tmp, "after Close")
}

// TestSpillRunBeyondFileLimit spills runs of keys while the process's file
// size limit (RLIMIT_FSIZE, lowered to 16 KiB for the test) is below the
// size of a run, which stays in its write buffer until the run is
// finished: the error of that last write, EFBIG, must reach the caller,
// rather than a run cut short that the merge would find damaged.
//
// It runs in a child process started without go test's log of the files
// a test opens (-test.testlogfile): that log is written in 4 KiB pieces,
// and one written while the limit is low would fail the run.
func TestSpillRunBeyondFileLimit(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	defer lowerFileSizeLimit(t, 16<<10)()
	b := mustNew(t, Options{HashKey: &testKey, MemoryBudget: 256 << 10, TempDir: t.TempDir()})
	defer b.Close()
	var err error
	for i := 0; i < 20000 && err == nil; i++ {
		err = b.Add(fmt.Appendf(nil, "key %028d", i))
	}
	if err == nil {
		_, err = b.WriteTo(io.Discard)
	}
	if !errors.Is(err, unix.EFBIG) {
		t.Fatalf("spilling runs beyond the file size limit: %v, want an error wrapping EFBIG", err)
	}
}

// lowerFileSizeLimit sets the process's file size limit (RLIMIT_FSIZE) to
// limit, and returns the function that restores the limit it had, for the
// test to defer. A write past the limit fails with EFBIG (the signal
// SIGXFSZ, which would end the process, is ignored by Go programs). The
// limit must be restored when the test returns, not in a t.Cleanup: the
// testing package's own log of the test (go test's -test.testlogfile),
// written when the test and its cleanups end, may be over the limit. It
// skips the test if the limit is already lower.
func lowerFileSizeLimit(t *testing.T, limit uint64) (restore func()) {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur != unix.RLIM_INFINITY && uint64(lim.Cur) < limit {
		t.Skipf("file size limit %d is below %d", lim.Cur, limit)
	}
	low := lim
	setLimit(&low.Cur, limit)
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &low); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
			t.Error(err)
		}
	}
}

// setLimit sets a field of unix.Rlimit, which is an int64 on FreeBSD and a
// uint64 elsewhere.
func setLimit[T int64 | uint64](field *T, v uint64) { *field = T(v) }

// TestDefaultTempDir checks where a build without Options.TempDir makes
// its temporary directory: beside the output for WriteFile and
// SortedWriter, and in the system's temporary directory ($TMPDIR, here a
// directory of the test's) for WriteTo and for the runs a Builder spills
// while keys are added, before it knows where it will write. A Builder's
// runs stay there until Close, a SortedWriter's directory until Close.
func TestDefaultTempDir(t *testing.T) {
	root := t.TempDir() // t.TempDir makes its directories in $TMPDIR
	sys := filepath.Join(root, "tmp")
	if err := os.Mkdir(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", sys)
	newOutDir := func(t *testing.T) string {
		d, err := os.MkdirTemp(root, "out-")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	keys := make([][]byte, 20000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key %06d", i)
	}
	// At the lowest load factor the table of these keys takes more than
	// the budget left once they are held: written through a run, not
	// spilled while added.
	opts := Options{HashKey: &testKey, LoadFactor: MinLoadFactor, MemoryBudget: 2 << 20}
	want, _ := inMemory(t, keys, opts)
	isTemp := func(names []string) bool { return len(names) == 1 && strings.HasPrefix(names[0], ".stru-tmp-") }
	for _, c := range []struct {
		name   string
		budget int64
		write  func(b *Builder, path string) ([]byte, error)
		inOut  bool // the directory is beside the output
	}{
		{"WriteFile", opts.MemoryBudget, func(b *Builder, path string) ([]byte, error) {
			if err := b.WriteFile(path); err != nil {
				return nil, err
			}
			return os.ReadFile(path)
		}, true},
		{"WriteTo", opts.MemoryBudget, func(b *Builder, _ string) ([]byte, error) {
			var buf bytes.Buffer
			_, err := b.WriteTo(&buf)
			return buf.Bytes(), err
		}, false},
		{"WriteFile after spilling while adding", smallBudget, func(b *Builder, path string) ([]byte, error) {
			if b.spill == nil || !isTemp(dirEntries(t, sys)) {
				return nil, fmt.Errorf("no runs spilled in $TMPDIR while keys were added; it holds %q", dirEntries(t, sys))
			}
			if err := b.WriteFile(path); err != nil {
				return nil, err
			}
			return os.ReadFile(path)
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			outDir := newOutDir(t)
			path := filepath.Join(outDir, "set.stru")
			o := opts
			o.MemoryBudget = c.budget
			b := mustNew(t, o)
			for _, k := range keys {
				if err := b.Add(k); err != nil {
					t.Fatal(err)
				}
			}
			if c.budget == opts.MemoryBudget && b.spill != nil {
				t.Fatal("the keys were spilled while added")
			}
			got, err := c.write(b, path)
			if err != nil {
				t.Fatal(err)
			}
			checkSameFile(t, got, want, c.name)
			if b.Stats().Runs == 0 {
				t.Fatal("the build wrote no run")
			}
			inOut, inSys := dirEntries(t, outDir), dirEntries(t, sys)
			if c.name != "WriteTo" {
				inOut = slices.DeleteFunc(inOut, func(n string) bool { return n == "set.stru" })
			}
			if c.inOut && (!isTemp(inOut) || len(inSys) != 0) || !c.inOut && (len(inOut) != 0 || !isTemp(inSys)) {
				t.Fatalf("beside the output: %q; in $TMPDIR: %q; want the runs' directory in %s", inOut, inSys, map[bool]string{true: "the output's", false: "$TMPDIR"}[c.inOut])
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			checkEmpty(t, sys, "$TMPDIR after Close")
			if names := dirEntries(t, outDir); len(names) > 1 {
				t.Fatalf("after Close, beside the output: %q", names)
			}
		})
	}
	t.Run("SortedWriter", func(t *testing.T) {
		outDir := newOutDir(t)
		w, err := NewSortedWriter(context.Background(), filepath.Join(outDir, "set.stru"), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		if inOut, inSys := dirEntries(t, outDir), dirEntries(t, sys); !isTemp(inOut) || len(inSys) != 0 {
			t.Fatalf("beside the output: %q; in $TMPDIR: %q; want the temporary directory beside the output", inOut, inSys)
		}
	})
}
