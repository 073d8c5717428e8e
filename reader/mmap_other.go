//go:build !unix

package reader

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// openFlags are added to O_RDONLY when Open opens a file: none here.
const openFlags = 0

// A mapping stands for a memory mapping on systems where the reader reads
// the file into memory instead; the garbage collector frees it.
type mapping struct{}

// mapFile reads the first size bytes of f into memory.
func mapFile(f *os.File, size int64) ([]byte, *mapping, error) {
	if size < 0 || size != int64(int(size)) {
		return nil, nil, fmt.Errorf("stru: %s: file of %d bytes is too large to read in this process's address space: %w", f.Name(), size, errors.ErrUnsupported)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, fmt.Errorf("stru: reading %s: %w", f.Name(), err)
	}
	return data, nil, nil
}

func (m *mapping) retire() error  { return nil }
func (m *mapping) release() error { return nil }

// releaseWhenCollected does nothing: Open leaves no mapping to release
// here, and Close calls it only for a mapping.
func releaseWhenCollected(*Reader, *mapping) {}

// collectReplaced does nothing: a replaced Reader here holds memory the
// collector sees.
func collectReplaced(*Reader) {}
