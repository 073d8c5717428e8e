package builder

// The streaming build: keys arrive in ascending order, from a SortedWriter
// or from the merge of a Builder's runs, and go straight to disk. Memory
// holds the last key and buffers, never the set.
//
// While keys arrive, a streamer writes their bytes either to a temporary
// file (SortedWriter, which cannot know the set's size in advance) or
// directly into the output file where the keys section will most likely
// start (a Builder's merge, which knows an upper bound of the set from its
// runs), and their lengths to a temporary file. Once the last key is in,
// the counts fix the layout (format.md §1); the streamer moves the key data
// to the keys section if it is not already there, hashes every key in a
// pass over the key data, places the keys (partition.go), and writes the
// buckets, offsets and lengths sections and the filter (writeFilter), then
// the header, whose section checksums are known only at the end, at
// offset 0.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/stru-index/stru/index"
)

// An outputFile is the file a streamer writes: the temporary file that
// publishing renames, which is an *os.File.
type outputFile interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
}

// streamCheckEvery is how many keys a streamer takes between two checks
// of its context.
const streamCheckEvery = 1 << 16

// A streamer builds an index from keys given in ascending order.
type streamer struct {
	ctx context.Context
	set settings
	dir *scratch // where the temporary files are

	keys     outputFile // the key data: the keys temporary file, or the output
	keysTemp *os.File   // the keys temporary file; nil when keys is the output
	keysAt   uint64     // offset of the first key byte in keys
	keysW    *sectionWriter
	lengths  *os.File // each key's length, a little-endian u16
	lengthsW *sectionWriter

	n, keyBytes uint64 // keys and key bytes taken
	dups        uint64 // keys equal to the one before, dropped
	maxLen      uint32
	prev        []byte // the last key taken
}

// newStreamer returns a streamer that keeps its temporary files in dir.
// With out nil it writes the key data to a temporary file; otherwise it
// writes it to out at offset at, which should be where the keys section
// will start, and finish must then be given out.
func newStreamer(ctx context.Context, set settings, dir *scratch, out outputFile, at uint64) (*streamer, error) {
	s := &streamer{ctx: ctx, set: set, dir: dir, keys: out, keysAt: at}
	var err error
	if out == nil {
		if s.keysTemp, err = dir.create("keys"); err != nil {
			return nil, err
		}
		s.keys, s.keysAt = s.keysTemp, 0
	}
	if s.lengths, err = dir.create("lengths"); err != nil {
		if s.keysTemp != nil {
			s.keysTemp.Close()
		}
		return nil, err
	}
	s.keysW = newSectionWriter(s.keys, s.keysAt, 0)
	s.lengthsW = newSectionWriter(s.lengths, 0, 0)
	return s, nil
}

// taken returns the number of keys given so far, duplicates included.
func (s *streamer) taken() uint64 { return s.n + s.dups }

// add takes the next key. A key equal to the one before is dropped and
// counted; a smaller one is an *OrderError.
func (s *streamer) add(key []byte) error {
	if s.taken()%streamCheckEvery == 0 {
		if err := s.ctx.Err(); err != nil {
			return err
		}
	}
	if s.n > 0 {
		switch c := bytes.Compare(key, s.prev); {
		case c == 0:
			s.dups++
			return nil
		case c < 0:
			return &OrderError{Index: s.taken(), Key: bytes.Clone(key), Prev: bytes.Clone(s.prev)}
		}
	}
	if len(key) > index.MaxKeyLen {
		return fmt.Errorf("%w: key %d is %d bytes", index.ErrKeyTooLong, s.taken(), len(key))
	}
	if s.n == index.MaxKeys {
		return errorf("more than the format's maximum of %d keys", uint64(index.MaxKeys))
	}
	if s.keyBytes+uint64(len(key)) > index.MaxKeyBytes {
		return errorf("more than the format's maximum of %d bytes of keys", uint64(index.MaxKeyBytes))
	}
	s.prev = append(s.prev[:0], key...)
	s.keysW.write(key)
	s.lengthsW.uint(uint64(len(key)), 2)
	if err := cmp.Or(s.keysW.err, s.lengthsW.err); err != nil {
		return errorf("writing a temporary file: %w", err)
	}
	s.n++
	s.keyBytes += uint64(len(key))
	s.maxLen = max(s.maxLen, uint32(len(key)))
	return nil
}

// streamResult is what finish wrote.
type streamResult struct {
	header       index.Header
	secondBucket uint64
	rekeys       int
	partitions   int // 0 if the whole table was placed at once
}

// finish writes the whole index into out, which must be the output given
// to newStreamer if one was, and returns its header. out's size is then
// exactly the file's. The streamer must not be used afterwards.
func (s *streamer) finish(out outputFile) (*streamResult, error) {
	keysCRC, err := s.keysW.flush()
	if err != nil {
		return nil, errorf("writing key data: %w", err)
	}
	if _, err := s.lengthsW.flush(); err != nil {
		return nil, errorf("writing key lengths: %w", err)
	}
	s.prev = nil
	res := &streamResult{}
	h := &res.header
	h.Version = index.Version
	h.Keys = s.n
	h.KeyBytes = s.keyBytes
	h.MaxKeyLen = s.maxLen
	layout, err := s.set.layoutFor(h)
	if err != nil {
		return nil, err
	}
	h.FileSize = layout.FileSize()

	// The keys section: the key data moved into place, then its padding.
	ke := layout[index.SectionKeys]
	if err := s.moveKeys(out, ke.Off); err != nil {
		return nil, err
	}
	pad := newSectionWriter(out, ke.Off+ke.Size, ke.End-ke.Off-ke.Size)
	pad.write(zeros[:ke.End-ke.Off-ke.Size])
	if _, err := pad.flush(); err != nil {
		return nil, err
	}
	h.SectionCRC[index.SectionKeys-index.SectionBuckets] = index.UpdateChecksum(keysCRC, zeros[:ke.End-ke.Off-ke.Size])
	if s.keysTemp != nil { // the key data is in out now
		s.keysTemp.Close()
		os.Remove(s.keysTemp.Name())
		s.keysTemp = nil
	}

	// The buckets section, re-keying if some key cannot be placed.
	key := s.set.hashKey
	for attempt := 0; ; attempt++ {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		crc, second, parts, err := s.placeAll(out, &layout, key)
		if err == nil {
			h.HashKey = key
			h.SectionCRC[0] = crc
			res.secondBucket = second
			res.rekeys = attempt
			res.partitions = parts
			break
		}
		if !errors.Is(err, errPlace) {
			return nil, err
		}
		if attempt == maxRekeys {
			return nil, fmt.Errorf("%w after %d hash keys at load factor %v", err, attempt+1, s.set.loadFactor)
		}
		key = rekey(key, uint64(attempt))
	}

	// The offsets and lengths sections, from the lengths file.
	for _, sec := range []index.Section{index.SectionOffsets, index.SectionLengths} {
		crc, err := s.writeTable(out, sec, layout[sec], h)
		if err != nil {
			return nil, err
		}
		h.SectionCRC[sec-index.SectionBuckets] = crc
	}
	crc, err := s.writeFilter(out, &layout, h.FilterBlocks)
	if err != nil {
		return nil, err
	}
	h.SectionCRC[index.SectionFilter-index.SectionBuckets] = crc
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	var hdr [index.HeaderSize]byte
	h.Encode(hdr[:])
	if _, err := out.WriteAt(hdr[:], 0); err != nil {
		return nil, errorf("writing the header: %w", err)
	}
	if err := out.Truncate(int64(h.FileSize)); err != nil {
		return nil, errorf("%w", err)
	}
	s.lengths.Close()
	return res, nil
}

// close closes the streamer's temporary files; the caller removes them
// with its scratch directory.
func (s *streamer) close() {
	if s.keysTemp != nil {
		s.keysTemp.Close()
	}
	s.lengths.Close()
}

// copyChunk is the most bytes moveKeys copies between two checks of its
// context.
const copyChunk = 64 << 20

// moveKeys puts the key data at offset at of out: it copies it from the
// keys temporary file, or moves it within out from where it was written.
// The copy goes through this process rather than the kernel's
// copy_file_range, whose writes are small: a sectionWriter writes it in
// whole aligned pieces, which the page cache keeps as huge pages
// (publishChunk).
func (s *streamer) moveKeys(out outputFile, at uint64) error {
	n := s.keyBytes
	if s.keysTemp == nil && s.keysAt == at {
		return nil
	}
	// Within out, chunks are copied in the direction that never
	// overwrites bytes not yet read: from the first when the data moves
	// towards the start (the set is smaller than the bound it was placed
	// for), from the last when it moves towards the end. From the first,
	// the sectionWriter writes only bytes already read, so its buffering
	// is safe too.
	buf := make([]byte, bufferFor(n, ioBuffer))
	up := s.keysTemp == nil && at > s.keysAt
	var w *sectionWriter // for a copy from the first chunk
	if !up {
		w = newSectionWriter(out, at, n)
	}
	for done := uint64(0); done < n; {
		if done%copyChunk == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
		c := min(uint64(len(buf)), n-done)
		from := done // offset in the key data of the chunk
		if up {
			from = n - done - c
		}
		if _, err := s.keys.ReadAt(buf[:c], int64(s.keysAt+from)); err != nil {
			return errorf("reading key data: %w", err)
		}
		if up {
			if _, err := out.WriteAt(buf[:c], int64(at+from)); err != nil {
				return errorf("writing key data: %w", err)
			}
		} else {
			w.write(buf[:c])
			if w.err != nil {
				return errorf("writing key data: %w", w.err)
			}
		}
		done += c
	}
	if w != nil {
		if _, err := w.flush(); err != nil {
			return errorf("writing key data: %w", err)
		}
	}
	return nil
}

// eachKey passes every key, in order, its ordinal and its offset in the
// key data to f, reading the
// key data from the keys section of out and the lengths from the lengths
// file. The key passed is valid only during the call. It checks the
// context every streamCheckEvery keys.
func (s *streamer) eachKey(out outputFile, keys index.Extent, f func(ord, off uint64, key []byte) error) error {
	kr := bufio.NewReaderSize(io.NewSectionReader(out, int64(keys.Off), int64(keys.Size)), bufferFor(keys.Size, max(ioBuffer, index.MaxKeyLen+1)))
	lr := bufio.NewReaderSize(io.NewSectionReader(s.lengths, 0, int64(2*s.n)), bufferFor(2*s.n, ioBuffer))
	var off uint64
	for ord := range s.n {
		if ord%streamCheckEvery == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
		lb, err := lr.Peek(2)
		if err != nil {
			return errorf("reading key lengths: %w", unexpected(err))
		}
		n := int(binary.LittleEndian.Uint16(lb))
		lr.Discard(2)
		key, err := kr.Peek(n)
		if err != nil {
			return errorf("reading key data: %w", unexpected(err))
		}
		if err := f(ord, off, key); err != nil {
			return err
		}
		kr.Discard(n)
		off += uint64(n)
	}
	return nil
}

// unexpected turns io.EOF into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeTable writes the offsets or the lengths section (format.md §5),
// padding included, from the lengths file and returns its checksum.
func (s *streamer) writeTable(out outputFile, sec index.Section, e index.Extent, h *index.Header) (uint32, error) {
	w := newSectionWriter(out, e.Off, e.End-e.Off)
	lr := bufio.NewReaderSize(io.NewSectionReader(s.lengths, 0, int64(2*s.n)), bufferFor(2*s.n, ioBuffer))
	var off uint64
	for i := range s.n {
		if i%streamCheckEvery == 0 {
			if err := s.ctx.Err(); err != nil {
				return 0, err
			}
		}
		lb, err := lr.Peek(2)
		if err != nil {
			return 0, errorf("reading key lengths: %w", unexpected(err))
		}
		n := uint64(binary.LittleEndian.Uint16(lb))
		lr.Discard(2)
		if sec == index.SectionOffsets {
			w.uint(off, h.OffsetWidth)
			off += n
		} else {
			w.uint(n, h.LengthWidth)
		}
	}
	w.write(zeros[:e.End-e.Off-e.Size])
	crc, err := w.flush()
	if err != nil {
		return 0, errorf("writing the %s section: %w", sec, err)
	}
	if w.off != e.End {
		return 0, errorf("internal error: the %s section ends at %d, not %d", sec, w.off, e.End)
	}
	return crc, nil
}

// writeFilter builds the filter section of blocks blocks (format.md §3.1)
// and writes it into out; it returns the section's checksum. The filter is
// built in pieces of consecutive blocks that fit in the placement budget,
// each in a pass over the key data: a key's block rises with its filter
// hash, so each pass sets the bits of the keys whose block is in its piece.
// One pass does it up to a budget of 0.75 bytes per key at the default
// filter size. A piece is at least minFilterPiece bytes, so smaller
// budgets are exceeded by that much rather than taking a pass per block.
func (s *streamer) writeFilter(out outputFile, layout *index.Layout, blocks uint64) (uint32, error) {
	e := layout[index.SectionFilter]
	w := newSectionWriter(out, e.Off, e.End-e.Off)
	per := max(uint64(s.placementBudget()), minFilterPiece) / index.FilterBlockSize // blocks per piece
	var piece []byte
	for first := uint64(0); first < blocks; first += per {
		n := min(per, blocks-first)
		if piece == nil {
			piece = make([]byte, n*index.FilterBlockSize)
		}
		piece = piece[:n*index.FilterBlockSize]
		clear(piece)
		fill := index.NewFilterFiller(piece, first, blocks)
		err := s.eachKey(out, layout[index.SectionKeys], func(_, _ uint64, k []byte) error {
			fill.Add(index.FilterHash(k))
			return nil
		})
		if err != nil {
			return 0, err
		}
		fill.Flush()
		w.write(piece)
		if w.err != nil {
			break
		}
	}
	crc, err := w.flush()
	if err != nil {
		return 0, errorf("writing the filter section: %w", err)
	}
	if w.off != e.End {
		return 0, errorf("internal error: the filter section ends at %d, not %d", w.off, e.End)
	}
	return crc, nil
}

// A sectionWriter writes bytes in sequence from an offset of a file,
// buffered, and computes their CRC-32C. Its writes end at multiples of
// publishChunk in the file, but for the last: between its first and last
// write it writes whole aligned pieces, which the page cache can hold as
// huge folios. Errors are sticky: flush returns the first.
type sectionWriter struct {
	out io.WriterAt
	off uint64 // where buf goes
	buf []byte // at most up to the first multiple of publishChunk after off; its capacity at most publishChunk
	crc uint32
	err error
}

// newSectionWriter returns a sectionWriter that writes to out from off.
// size is how many bytes it will write, or 0 if that is not known: its
// buffer starts at size, or small, and grows up to publishChunk, so that
// a small section takes little memory.
func newSectionWriter(out io.WriterAt, off, size uint64) *sectionWriter {
	w := &sectionWriter{out: out, off: off}
	if size > 0 {
		w.buf = make([]byte, 0, bufferFor(size, publishChunk))
	}
	return w
}

// room returns how many more bytes buf takes before it reaches the first
// multiple of publishChunk after off.
func (w *sectionWriter) room() int {
	end := (w.off/publishChunk + 1) * publishChunk
	return int(end-w.off) - len(w.buf)
}

// uint appends v as an integer of width bytes (index.PutUint).
func (w *sectionWriter) uint(v uint64, width uint8) {
	var b [8]byte
	index.PutUint(b[:], v, width)
	w.write(b[:width])
}

// write appends p.
func (w *sectionWriter) write(p []byte) {
	for len(p) > 0 {
		n := min(len(p), w.room())
		if len(w.buf)+n > cap(w.buf) {
			// Exactly c: append's growth would round past publishChunk.
			c := min(max(2*cap(w.buf), len(w.buf)+n, 4<<10), publishChunk)
			w.buf = append(make([]byte, 0, c), w.buf...)
		}
		w.buf = append(w.buf, p[:n]...)
		p = p[n:]
		if w.room() == 0 {
			w.flush()
		}
	}
}

// flush writes out what is buffered, and returns the CRC-32C of all the
// bytes written so far and the first error.
func (w *sectionWriter) flush() (uint32, error) {
	w.writeOut(w.buf)
	w.buf = w.buf[:0]
	return w.crc, w.err
}

func (w *sectionWriter) writeOut(p []byte) {
	if w.err != nil || len(p) == 0 {
		return
	}
	w.crc = index.UpdateChecksum(w.crc, p)
	_, w.err = w.out.WriteAt(p, int64(w.off))
	w.off += uint64(len(p))
}
