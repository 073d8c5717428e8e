package builder

import (
	"bytes"
	"errors"
	"testing"
)

// failingOnce is an io.WriterAt whose write number failAt fails with
// errFailed; the others succeed and are recorded.
type failingOnce struct {
	failAt int
	writes int
}

var errFailed = errors.New("write failed on purpose")

func (f *failingOnce) WriteAt(p []byte, off int64) (int, error) {
	f.writes++
	if f.writes == f.failAt {
		return 0, errFailed
	}
	return len(p), nil
}

// TestSectionWriterErrorSticks checks that a sectionWriter's first failed
// write is the error flush returns, however many writes follow, and that
// it writes nothing after it: a later write that succeeded must not hide
// the hole the failed one left.
func TestSectionWriterErrorSticks(t *testing.T) {
	chunk := bytes.Repeat([]byte{0xab}, publishChunk)
	for failAt := 1; failAt <= 3; failAt++ {
		out := &failingOnce{failAt: failAt}
		w := newSectionWriter(out, 0, 0)
		for range 4 { // each fills buf to a multiple of publishChunk: a write each
			w.write(chunk)
		}
		w.write([]byte("tail"))
		if _, err := w.flush(); !errors.Is(err, errFailed) {
			t.Errorf("failing write %d: flush returned %v, want %v", failAt, err, errFailed)
		}
		if out.writes != failAt {
			t.Errorf("failing write %d: %d writes reached the file, want none after the failed one", failAt, out.writes)
		}
	}
}
