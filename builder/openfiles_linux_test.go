package builder

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stru-index/stru/internal/childtest"
	"github.com/stru-index/stru/internal/openfiles"
)

// TestSortedWriterClosesFiles checks that a SortedWriter, once closed or
// aborted, holds no file open in the output's directory, where its
// temporary files are: the streamer Expect replaces, and the one Abort or
// a failed Close discards, close their files too.
func TestSortedWriterClosesFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		expect  bool
		keys    []string
		abort   bool
		wantErr bool
	}{
		{name: "closed", keys: []string{"a", "b", "c"}},
		{name: "expected, closed", expect: true, keys: []string{"a", "b", "c"}},
		{name: "aborted", keys: []string{"a", "b"}, abort: true},
		{name: "expected, aborted", expect: true, keys: []string{"a", "b"}, abort: true},
		{name: "out of order", keys: []string{"b", "a"}, wantErr: true},
		{name: "expected, out of order", expect: true, keys: []string{"b", "a"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := NewSortedWriter(context.Background(), filepath.Join(dir, "out.stru"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.expect {
				if err := w.Expect(3, 3, 1); err != nil {
					t.Fatal(err)
				}
			}
			if n := openfiles.In(dir); n < 1 {
				t.Fatalf("openfiles.In = %d with the writer's temporary files open, want at least 1", n)
			}
			var addErr error
			for _, k := range tc.keys {
				if err := w.AddString(k); err != nil {
					addErr = err
				}
			}
			if tc.abort {
				err = w.Abort()
			} else {
				err = w.Close()
			}
			var orderErr *OrderError
			switch {
			case tc.wantErr && !errors.As(addErr, &orderErr):
				t.Errorf("Add: %v, want an *OrderError", addErr)
			case tc.wantErr && err == nil:
				t.Error("Close succeeded after an Add out of order")
			case !tc.wantErr && (err != nil || addErr != nil):
				t.Errorf("Add: %v; Close or Abort: %v", addErr, err)
			}
			if n := openfiles.In(dir); n != 0 {
				t.Errorf("%d files in the output's directory still open", n)
			}
		})
	}
}

// TestNewSortedWriterOutOfDescriptors makes NewSortedWriter fail to create
// its second temporary file, the key lengths, for want of a descriptor
// (EMFILE), after it has created the first, the key data: it must close
// the first, so as to hold no file open in its temporary directory, and
// leave nothing beside the output. (Its temporary directory may stay: with
// no descriptor to spare, os.RemoveAll cannot open it to empty it.) It
// runs in a child process, as the descriptor limit is the whole process's.
func TestNewSortedWriterOutOfDescriptors(t *testing.T) {
	if !childtest.InChild(t) {
		return
	}
	tmp, outDir := t.TempDir(), t.TempDir()
	path := filepath.Join(outDir, "out.stru")

	// Leave one descriptor free: enough for CheckDestination's probe,
	// closed at once, and for the key data file, but not for the lengths
	// file.
	restore := openfiles.Exhaust(t, 1)
	_, err := NewSortedWriter(context.Background(), path, Options{TempDir: tmp})
	restore()
	if !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("NewSortedWriter with one descriptor left: %v, want EMFILE", err)
	}
	if n := openfiles.In(tmp); n != 0 {
		t.Errorf("%d files in the temporary directory still open", n)
	}
	if names := dirEntries(t, outDir); len(names) != 0 {
		t.Errorf("the output's directory holds %q", names)
	}
}
