// Package reader answers membership queries from a STRU index file
// (format.md) by mapping it into memory: Open reads only the 128-byte
// header, and each membership lookup hashes the key and reads the
// filter's 64-byte block for it (in a file with a filter, format.md §3.1:
// most absent keys stop there), then at most two 64-byte buckets and the
// key's bytes, straight from the mapping, without allocating (a key of
// 255 bytes or more, whose length its slot does not hold, also searches
// the offset table for its ordinal); Lookup then finds
// the key's ordinal by searching the offset table, interpolating in tables
// of more than 4096 keys.
//
// A Reader is safe for concurrent use by any number of goroutines,
// including Close: a lookup that overlaps Close answers from the file or
// returns false, and every lookup that starts after Close returns false.
//
// Nothing in the file can make a Reader panic or read outside the mapping:
// Open validates the header, and every offset and length read from the
// sections is checked before use, so damaged sections give wrong answers
// (which Verify reports) rather than crashes. The file must not be
// modified in place while mapped: replace it by renaming a new file over
// it, as builder.WriteFile and idxbuild do.
package reader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/stru-index/stru/index"
)

// A Reader answers queries from one STRU file.
type Reader struct {
	view   index.View
	closed atomic.Bool
	m      *mapping // nil for FromBytes and empty files; see below on when it is unmapped
	file   string
}

// A Reader's mapping is unmapped once the Reader is garbage collected,
// when it was closed (releaseWhenCollected) or replaced by a Handle. A
// lookup reads the mapping through slices of r.view, which do not keep
// the Reader alive, and the compiler lets a variable die at its last use:
// so that the Reader cannot be collected, and the mapping unmapped, while
// a method still reads it (say, in a Handle lookup whose Reader the
// Handle has just replaced), every method that reads the mapping calls
// runtime.KeepAlive(r) after its last read, as package os does for the
// descriptor of an *os.File.

// Open maps the file at path and checks its header in O(1): the magic
// (index.ErrNotIndex), the version and flags (index.ErrVersion), the header
// checksum and that the sections fit the file exactly (index.ErrCorrupt).
// It reads the header with a read call and does not touch the mapping, so
// its cost does not depend on the file's size; it does not read the
// sections: lookups read what they need, and Verify reads everything.
// A path that is not a regular file (a directory, a device, a named pipe)
// is an error; Open does not wait for a named pipe's writer. A file
// larger than the address space can hold (over 2 GiB where int has 32
// bits) is an error wrapping errors.ErrUnsupported.
func Open(path string) (*Reader, error) {
	f, fi, err := openPath(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the mapping outlives the descriptor
	return openFile(f, fi, path)
}

// openPath opens path for reading and returns the file and its FileInfo.
// openFlags keeps open(2) of a named pipe from waiting for a writer, for
// ever if none comes, so that openFile refuses it as any file that is not
// regular.
func openPath(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// openFile returns a Reader of the index in f, opened from path, whose
// FileInfo is fi. It does not close f: the mapping outlives it.
func openFile(f *os.File, fi fs.FileInfo, path string) (*Reader, error) {
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	// The header is read, not taken from the mapping: the first read of
	// a mapped page is a page fault, which costs more the larger the file
	// (2.3 µs for a page of a 448-byte file and 11 µs for the first page
	// of a 5 GB one, on Linux 6.18), and lookups never read the header's
	// page again: the View keeps what they need.
	var header [index.HeaderSize]byte
	n, err := f.ReadAt(header[:], 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	h, err := index.ParseHeader(header[:n], path)
	if err != nil {
		return nil, err
	}
	// The header is checked against the file's size before the file is
	// mapped (NewViewOf checks it again, against the mapping): a file
	// with trailing data is then reported as corrupt even where it could
	// not be mapped (larger than a 32-bit address space) or, on systems
	// that read the file into memory instead (mmap_other.go), before it
	// is read whole.
	if _, err := h.Layout(uint64(fi.Size()), path); err != nil {
		return nil, err
	}
	data, m, err := mapFile(f, fi.Size())
	if err != nil {
		return nil, err
	}
	view, err := index.NewViewOf(data, h, path)
	if err != nil {
		if m != nil {
			m.release()
		}
		return nil, err
	}
	return &Reader{view: view, m: m, file: path}, nil
}

// FromBytes returns a Reader of a STRU file held in data, for example one
// embedded with //go:embed, checking its header as Open does. data must not
// be modified while the Reader is in use.
func FromBytes(data []byte) (*Reader, error) {
	view, err := index.NewView(data, "")
	if err != nil {
		return nil, err
	}
	return &Reader{view: view}, nil
}

// A lookup that overlaps Close may read part of what it uses from the
// file and the rest from the zero pages Close puts in its place, and
// such a mix can give an answer that is neither the file's nor false: a
// slot read from the file, then the key bytes it points at read as zeros,
// matches an absent key of zeros with that slot's tag; offsets read as
// zeros are all the first key's, whose ordinal is then the last one. So
// every lookup loads closed again after its last read of the mapping,
// and answers as after Close if it is set: Close sets it before it
// retires the mapping, so a lookup that read a zero page sees it set.

// Close releases the file. It is idempotent and safe to call while other
// goroutines use the Reader: afterwards lookups return false, Len returns 0
// and slices returned by Key read as zeros — until the Reader is garbage
// collected, which unmaps their addresses: a slice does not keep its
// Reader alive, and reading it after that faults and kills the process.
// Keep the Reader as long as its slices. So that closed Readers cannot
// pile up until the process runs out of addresses or mappings, Close
// starts a collection in the background after every 4096 of them, or 4
// TiB, that wait for one.
func (r *Reader) Close() error {
	if r.closed.Swap(true) || r.m == nil {
		return nil
	}
	err := retire(r.m)
	// If retiring failed, the file stays mapped, so that lookups still
	// running read it rather than fault, until r is collected as after a
	// Close that succeeds.
	releaseWhenCollected(r, r.m)
	return err
}

// retire is (*mapping).retire, which the tests replace to make it fail.
var retire = (*mapping).retire

// Contains reports whether key is in the set.
func (r *Reader) Contains(key []byte) bool {
	if r.closed.Load() {
		return false
	}
	ok := r.view.Has(key) && !r.closed.Load() // see above Close
	runtime.KeepAlive(r)                      // keep the mapping until here (see Reader)
	return ok
}

// ContainsString reports whether key is in the set.
func (r *Reader) ContainsString(key string) bool {
	return r.Contains(unsafe.Slice(unsafe.StringData(key), len(key)))
}

// Lookup returns the ordinal of key: its position among the keys in
// ascending byte order, in [0, Len()), and whether key is present. For an
// absent key it returns 0, false, not where key would sort: PrefixRange
// of key gives that, as its start.
func (r *Reader) Lookup(key []byte) (ordinal int, ok bool) {
	if r.closed.Load() {
		return 0, false
	}
	ord, ok := r.view.Find(key)
	if r.closed.Load() { // see above Close
		return 0, false
	}
	runtime.KeepAlive(r) // keep the mapping until here (see Reader)
	return int(ord), ok
}

// LookupString is Lookup for a string key.
func (r *Reader) LookupString(key string) (ordinal int, ok bool) {
	return r.Lookup(unsafe.Slice(unsafe.StringData(key), len(key)))
}

// Len returns the number of keys, or 0 after Close.
func (r *Reader) Len() int {
	if r.closed.Load() {
		return 0
	}
	return int(r.view.Len())
}

// Key returns the key with ordinal i, or nil if i is outside [0, Len()) or
// its table entries are damaged. The slice points into the mapped file: it
// must not be modified, and is valid only while r is open (see Close) and
// reachable: a slice does not keep r alive, and a Reader nothing refers
// to, such as one a Handle has replaced, is unmapped once collected. Copy
// it to keep it longer.
func (r *Reader) Key(i int) []byte {
	if i < 0 || r.closed.Load() {
		return nil
	}
	k, _ := r.view.Key(uint64(i))
	if r.closed.Load() { // see above Close
		return nil
	}
	runtime.KeepAlive(r) // keep the mapping until here (see Reader)
	return k
}

// All returns the keys in ascending byte order. The slices are valid until
// Close.
func (r *Reader) All() iter.Seq[[]byte] {
	return r.rangeSeq(0, r.Len())
}

// PrefixRange returns the ordinals [start, end) of the keys that begin with
// prefix, found by binary search. start is the number of keys below
// prefix, where prefix would sort, also when no key begins with it.
func (r *Reader) PrefixRange(prefix []byte) (start, end int) {
	if r.closed.Load() {
		return 0, 0
	}
	lo := r.view.Search(prefix)
	hi := lo
	if upper, ok := prefixEnd(prefix); ok {
		hi = r.view.Search(upper)
	} else {
		hi = r.view.Len()
	}
	if r.closed.Load() { // see above Close
		return 0, 0
	}
	runtime.KeepAlive(r) // keep the mapping until here (see Reader)
	return int(lo), int(max(lo, hi))
}

// Prefix returns the keys that begin with prefix, in ascending order.
func (r *Reader) Prefix(prefix []byte) iter.Seq[[]byte] {
	start, end := r.PrefixRange(prefix)
	return func(yield func([]byte) bool) {
		for k := range r.rangeSeq(start, end) {
			if !bytes.HasPrefix(k, prefix) { // only in a damaged file
				continue
			}
			if !yield(k) {
				return
			}
		}
	}
}

// rangeSeq yields the keys with ordinals in [start, end), stopping early
// if the Reader is closed: a key read as Close overlapped (see above
// Close) is not yielded.
func (r *Reader) rangeSeq(start, end int) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for i := start; i < end; i++ {
			k, _ := r.view.Key(uint64(i))
			if r.closed.Load() {
				return
			}
			if !yield(k) {
				return
			}
		}
	}
}

// prefixEnd returns the smallest key greater than every key that begins
// with prefix, and false if there is none (prefix is empty or all 0xff).
func prefixEnd(prefix []byte) ([]byte, bool) {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			end := append([]byte(nil), prefix[:i+1]...)
			end[i]++
			return end, true
		}
	}
	return nil, false
}

// Verify reads the whole file and checks everything Open does not: every
// section's checksum, zero padding, the offset and length tables, that keys
// are strictly ascending, and that every key is reachable through its hash
// slot within the probe bound, and that the filter holds exactly the bits
// of the file's keys; and the header again, in the mapping, which Open
// read with a read call (a file rewritten in place since may hold
// another). It returns nil or an error wrapping index.ErrCorrupt that
// names the section and offset. To check the filter it rebuilds it, 64
// MiB of it at most at a time (one pass over the keys per 64 MiB: one up
// to 89 million keys at the default filter size).
// It first reads the file in order with Preload, which on a file not in
// the page cache takes a fraction of the time of the verification's own
// reads, and returns Preload's error wrapping ErrFault if the file has
// lost whole pages since it was opened; if the file shrinks so while
// Verify reads it, Verify returns an error wrapping ErrFault too, as
// TryContains does, rather than let the memory fault kill the process. (A
// cut within the last page faults nowhere: the mapping reads zeros past
// the new end, which Verify reports as damage unless the bytes cut were
// zeros themselves, such as padding.) After Close, and when it overlaps
// Close and finds anything wrong, it returns an error that wraps
// neither.
func (r *Reader) Verify() error {
	if r.closed.Load() {
		return r.errorf("Verify after Close")
	}
	if err := r.Preload(); errors.Is(err, ErrFault) {
		return err
	}
	err := r.verifyView()
	if err != nil && r.closed.Load() {
		// What failed may have read the zero pages of a Close that
		// overlapped Verify (see above Close), not the file.
		return r.errorf("Verify overlapped Close")
	}
	return err
}

// verifyView is the verification proper, after Preload: the file may still
// shrink under it.
func (r *Reader) verifyView() (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err, "verifying "+r.file)
	defer runtime.KeepAlive(r) // keep the mapping until here (see Reader)
	return r.view.Verify()
}

// errorf returns an error whose message is "stru: FILE: " and the
// formatted text, or "stru: " and the text for a Reader from FromBytes,
// which has no file name.
func (r *Reader) errorf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if r.file != "" {
		msg = r.file + ": " + msg
	}
	return errors.New("stru: " + msg)
}

// Header returns the file's decoded header.
func (r *Reader) Header() index.Header { return r.view.Header }

// Layout returns where each section of the file lies.
func (r *Reader) Layout() index.Layout { return r.view.Layout }

// View returns the index.View the Reader reads through, for tools that
// inspect the file's structure. It must not be used after Close, nor once
// r is unreachable (a Reader a Handle has replaced, say), when its
// mapping may be gone: keep r alive while using it, with
// runtime.KeepAlive(r) after the last use.
func (r *Reader) View() *index.View { return &r.view }
