//go:build !unix

package reader

// populate does nothing where the reader reads the file into memory at
// Open (mmap_other.go): it is all there already.
func populate(data []byte) error { return nil }
