package builder

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"

	"github.com/stru-index/stru/index"
)

// A SortedWriter writes a STRU file from keys given in strictly ascending
// order (format.md §5: bytes.Compare order), such as the keys of a
// database or a sorted file, without sorting them or holding them in
// memory: their bytes stream to a temporary file and only buffers, the
// last key and a 2-byte length per key on disk are kept, so memory does
// not grow with the number or size of the keys. Its output is the file a
// Builder writes for the same keys and Options: the same bytes, for a
// fixed hash key.
//
// Use it as
//
//	w, err := builder.NewSortedWriter(ctx, path, opts)
//	if err != nil { ... }
//	defer w.Abort() // after a successful Close, does nothing
//	for each key, in order {
//		if err := w.Add(key); err != nil { ... }
//	}
//	if err := w.Close(); err != nil { ... }
//
// Close writes the file at path atomically, as Builder.WriteFileContext
// does; until then path is untouched. Abort, or Close after an error,
// removes every temporary file and leaves path as it was. A SortedWriter
// is not safe for concurrent use.
type SortedWriter struct {
	ctx      context.Context
	path     string
	set      settings
	dir      *scratch
	s        *streamer
	out      *pending // the output's temporary file, once Expect has created it
	err      error    // the first error of Add, returned by Close
	done     bool     // Close or Abort has been called
	closeErr error    // what the first Close returned, which a Close after it returns
	aborted  bool     // Abort was called first
	stats    Stats
}

// NewSortedWriter returns a SortedWriter that will write the file at
// path, with temporary files in Options.TempDir, or else path's
// directory. Options.MemoryBudget bounds the memory used to place the keys
// in the hash table, and so the number of passes over temporary files
// (see the package documentation). ctx cancels the build: Close then
// returns ctx's error, and so does Add, which looks at ctx once every
// 65 536 keys, so as to cost nothing per key. It fails at once, as
// WriteFileContext does before its work, if CheckDestination refuses
// path.
func NewSortedWriter(ctx context.Context, path string, opts Options) (*SortedWriter, error) {
	set, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if err := CheckDestination(path); err != nil {
		return nil, err
	}
	dir, err := newScratch(set.tempDirFor(path))
	if err != nil {
		return nil, err
	}
	s, err := newStreamer(ctx, set, dir, nil, 0)
	if err != nil {
		dir.remove()
		return nil, err
	}
	return &SortedWriter{ctx: ctx, path: path, set: set, dir: dir, s: s}, nil
}

// Expect declares, before the first Add, how many keys and key bytes
// will be added and the length of the longest key, as a first pass over
// the input can count them (idxbuild --sorted does, for regular files).
// The writer then streams the key data straight into the output's
// temporary file, where the keys section will start, rather than into a
// temporary file of its own that Close copies: for large inputs this saves
// writing the key data a second time. The counts need not be right: when
// they are not (duplicates dropped, an input that changed), Close moves
// the key data once, and the file is the same. Expect creates the
// output's temporary file at once, as Close would (".BASE.tmp-" and digits
// in path's directory), unless the counts put the keys section beyond the
// largest file the format, the file system or the process's limit allows:
// then it changes nothing. Called after Add, Expect, Close or Abort, it
// fails, and its error is as sticky as Add's: later calls of Add, and a
// first Close, return it, and no file is written.
func (w *SortedWriter) Expect(keys, keyBytes uint64, maxLen uint32) error {
	switch {
	case w.err != nil:
		return w.err
	case w.done || w.out != nil || w.s.taken() > 0:
		w.err = errors.New("stru: SortedWriter.Expect after Add, Expect, Close or Abort")
		return w.err
	}
	l, err := w.set.layoutFor(&index.Header{Keys: keys, KeyBytes: keyBytes, MaxKeyLen: maxLen})
	if err != nil {
		return nil // no file can be that large: keep the temporary file
	}
	p, err := createPending(w.ctx, osFS{}, w.path)
	if err != nil {
		w.err = err
		return err
	}
	out, ok := p.f.(outputFile)
	if !ok {
		p.abort()
		w.err = errors.New("stru: internal error: the temporary file does not support positional reads and writes")
		return w.err
	}
	// Counts too large for the file system (ext4 takes files of up to 16
	// TiB) or the process's file size limit would put the key data out of
	// the file's reach: keep the temporary file then too.
	ke := l[index.SectionKeys]
	if err := out.Truncate(int64(ke.Off + ke.Size)); err != nil {
		p.abort()
		return nil
	}
	s, err := newStreamer(w.ctx, w.set, w.dir, out, ke.Off)
	if err != nil {
		p.abort()
		w.err = err
		return err
	}
	w.s.close()
	w.s, w.out = s, p
	return nil
}

// Add adds key, which must be greater than or equal to the key added
// before it. A key equal to the one before is dropped, and counted in
// Stats.Duplicates. A smaller key is an error of type *OrderError, which
// gives its position. Add also fails for a key longer than
// index.MaxKeyLen, with an error wrapping index.ErrKeyTooLong, when
// writing a temporary file fails, and when it finds ctx canceled (it
// looks once every 65 536 keys).
//
// After an error, Add returns the same error and adds nothing more; Close
// returns it too, and writes nothing.
func (w *SortedWriter) Add(key []byte) error {
	if w.err == nil {
		if w.done {
			w.err = errors.New("stru: SortedWriter used after Close or Abort")
		} else {
			w.err = w.s.add(key)
		}
	}
	return w.err
}

// AddString adds key as Add does.
func (w *SortedWriter) AddString(key string) error {
	return w.Add(unsafeBytes(key))
}

// Close writes the index of the keys added to path, atomically, and
// removes the temporary files. If Add has failed, Close writes nothing
// and returns Add's error. Close after Close does nothing and returns
// what the first Close returned; Abort after Close does nothing and
// returns nil; Close after Abort does nothing and returns an error, since
// no index was written.
func (w *SortedWriter) Close() error {
	if w.done {
		if w.aborted {
			return errorf("SortedWriter.Close after Abort: %s was not written", w.path)
		}
		return w.closeErr
	}
	w.done = true
	defer func() { w.closeErr = w.err }()
	defer w.cleanup()
	if w.err != nil {
		return w.err
	}
	var res *streamResult
	renamed := func() { w.stats = streamStats(res, w.s.dups) }
	if w.out != nil {
		p := w.out
		w.out = nil // committed or aborted below, not by cleanup
		if res, w.err = w.s.finish(p.f.(outputFile)); w.err != nil {
			p.abort()
			w.err = errorf("writing %s: %w", p.tmp, w.err)
			return w.err
		}
		w.err = p.commit(w.ctx, renamed)
		return w.err
	}
	w.err = publishFile(w.ctx, osFS{}, w.path, func(f tempFile) error {
		out, ok := f.(outputFile)
		if !ok {
			return errors.New("stru: internal error: the temporary file does not support positional reads and writes")
		}
		var err error
		res, err = w.s.finish(out)
		return err
	}, renamed)
	return w.err
}

// Abort discards the keys added and removes the temporary files, leaving
// path as it was. After Close it does nothing. It returns the error of
// removing the temporary files, if any.
func (w *SortedWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done, w.aborted = true, true
	return w.cleanup()
}

func (w *SortedWriter) cleanup() error {
	w.s.close()
	if w.out != nil {
		w.out.abort()
		w.out = nil
	}
	return w.dir.remove()
}

// Stats returns the statistics of the file written by Close: zero until
// Close succeeds.
func (w *SortedWriter) Stats() Stats { return w.stats }

// streamStats returns the Stats of the file res describes.
func streamStats(res *streamResult, duplicates uint64) Stats {
	h := &res.header
	return Stats{
		Keys:         h.Keys,
		Duplicates:   duplicates,
		KeyBytes:     h.KeyBytes,
		FileBytes:    h.FileSize,
		Buckets:      h.Buckets,
		SecondBucket: res.secondBucket,
		Rekeys:       res.rekeys,
		HashKey:      h.HashKey,
		Partitions:   res.partitions,
	}
}

// WriteSorted writes the index of keys, which must come in ascending
// order, to path atomically, with a SortedWriter, and returns its Stats.
// It stops at the first error keys yields, or the first key out of order
// (an *OrderError), and then returns that error and leaves path as it
// was. Each key yielded need only be valid until the next is requested.
func WriteSorted(ctx context.Context, path string, keys iter.Seq2[[]byte, error], opts Options) (Stats, error) {
	w, err := NewSortedWriter(ctx, path, opts)
	if err != nil {
		return Stats{}, err
	}
	defer w.Abort()
	for k, err := range keys {
		if err != nil {
			return Stats{}, err
		}
		if err := w.Add(k); err != nil {
			return Stats{}, err
		}
	}
	if err := w.Close(); err != nil {
		return Stats{}, err
	}
	return w.Stats(), nil
}

// An OrderError reports a key given to a SortedWriter (or WriteSorted)
// that is smaller than the key before it.
type OrderError struct {
	Index uint64 // the key's position among the keys given, from 0, duplicates included
	Key   []byte // the key
	Prev  []byte // the key before it
}

func (e *OrderError) Error() string {
	return fmt.Sprintf("stru: keys out of order: key %d, %s, is less than the key before it, %s",
		e.Index, quoteKey(e.Key), quoteKey(e.Prev))
}

// quoteMax is the most bytes of a key quoteKey shows.
const quoteMax = 64

// quoteKey returns key as a Go string literal for a message, shortened to
// its first 64 bytes and "..." when longer.
func quoteKey(key []byte) string {
	if len(key) > quoteMax {
		return strconv.Quote(string(key[:quoteMax])) + "..."
	}
	return strconv.Quote(string(key))
}
