//go:build unix

package reader_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stru-index/stru/reader"
	"golang.org/x/sys/unix"
)

// TestOpenFIFO checks that Open refuses a named pipe, as any path that is
// not a regular file, rather than wait in open(2) for a writer that never
// comes (idxquery FIFO used to hang for ever).
func TestOpenFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo.stru")
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() {
		r, err := reader.Open(path)
		if err == nil {
			r.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Open of a FIFO: %v, want an error saying it is not a regular file", err)
		}
	case <-time.After(time.Minute): // a hang detector only
		t.Fatal("Open of a FIFO has not returned after a minute: it waits for a writer")
	}
}
