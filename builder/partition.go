package builder

// Placement of a streamed build, one range of blocks at a time.
//
// Both buckets of a key lie in its block, and each block has its own
// generator of eviction choices (table.go), so placing the keys of a range
// of blocks alone, in ordinal order, gives exactly the slots that placing
// every key would. When the whole table and a hash and a place in the key
// data per key fit in the budget, placeAll does just that. Otherwise it
// cuts the table into partitions, ranges of blocks that fit (budget.go,
// partitions), writes each key's hash and location to its partition's
// temporary file in one pass over the keys, then places the partitions in
// order, each from its file, and writes its slice of the buckets section.
//
// A partition file is a sequence of 16-byte records in ascending ordinal
// order: the key's hash and its location (loc), each a little-endian u64.

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"

	"github.com/stru-index/stru/index"
)

// placementBudget is the budget left for placement once the streamer's
// own buffers are counted: the key data and lengths readers, and the
// section writers of the key data, the lengths and the buckets.
func (s *streamer) placementBudget() int64 {
	return max(s.set.budget-2*ioBuffer-3*publishChunk, 0)
}

// placeAll hashes every key under key, places them all and writes the
// buckets section of layout into out. It returns the section's checksum,
// the number of keys in their second bucket and the number of partitions
// (0 when the table was placed whole), or an error wrapping errPlace if
// some key cannot be placed under key.
func (s *streamer) placeAll(out outputFile, layout *index.Layout, key index.HashKey) (crc uint32, second uint64, nparts int, err error) {
	k0, k1 := key.Halves()
	nb := index.BucketCount(s.n, s.set.loadFactor)
	be := layout[index.SectionBuckets]
	w := newSectionWriter(out, be.Off, be.End-be.Off)
	parts := partitions(s.n, nb, s.placementBudget())
	var t table
	if len(parts) == 1 {
		hashes := make([]uint64, s.n)
		t.locs = make([]uint64, s.n)
		err := s.eachKey(out, layout[index.SectionKeys], func(ord, off uint64, k []byte) error {
			hashes[ord] = index.Hash(k0, k1, k)
			t.locs[ord] = loc(off, uint64(len(k)))
			return nil
		})
		if err != nil {
			return 0, 0, 0, err
		}
		if err := t.placeRange(hashes, nb, 0, index.Blocks(nb), k0^k1); err != nil {
			return 0, 0, 0, err
		}
		t.write(w)
		second = t.secondBucket()
	} else {
		// Partition files are written maxPartFiles at a time, each group
		// in a pass over the keys of its own.
		for g := 0; g < len(parts); g += maxPartFiles {
			group := parts[g:min(g+maxPartFiles, len(parts))]
			sec, err := s.placeGroup(out, layout, w, &t, k0, k1, nb, group)
			if err != nil {
				return 0, 0, 0, err
			}
			second += sec
		}
	}
	crc, err = w.flush()
	if err != nil {
		return 0, 0, 0, errorf("writing the buckets section: %w", err)
	}
	if w.off != be.End {
		return 0, 0, 0, errorf("internal error: the buckets section ends at %d, not %d", w.off, be.End)
	}
	if len(parts) > 1 {
		nparts = len(parts)
	}
	return crc, second, nparts, nil
}

// placeGroup places the partitions of group, whose keys it first splits
// into one file each, in t, writes their buckets to w, and returns the
// number of keys in their second bucket.
func (s *streamer) placeGroup(out outputFile, layout *index.Layout, w *sectionWriter, t *table, k0, k1, nb uint64, group []partition) (second uint64, err error) {
	files, err := s.splitHashes(out, layout, k0, k1, nb, group)
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, f := range files {
			f.close()
		}
	}()
	for i, p := range group {
		if err := t.placePartition(files[i], nb, p, k0^k1); err != nil {
			return 0, err
		}
		files[i].close()
		t.write(w)
		second += t.secondBucket()
		if err := s.ctx.Err(); err != nil {
			return 0, err
		}
	}
	return second, nil
}

// A partFile is the temporary file of one partition's keys.
type partFile struct {
	f    *os.File
	w    *bufio.Writer
	keys uint64
}

// close closes and removes the file. It may be called more than once.
func (p *partFile) close() {
	if p.f != nil {
		p.f.Close()
		os.Remove(p.f.Name())
		p.f = nil
	}
}

// splitHashes writes, in one pass over the keys, the hash and location of
// every key of the partitions of group, which are consecutive, to one
// new file for each of them, and returns the files.
func (s *streamer) splitHashes(out outputFile, layout *index.Layout, k0, k1, nb uint64, group []partition) (files []*partFile, err error) {
	defer func() {
		if err != nil {
			for _, f := range files {
				f.close()
			}
			files = nil
		}
	}()
	perBlock := nb / index.Blocks(nb)
	bufSize := int(min(max(s.placementBudget()/int64(4*len(group)), 4<<10), ioBuffer))
	for range group {
		f, err := s.dir.create("partition")
		if err != nil {
			return files, err
		}
		files = append(files, &partFile{f: f, w: bufio.NewWriterSize(f, bufSize)})
	}
	first := group[0].first
	last := group[len(group)-1]
	end := last.first + last.blocks
	size := group[0].blocks // every partition but the last of all has this many blocks
	var rec [partRecord]byte
	err = s.eachKey(out, layout[index.SectionKeys], func(_, off uint64, k []byte) error {
		h := index.Hash(k0, k1, k)
		b1, _ := index.Buckets(h, nb)
		block := b1 / perBlock
		if block < first || block >= end {
			return nil
		}
		p := files[(block-first)/size]
		binary.LittleEndian.PutUint64(rec[0:], h)
		binary.LittleEndian.PutUint64(rec[8:], loc(off, uint64(len(k))))
		p.keys++
		_, err := p.w.Write(rec[:])
		return err
	})
	if err != nil {
		return files, errorf("writing a partition file: %w", err)
	}
	for _, f := range files {
		if err := f.w.Flush(); err != nil {
			return files, errorf("writing a partition file: %w", err)
		}
	}
	return files, nil
}

// placePartition reads partition p's keys from their file and places them
// in t, keeping their locations in t.locs.
func (t *table) placePartition(pf *partFile, nb uint64, p partition, seed uint64) error {
	n := pf.keys
	t.hashBuf = resize(t.hashBuf, n)
	t.locBuf = resize(t.locBuf, n)
	t.locs = t.locBuf
	r := bufio.NewReaderSize(io.NewSectionReader(pf.f, 0, int64(n*partRecord)), ioBuffer)
	var rec [partRecord]byte
	for i := range n {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return errorf("reading partition file %s: %w", pf.f.Name(), unexpected(err))
		}
		t.hashBuf[i] = binary.LittleEndian.Uint64(rec[0:])
		t.locBuf[i] = binary.LittleEndian.Uint64(rec[8:])
	}
	return t.placeRange(t.hashBuf, nb, p.first, p.blocks, seed)
}

// write writes t's buckets to w, as the file holds them (fileSlot).
func (t *table) write(w *sectionWriter) {
	t.eachFileSlot(func(slot uint64) error {
		w.uint(slot, index.SlotSize)
		return nil
	})
}
