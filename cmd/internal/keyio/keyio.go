// Package keyio reads keys for the command-line tools: one key per record,
// records separated by a newline or, in NUL mode, by a NUL byte.
//
// The rules, which idxbuild and idxquery document in their usage text:
//   - In newline mode a single trailing "\r" is removed from each record, so
//     files with CRLF line endings give the same keys as LF files; a "\r"
//     anywhere else in a record is part of the key.
//   - In NUL mode nothing is removed: every byte between two NULs is the key.
//   - The last record need not be terminated.
//   - An empty record (an empty line, or two NULs in a row) is the empty key.
//   - A record longer than index.MaxKeyLen bytes (after removing "\r") is an
//     error naming the input and the record's number: "words.txt:12: ...".
package keyio

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/stru-index/stru/index"
)

// BufferSize is the size of a Scanner's read buffer. It holds the longest
// key plus its "\r" and delimiter with room to spare, so every valid record
// comes back from one bufio.Reader.ReadSlice call without copying.
const BufferSize = 1 << 20

// A Scanner splits an input into keys. Its use mirrors bufio.Scanner:
//
//	for sc.Scan() {
//		use(sc.Bytes())
//	}
//	if err := sc.Err(); err != nil { ... }
type Scanner struct {
	r     *bufio.Reader
	name  string // the input's name in errors, "<stdin>" for standard input
	delim byte   // '\n' or 0
	line  int64  // number of the record last returned, from 1
	key   []byte
	cr    bool // a "\r" was removed from key
	err   error
}

// NewScanner returns a Scanner reading keys from r, which is named name in
// errors. With nul set records end at NUL bytes, otherwise at newlines.
func NewScanner(r io.Reader, name string, nul bool) *Scanner {
	s := &Scanner{r: bufio.NewReaderSize(r, BufferSize), name: name, delim: '\n'}
	if nul {
		s.delim = 0
	}
	return s
}

// Scan advances to the next key, which Bytes then returns. It returns false
// at the end of the input or on an error, which Err then returns.
func (s *Scanner) Scan() bool {
	if s.err != nil {
		return false
	}
	rec, err := s.r.ReadSlice(s.delim)
	switch {
	case err == nil:
		rec = rec[:len(rec)-1]
	case err == io.EOF && len(rec) > 0: // an unterminated last record
	case err == io.EOF:
		s.key = nil
		return false
	case errors.Is(err, bufio.ErrBufferFull):
		// No delimiter in a full buffer: the key is at least as long as
		// the buffer, less the "\r" that the newline after it would
		// remove.
		s.line++
		n := len(rec)
		if s.delim == '\n' && rec[n-1] == '\r' {
			n--
		}
		s.err = s.tooLong(fmt.Sprintf("at least %d", n))
		return false
	default:
		s.err = fmt.Errorf("reading %s: %w", s.name, err)
		return false
	}
	s.line++
	s.cr = s.delim == '\n' && len(rec) > 0 && rec[len(rec)-1] == '\r'
	if s.cr {
		rec = rec[:len(rec)-1]
	}
	if len(rec) > index.MaxKeyLen {
		s.err = s.tooLong(fmt.Sprint(len(rec)))
		return false
	}
	s.key = rec
	return true
}

func (s *Scanner) tooLong(size string) error {
	return fmt.Errorf("%s:%d: key is %s bytes long, more than the maximum of %d",
		s.name, s.line, size, index.MaxKeyLen)
}

// Bytes returns the key found by the last call to Scan. The slice is valid
// only until the next call to Scan.
func (s *Scanner) Bytes() []byte { return s.key }

// RemovedCR reports whether Scan removed a "\r" from the end of the
// record Bytes returns: whether its line ended in "\r\n", or in "\r" at
// the end of an input whose last line has no newline.
func (s *Scanner) RemovedCR() bool { return s.cr }

// Line returns the number of the record Bytes returns, counting from 1: its
// line number in newline mode, its record number in NUL mode.
func (s *Scanner) Line() int64 { return s.line }

// Err returns the error that stopped Scan, or nil at the end of the input.
func (s *Scanner) Err() error { return s.err }
