//go:build unix

package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteFileOverFIFO gives WriteFile and NewSortedWriter a named pipe,
// as /dev/null would be: a file that is not a regular file, which the
// final rename would replace with the index. Both refuse it before any
// work, and it stays a named pipe.
func TestWriteFileOverFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
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
	defer syscall.Umask(syscall.Umask(0o022))
	dir := t.TempDir()
	for _, umask := range []int{0o022, 0o077, 0o002, 0} {
		syscall.Umask(umask)
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
