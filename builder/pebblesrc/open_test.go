package pebblesrc

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stru-index/stru/builder"
)

// holdEnv names the environment variable that makes the test binary, run
// again as a child process, hold a database open (TestHoldOpen).
const holdEnv = "STRU_PEBBLESRC_HOLD_OPEN"

// TestHoldOpen is not a test: in a child process started by holdOpen, it
// opens the database named by holdEnv read-write, prints "open", and
// keeps it open until its standard input closes.
func TestHoldOpen(t *testing.T) {
	dir := os.Getenv(holdEnv)
	if dir == "" {
		return // run as a test: nothing to do
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: errorsOnlyLogger{}})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("open")
	io.Copy(io.Discard, os.Stdin)
	if err := db.Close(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// holdOpen starts a child process that opens the database in dir
// read-write, waits until it has, and returns the function that makes it
// close the database and exit.
func holdOpen(t *testing.T, dir string) (release func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldOpen$")
	cmd.Env = append(os.Environ(), holdEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.ENOEXEC) {
			// No system refuses to run the binary that is running, but an
			// emulator can: qemu's user mode runs a foreign test binary
			// (go test -exec qemu-s390x) and does not follow its execve,
			// which the kernel then refuses unless binfmt_misc sends
			// such binaries to qemu.
			t.Skipf("the test binary cannot start itself as a second process (emulated, without binfmt_misc?): %v", err)
		}
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l != "open\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child holding %s open: %q", dir, l)
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child holding %s open: no answer", dir)
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("child holding %s open: %v", dir, err)
		}
	}
	t.Cleanup(release)
	return release
}

// writeDB creates a database in dir holding keys, closes it without
// flushing (so that the last keys are only in its write-ahead log), and
// returns the keys.
func writeDB(t *testing.T, dir string, n int) model {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: errorsOnlyLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	keys := model{}
	for i := range n {
		k := fmt.Sprintf("key%05d", i)
		if err := db.Set([]byte(k), nil, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		keys[k] = true
		if i == n/2 {
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// checkDBKeys opens the database in dir read-only, with opts, and checks
// that it holds exactly want.
func checkDBKeys(t *testing.T, dir string, opts *pebble.Options, want model) {
	t.Helper()
	db, err := OpenReadOnly(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := model{}
	for k, err := range Keys(db, Options{}) {
		if err != nil {
			t.Fatal(err)
		}
		got[string(k)] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s holds %d keys, want %d", dir, len(got), len(want))
	}
}

// TestOpenReadOnlyInUse opens a database that another process has open:
// a one-line error wrapping ErrInUse, and the database is whole after.
func TestOpenReadOnlyInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	keys := writeDB(t, dir, 1000)
	release := holdOpen(t, dir)
	db, err := OpenReadOnly(dir, nil)
	if err == nil {
		db.Close()
		t.Fatal("OpenReadOnly of a database open in another process succeeded")
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("OpenReadOnly: %v, want an error wrapping ErrInUse", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, dir) {
		t.Errorf("OpenReadOnly: error %q is not one line naming %s", msg, dir)
	}
	t.Log(err)
	release()
	checkDBKeys(t, dir, nil, keys)
}

// TestOpenReadOnlyErrors opens directories that hold no database: each
// fails, and none gets a file it did not have.
func TestOpenReadOnlyErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	other := filepath.Join(dir, "other")
	file := filepath.Join(dir, "file")
	for _, d := range []string{empty, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{file, filepath.Join(other, "LOCK"), filepath.Join(other, "data")} {
		if err := os.WriteFile(f, []byte("not pebble"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, dir string
		is        error // wrapped by the error, if not nil
		want      string
	}{
		{"missing", filepath.Join(dir, "missing"), os.ErrNotExist, "no such file"},
		{"empty directory", empty, ErrNotDatabase, ErrNotDatabase.Error()},
		{"directory of other files", other, ErrNotDatabase, ErrNotDatabase.Error()},
		{"file", file, nil, file},
	}
	before := tree(t, dir)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := OpenReadOnly(tc.dir, nil)
			if err == nil {
				db.Close()
				t.Fatal("OpenReadOnly succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("OpenReadOnly: %v, want an error wrapping %v", err, tc.is)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, tc.dir) || strings.Contains(msg, "\n") {
				t.Errorf("OpenReadOnly: %q, want one line naming %s and containing %q", msg, tc.dir, tc.want)
			}
		})
	}
	if after := tree(t, dir); !maps.Equal(before, after) {
		t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
	}
}

// tree returns the SHA-256 of every file under dir, by path, and "dir"
// for each directory.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			files[path] = "dir"
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[path] = fmt.Sprintf("%x", sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestOpenReadOnlyChangesNothing builds from a closed database whose last
// writes are only in its write-ahead log: every file stays as it was, and
// the index holds every key.
func TestOpenReadOnlyChangesNothing(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "db")
	keys := writeDB(t, dir, 5000)
	before := tree(t, dir)
	db, err := OpenReadOnly(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "keys.stru")
	stats, err := Build(context.Background(), db, out, Options{}, builder.Options{HashKey: &testHashKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if after := tree(t, dir); !maps.Equal(before, after) {
		t.Errorf("files of %s changed:\nbefore %v\nafter  %v", dir, slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}
	if stats.Keys != uint64(len(keys)) {
		t.Errorf("built %d keys, want %d", stats.Keys, len(keys))
	}
	checkIndex(t, out, keys, map[string]bool{"key": true, "key5000": true}, Options{})
}

// TestOpenReadOnlyOptions checks that OpenReadOnly opens with the options
// it is given, here a database in memory, which only their FS reaches,
// and a Logger, which gets Pebble's messages of replaying the database's
// write-ahead log; and that it leaves them as they were.
func TestOpenReadOnlyOptions(t *testing.T) {
	mem, want := memDBWithLog(t)
	var logged atomic.Int64
	logger := countingLogger{&logged}
	opts := &pebble.Options{FS: mem, Logger: logger}
	checkDBKeys(t, "db", opts, want)
	if logged.Load() == 0 {
		t.Error("the Logger given got no message")
	}
	if opts.ReadOnly || opts.Logger != logger || opts.EventListener != nil {
		t.Errorf("OpenReadOnly changed the options it was given: ReadOnly %v, Logger %v, EventListener %v", opts.ReadOnly, opts.Logger, opts.EventListener)
	}
}

// TestOpenReadOnlyQuiet checks that OpenReadOnly without a Logger drops
// Pebble's informational messages, which replaying a write-ahead log
// gives, and that its Logger passes errors on to Pebble's default logger.
// Pebble's default logger writes to the standard library's log, which the
// test redirects, so it does not run in parallel.
func TestOpenReadOnlyQuiet(t *testing.T) {
	mem, want := memDBWithLog(t)
	var logged strings.Builder
	log.SetOutput(&logged)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })

	checkDBKeys(t, "db", &pebble.Options{FS: mem}, want)
	if logged.Len() != 0 {
		t.Errorf("opening without a Logger wrote to the log:\n%s", logged.String())
	}
	// What the test relies on: a Logger given gets messages (above), and
	// the default logger writes them to the log.
	pebble.DefaultLogger.Infof("info")
	if logged.String() == "" {
		t.Fatal("Pebble's default logger does not write to the standard library's log")
	}
	logged.Reset()
	errorsOnlyLogger{}.Infof("info")
	errorsOnlyLogger{}.Errorf("error %d", 7)
	if got := logged.String(); !strings.HasSuffix(got, "error 7\n") || strings.Contains(got, "info") {
		t.Errorf("errorsOnlyLogger wrote %q to the log, want the error only", got)
	}
}

// memDBWithLog returns an in-memory FS holding the database "db", whose
// 100 keys are only in its write-ahead log, so that opening it replays
// the log, and its keys.
func memDBWithLog(t *testing.T) (vfs.FS, model) {
	t.Helper()
	mem := vfs.NewMem()
	rw, err := pebble.Open("db", &pebble.Options{FS: mem, Logger: errorsOnlyLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	want := model{}
	for i := range 100 {
		k := fmt.Sprintf("key%03d", i)
		if err := rw.Set([]byte(k), nil, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		want[k] = true
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	return mem, want
}

// A countingLogger counts the messages Pebble gives it.
type countingLogger struct{ n *atomic.Int64 }

func (l countingLogger) Infof(format string, args ...any)  { l.n.Add(1) }
func (l countingLogger) Errorf(format string, args ...any) { l.n.Add(1) }
func (l countingLogger) Fatalf(format string, args ...any) { l.n.Add(1) }
