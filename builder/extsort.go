package builder

// External sorting: a Builder whose keys exceed its memory budget sorts
// the keys it holds and writes them to a temporary file, a run, then
// starts again with empty memory; writing the index merges the runs.
//
// A run file is a sequence of records, one per key, in strictly ascending
// key order: the key's length as a little-endian u16, then its bytes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/stru-index/stru/index"
)

// A spill is the runs a Builder has written, in its scratch directory.
type spill struct {
	dir     *scratch
	runs    []run
	spilled int // runs written from memory
}

// A run is one run file and what it holds.
type run struct {
	path     string
	keys     uint64 // distinct keys
	keyBytes uint64 // sum of their lengths
	maxLen   uint32 // the longest
}

// remove removes the runs' directory. It may be called on a nil *spill.
func (s *spill) remove() error {
	if s == nil {
		return nil
	}
	return s.dir.remove()
}

// A spillResult is what a background spill delivers: the run written, or
// the error that stopped it.
type spillResult struct {
	r   run
	err error
}

// spillDir returns the runs' scratch directory, creating it in dir.
func (b *Builder) spillDir(dir string) (*spill, error) {
	if b.spill == nil {
		d, err := newScratch(dir)
		if err != nil {
			return nil, err
		}
		b.spill = &spill{dir: d}
		// A Builder dropped without Close leaves no files behind once
		// it is garbage collected.
		runtime.AddCleanup(b, func(d *scratch) { d.remove() }, d)
	}
	return b.spill, nil
}

// spillBackground starts writing the keys held as a run in a goroutine,
// after waiting for the one before, and gives the Builder the memory that
// one used to collect the next keys in. The first run creates the runs'
// scratch directory in dir.
func (b *Builder) spillBackground(dir string) error {
	if err := b.waitSpill(); err != nil {
		return err
	}
	sp, err := b.spillDir(dir)
	if err != nil {
		return err
	}
	b.keyBuf, b.spare = b.spare, b.keyBuf
	full := &b.spare
	done := make(chan spillResult, 1)
	b.spilling = done
	go func() {
		r, err := sp.writeRun(full)
		done <- spillResult{r, err}
	}()
	return nil
}

// waitSpill waits for the background spill, if one runs, and records its
// run. If the spill failed, the keys it held are lost: the error is
// returned, and again by every later Add and write (b.failed).
func (b *Builder) waitSpill() error {
	if b.failed != nil {
		return b.failed
	}
	if b.spilling == nil {
		return nil
	}
	res := <-b.spilling
	b.spilling = nil
	if res.err != nil {
		b.failed = fmt.Errorf("%w (keys added before it are lost)", res.err)
		b.spare.release(false)
		return b.failed
	}
	b.spill.runs = append(b.spill.runs, res.r)
	b.spill.spilled++
	return nil
}

// spillRun writes the keys held as a run, after the background spill if
// one runs, and frees the memory of both. The first run creates the
// runs' scratch directory in dir.
func (b *Builder) spillRun(dir string) error {
	if err := b.waitSpill(); err != nil {
		return err
	}
	b.spare.release(false)
	if len(b.recs) > 0 {
		sp, err := b.spillDir(dir)
		if err != nil {
			return err
		}
		r, err := sp.writeRun(&b.keyBuf)
		if err != nil {
			return err
		}
		sp.runs = append(sp.runs, r)
		sp.spilled++
	}
	b.release(false)
	return nil
}

// writeRun sorts the keys of kb and writes them, without duplicates, as a
// new run, then empties kb, keeping its memory for reuse.
func (s *spill) writeRun(kb *keyBuf) (run, error) {
	kb.sortKeys()
	w, err := s.newRun()
	if err != nil {
		return run{}, err
	}
	for _, r := range kb.recs {
		if err := w.add(kb.key(r)); err != nil {
			w.abort()
			return run{}, err
		}
	}
	r, err := w.finish()
	if err != nil {
		return run{}, err
	}
	kb.release(true)
	return r, nil
}

// A runWriter writes a run file.
type runWriter struct {
	f   *os.File
	w   *bufio.Writer
	r   run
	hdr [2]byte
}

func (s *spill) newRun() (*runWriter, error) {
	f, err := s.dir.create("run")
	if err != nil {
		return nil, err
	}
	return &runWriter{f: f, w: bufio.NewWriterSize(f, ioBuffer), r: run{path: f.Name()}}, nil
}

// add appends a key, which must be greater than the last.
func (w *runWriter) add(key []byte) error {
	binary.LittleEndian.PutUint16(w.hdr[:], uint16(len(key)))
	w.w.Write(w.hdr[:])
	if _, err := w.w.Write(key); err != nil {
		return errorf("writing %s: %w", w.r.path, err)
	}
	w.r.keys++
	w.r.keyBytes += uint64(len(key))
	w.r.maxLen = max(w.r.maxLen, uint32(len(key)))
	return nil
}

// finish flushes and closes the run file and returns what it holds.
func (w *runWriter) finish() (run, error) {
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(w.r.path)
		return run{}, errorf("writing %s: %w", w.r.path, err)
	}
	return w.r, nil
}

// abort closes and removes the run file.
func (w *runWriter) abort() {
	w.f.Close()
	os.Remove(w.r.path)
}

// A runReader reads the keys of a run file in order.
type runReader struct {
	run
	f    *os.File
	r    *bufio.Reader
	key  []byte // the current key: valid until the next call of next
	left uint64 // keys not yet read
	seen int    // bytes of the current key still to discard
}

func openRun(r run, bufSize int) (*runReader, error) {
	f, err := os.Open(r.path)
	if err != nil {
		return nil, errorf("reading a run: %w", err)
	}
	// The buffer holds the longest key, which Peek returns in place.
	return &runReader{run: r, f: f, r: bufio.NewReaderSize(f, max(bufSize, index.MaxKeyLen+1)), left: r.keys}, nil
}

// next advances to the next key, and reports false at the end of the run.
func (rr *runReader) next() (bool, error) {
	if _, err := rr.r.Discard(rr.seen); err != nil {
		return false, rr.damaged(err)
	}
	rr.seen = 0
	if rr.left == 0 {
		return false, nil
	}
	hdr, err := rr.r.Peek(2)
	if err != nil {
		return false, rr.damaged(err)
	}
	n := int(binary.LittleEndian.Uint16(hdr))
	rr.r.Discard(2)
	if rr.key, err = rr.r.Peek(n); err != nil {
		return false, rr.damaged(err)
	}
	rr.seen = n
	rr.left--
	return true, nil
}

func (rr *runReader) damaged(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return errorf("reading run %s (%d of %d keys left): %w", rr.path, rr.left, rr.keys, err)
}

func (rr *runReader) close() { rr.f.Close() }

// mergeRuns merges the runs, in ascending order, and passes each key to
// emit; a key in several runs is passed once for each. The key passed is
// valid only during the call. It checks ctx every mergeCheckEvery keys.
func mergeRuns(ctx context.Context, runs []run, bufSize int, emit func(key []byte) error) error {
	h := make(runHeap, 0, len(runs))
	defer func() {
		for _, rr := range h {
			rr.close()
		}
	}()
	for _, r := range runs {
		rr, err := openRun(r, bufSize)
		if err != nil {
			return err
		}
		ok, err := rr.next()
		if err != nil || !ok {
			rr.close()
			if err != nil {
				return err
			}
			continue
		}
		h = append(h, rr)
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	for n := 0; len(h) > 0; n++ {
		if n%mergeCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		top := h[0]
		if err := emit(top.key); err != nil {
			return err
		}
		ok, err := top.next()
		if err != nil {
			return err
		}
		if !ok {
			top.close()
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		h.down(0)
	}
	return nil
}

// mergeCheckEvery is how many keys mergeRuns merges between two checks of
// its context.
const mergeCheckEvery = 1 << 16

// A runHeap is a binary min-heap of runs by current key.
type runHeap []*runReader

func (h runHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && bytes.Compare(h[r].key, h[l].key) < 0 {
			m = r
		}
		if bytes.Compare(h[m].key, h[i].key) >= 0 {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// reduceRuns merges runs, fanIn at a time and oldest first, into new runs
// until at most fanIn remain, so that the final merge reads few files at
// once. Merged runs are removed.
func (s *spill) reduceRuns(ctx context.Context, budget int64) error {
	fan := fanIn(budget)
	for len(s.runs) > fan {
		group := s.runs[:fan]
		w, err := s.newRun()
		if err != nil {
			return err
		}
		var last []byte
		first := true
		err = mergeRuns(ctx, group, runBuffer(budget, fan), func(key []byte) error {
			if !first && bytes.Equal(key, last) {
				return nil
			}
			first = false
			last = append(last[:0], key...)
			return w.add(key)
		})
		if err != nil {
			w.abort()
			return err
		}
		r, err := w.finish()
		if err != nil {
			return err
		}
		for _, g := range group {
			os.Remove(g.path)
		}
		s.runs = append(s.runs[fan:], r)
	}
	return nil
}

// runsSpilled returns how many runs were written from memory: 0 for a
// Builder that has none, whose spill is nil (a set with no keys, written
// through the runs because even it exceeds a tiny budget).
func (s *spill) runsSpilled() int {
	if s == nil {
		return 0
	}
	return s.spilled
}

// bounds returns what the runs hold, counting a key in several runs once
// for each: an upper bound of the keys and key bytes of the merged set,
// and exactly its longest key's length.
func (s *spill) bounds() (keys, keyBytes uint64, maxLen uint32) {
	if s == nil {
		return 0, 0, 0
	}
	for _, r := range s.runs {
		keys += r.keys
		keyBytes += r.keyBytes
		maxLen = max(maxLen, r.maxLen)
	}
	return keys, keyBytes, maxLen
}

// external reports whether writing needs temporary files: the Builder has
// spilled runs, or writing the keys it holds in memory would exceed its
// budget and spilling them would not: a spill holds the keys too, while
// it writes them through a buffer of ioBuffer bytes, so a set whose
// hashes, table and filter take less than that (about 39 000 keys at the
// defaults) is written in memory, whatever the budget. (The arena and
// the records alone, at their smallest, take 128 KiB.)
func (b *Builder) external() bool {
	if b.failed != nil || b.spilling != nil || b.spill != nil && len(b.spill.runs) > 0 {
		return true
	}
	writing := b.settings.writingBytes(uint64(len(b.recs)))
	return b.heldBytes()+writing > b.budget && writing > ioBuffer
}

// toRuns writes the keys held in memory as a run, in dir if the Builder
// has no runs yet, and frees the memory; then it merges runs until few
// enough remain to merge at once.
func (b *Builder) toRuns(ctx context.Context, dir string) error {
	if err := b.spillRun(dir); err != nil {
		return err
	}
	if b.spill == nil { // no keys at all
		return nil
	}
	return b.spill.reduceRuns(ctx, b.budget)
}

// streamRuns merges the runs into a streamer that writes the index into
// out, with its temporary files in dir.
func (b *Builder) streamRuns(ctx context.Context, dir *scratch, out outputFile) (*streamResult, error) {
	var runs []run
	if b.spill != nil {
		runs = b.spill.runs
	}
	// The key data goes straight into out, where the keys section starts
	// if no key is in two runs: the layout of the runs' bounds. If some
	// are, the set is smaller and the data moves towards the start.
	var bounds index.Header
	bounds.Keys, bounds.KeyBytes, bounds.MaxKeyLen = b.spill.bounds()
	var s *streamer
	var err error
	if l, lerr := b.layoutFor(&bounds); lerr == nil {
		s, err = newStreamer(ctx, b.settings, dir, out, l[index.SectionKeys].Off)
	} else {
		s, err = newStreamer(ctx, b.settings, dir, nil, 0)
	}
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := mergeRuns(ctx, runs, runBuffer(b.budget, max(len(runs), 1)), s.add); err != nil {
		return nil, err
	}
	return s.finish(out)
}

// publishExternal is publish for a Builder whose keys do not fit in its
// budget: the keys held go to a run, the runs are merged into the
// temporary output file, then placed and published.
func (b *Builder) publishExternal(ctx context.Context, fsys fileSystem, path string) error {
	if err := b.toRuns(ctx, b.tempDirFor(path)); err != nil {
		return errorf("writing %s: %w", path, err)
	}
	dir, err := newScratch(b.tempDirFor(path))
	if err != nil {
		return err
	}
	defer dir.remove()
	var res *streamResult
	return publishFile(ctx, fsys, path, func(f tempFile) error {
		out, ok := f.(outputFile)
		if !ok {
			return errors.New("stru: internal error: the temporary file does not support positional reads and writes")
		}
		var err error
		res, err = b.streamRuns(ctx, dir, out)
		return err
	}, func() {
		b.stats = streamStats(res, b.added-res.header.Keys)
		b.stats.Runs = b.spill.runsSpilled()
	})
}

// writeToExternal is WriteTo for a Builder whose keys do not fit in its
// budget: it builds the index in a temporary file, then copies it to w.
func (b *Builder) writeToExternal(w io.Writer) (int64, error) {
	ctx := context.Background()
	if err := b.toRuns(ctx, b.tempDirFor("")); err != nil {
		return 0, err
	}
	dir, err := newScratch(b.tempDirFor(""))
	if err != nil {
		return 0, err
	}
	defer dir.remove()
	f, err := dir.create("index")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	res, err := b.streamRuns(ctx, dir, f)
	if err != nil {
		return 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, errorf("%w", err)
	}
	n, err := io.Copy(w, f)
	if err != nil {
		return n, err
	}
	b.stats = streamStats(res, b.added-res.header.Keys)
	b.stats.Runs = b.spill.runsSpilled()
	return n, nil
}
