// Package pebblesrc builds STRU index files from the keys of a Pebble
// database (github.com/cockroachdb/pebble/v2).
//
// It is a package of its own so that programs using package builder alone
// do not compile Pebble.
//
// The source is any pebble.Reader: a *pebble.DB, a *pebble.Snapshot, or a
// database opened read-only from a checkpoint directory (OpenReadOnly).
// Values are ignored: the index holds the set of keys. Keys reads exactly
// the keys visible to the reader: building from a Snapshot gives the set as
// of the moment the snapshot was taken, whatever is written, deleted or
// range-deleted afterwards; a key set several times appears once; a deleted
// key does not appear. Range keys (RangeKeySet) are not point keys and are
// not read.
//
// Keys come out of Pebble in ascending order, which Build uses to stream
// the key data to disk (builder.WriteSorted) instead of holding and
// sorting it. That order is byte order only for a database that uses
// Pebble's default comparer (pebble.DefaultComparer, the one used when
// Options.Comparer is nil); Keys returns an error at the first key that is
// not above the one before it.
//
// # Indexing a database that a running process has open
//
// Pebble lets one process at a time open a database directory, read-only
// opens included: it locks the directory's LOCK file. A second process
// that opens it gets an error (OpenReadOnly reports it as ErrInUse) and
// changes nothing but LOCK's modification time. Inside the process that
// has the database open, build from a Snapshot:
//
//	snap := db.NewSnapshot()
//	defer snap.Close()
//	stats, err := pebblesrc.Build(ctx, snap, "keys.stru", pebblesrc.Options{}, builder.Options{})
//
// (building from db itself is consistent too: a Pebble iterator sees the
// database as of its creation; the snapshot names the moment). Or take a
// checkpoint, a consistent copy of the database made of hard links where
// possible,
//
//	err := db.Checkpoint(dir, pebble.WithFlushedWAL())
//
// and build from it in any process, with OpenReadOnly or "idxbuild
// --pebble DIR". WithFlushedWAL makes the checkpoint hold the writes made
// with pebble.NoSync too; without it, the last of those may be missing.
package pebblesrc

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
)

// Options select the keys read from the database. The zero Options read
// every key.
type Options struct {
	// Lower, when not nil, is the inclusive lower bound: only keys >= Lower
	// are read.
	Lower []byte

	// Upper, when not nil, is the exclusive upper bound: only keys < Upper
	// are read. An empty, non-nil Upper reads nothing. A Lower above
	// Upper is an error, which Keys yields and Build returns; a Lower
	// equal to Upper reads nothing.
	Upper []byte

	// Prefix, when not empty, reads only the keys that start with Prefix.
	// It is applied as iterator bounds, so keys outside it are never
	// visited: from Prefix up to Prefix's successor, the smallest key
	// above every key that starts with Prefix. Together with Lower and
	// Upper, the keys read are those inside both ranges. Lower, Upper and
	// Prefix apply to the keys as stored in the database.
	Prefix []byte

	// StripPrefix removes Prefix from the start of every key read, so the
	// index holds the rest of each key: with Prefix "user/", the key
	// "user/alice" is indexed as "alice", and the key "user/" itself as
	// the empty key. Keys stay distinct and ascending.
	StripPrefix bool
}

// bounds returns the iterator bounds for o: nil means unbounded. empty
// reports that no key can lie within both o's bounds and o's prefix.
func (o Options) bounds() (lower, upper []byte, empty bool) {
	lower, upper = o.Lower, o.Upper
	if len(o.Prefix) > 0 {
		if lower == nil || bytes.Compare(o.Prefix, lower) > 0 {
			lower = o.Prefix
		}
		if succ := prefixSuccessor(o.Prefix); succ != nil && (upper == nil || bytes.Compare(succ, upper) < 0) {
			upper = succ
		}
	}
	empty = upper != nil && bytes.Compare(lower, upper) >= 0
	if len(lower) == 0 {
		// The empty key is the smallest: no bound. (Pebble v2.1's
		// iterator, built with -race, indexes an empty lower bound.)
		lower = nil
	}
	return lower, upper, empty
}

// prefixSuccessor returns the smallest key above every key that starts
// with prefix: prefix without its trailing 0xff bytes, with its last byte
// incremented. It returns nil when there is no such key, because prefix
// is empty or all 0xff bytes.
func prefixSuccessor(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			succ := bytes.Clone(prefix[:i+1])
			succ[i]++
			return succ
		}
	}
	return nil
}

// check reports options that contradict each other.
func (o Options) check() error {
	if o.Lower != nil && o.Upper != nil && bytes.Compare(o.Lower, o.Upper) > 0 {
		return fmt.Errorf("pebblesrc: lower bound %q is above upper bound %q", o.Lower, o.Upper)
	}
	return nil
}

// Keys returns the keys of r selected by opts, in ascending order, each
// once. The key slice yielded is valid only until the loop body returns;
// copy it to keep it.
//
// An error ends the sequence: it is yielded once, with a nil key. Errors
// come from the options, from creating or closing the iterator (a damaged
// table, a failed read), from a key that is not above the key before it
// (a database ordered by a comparer other than Pebble's default), and
// from a key that, once stripped of the prefix, is longer than
// index.MaxKeyLen (an error wrapping index.ErrKeyTooLong that shows its
// beginning). An
// iterator's error surfaces when it closes, so a sequence that ends
// without an error read every selected key. When the caller stops early,
// the iterator is closed and its error, if any, is dropped.
//
// r must stay open while the sequence runs; for a Snapshot or a DB, the
// sequence holds an iterator, which keeps the files it reads from being
// deleted until it is done.
func Keys(r pebble.Reader, opts Options) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		if err := opts.check(); err != nil {
			yield(nil, err)
			return
		}
		lower, upper, empty := opts.bounds()
		if empty {
			return
		}
		it, err := r.NewIter(&pebble.IterOptions{
			LowerBound: lower,
			UpperBound: upper,
			KeyTypes:   pebble.IterKeyTypePointsOnly,
		})
		if err != nil {
			yield(nil, fmt.Errorf("pebblesrc: creating iterator: %w", oneLine{err}))
			return
		}
		stopped := false
		defer func() {
			if err := it.Close(); err != nil && !stopped {
				yield(nil, fmt.Errorf("pebblesrc: reading keys: %w", oneLine{err}))
			}
		}()
		strip := 0
		if opts.StripPrefix {
			strip = len(opts.Prefix)
		}
		var prev []byte
		for ok := it.First(); ok; ok = it.Next() {
			key := it.Key()
			if prev != nil && bytes.Compare(key, prev) <= 0 {
				stopped = true
				yield(nil, fmt.Errorf("pebblesrc: key %s follows key %s: keys are not in ascending byte order (does the database use a comparer other than pebble.DefaultComparer?)", quote(key), quote(prev)))
				return
			}
			if n := len(key) - strip; n > index.MaxKeyLen {
				stopped = true
				yield(nil, tooLong(fmt.Sprintf("pebblesrc: key %s is %d bytes, more than the maximum of %d", quote(key), n, index.MaxKeyLen)))
				return
			}
			prev = append(prev[:0], key...)
			if prev == nil {
				prev = []byte{} // the empty key: later keys must be above it
			}
			if !yield(key[strip:], nil) {
				stopped = true
				return
			}
		}
		// The iterator's error, if any, is returned by Close too.
	}
}

// Build writes the STRU index of the keys of r selected by opts to path,
// atomically, and returns the statistics of the file written. bopts are
// the builder's options; their TempDir holds the temporary files, and
// path's directory when it is empty.
//
// The keys stream to disk in the order Keys reads them, with
// builder.WriteSorted: memory does not grow with their number or size
// beyond what the hash table needs, which bopts.MemoryBudget bounds. The
// file is the one a builder.Builder writes for the same keys and hash key.
//
// Build stops with ctx's error once ctx is canceled. Any error, reading r
// or writing, leaves path as it was and removes the temporary files.
func Build(ctx context.Context, r pebble.Reader, path string, opts Options, bopts builder.Options) (builder.Stats, error) {
	return builder.WriteSorted(ctx, path, ReadAhead(Keys(r, opts)), bopts)
}

// tooLong is the error of a key longer than index.MaxKeyLen, with its
// message; it wraps index.ErrKeyTooLong, whose own message would repeat it.
type tooLong string

func (e tooLong) Error() string { return string(e) }
func (e tooLong) Unwrap() error { return index.ErrKeyTooLong }

// quote returns key quoted for a message, shortened past 64 bytes.
func quote(key []byte) string {
	if len(key) > 64 {
		return strconv.Quote(string(key[:64])) + "..."
	}
	return strconv.Quote(string(key))
}

// oneLine is an error of Pebble's with the first line of its message
// only: Pebble's errors can carry more lines of detail.
type oneLine struct{ err error }

func (e oneLine) Error() string {
	line, _, _ := strings.Cut(e.err.Error(), "\n")
	return line
}

func (e oneLine) Unwrap() error { return e.err }
