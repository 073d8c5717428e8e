//go:build unix

package builder

import (
	"context"
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
