package index

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error that index, reader or builder returns about
// the contents of a file wraps exactly one of the first three, so callers can
// test with errors.Is. Errors about the file rather than its contents wrap
// none of them: reader.ErrFault (the file changed under its mapping),
// errors.ErrUnsupported (too large for the process's address space) and
// those of the file system.
var (
	// ErrNotIndex means the bytes do not start with the magic "STRU":
	// this is not a STRU file at all.
	ErrNotIndex = errors.New("stru: not a STRU index file")

	// ErrVersion means the file is a STRU file of a version, or with
	// incompatible feature flags, that this code does not read.
	ErrVersion = errors.New("stru: unsupported STRU format version")

	// ErrCorrupt means the file is inconsistent: a checksum mismatch, a
	// truncated or overlong file, or a field out of range.
	ErrCorrupt = errors.New("stru: corrupt STRU index")

	// ErrKeyTooLong is returned when a key is longer than MaxKeyLen bytes.
	ErrKeyTooLong = fmt.Errorf("stru: key longer than %d bytes", MaxKeyLen)
)

// A FormatError describes a problem with a file's contents: which file,
// which part of it, the byte offset, and what was expected. It wraps one of
// ErrNotIndex, ErrVersion or ErrCorrupt.
type FormatError struct {
	File    string // path of the file, or "" for bytes in memory
	Section string // "header", "buckets", "offsets", "lengths", "keys", "filter", or "file" for the file as a whole
	Off     int64  // byte offset in the file the problem was found at, or -1
	Msg     string // what was wrong, naming the field
	Err     error  // the sentinel: ErrNotIndex, ErrVersion or ErrCorrupt
}

func (e *FormatError) Error() string {
	s := "stru: "
	if e.File != "" {
		s += e.File + ": "
	}
	s += e.Section
	if e.Off >= 0 {
		s += fmt.Sprintf(" at offset %#x", e.Off)
	}
	return s + ": " + e.Msg
}

// Unwrap returns the sentinel error the FormatError wraps.
func (e *FormatError) Unwrap() error { return e.Err }

// corrupt returns a *FormatError wrapping ErrCorrupt.
func corrupt(file string, sec Section, off uint64, format string, args ...any) error {
	return &FormatError{File: file, Section: sec.String(), Off: int64(off), Msg: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}
