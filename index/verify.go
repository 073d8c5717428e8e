package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Verify checks the whole file (format.md §6.4, full verification): every
// section's checksum, that padding is zero, that the offset and length
// tables describe the key data exactly with the keys in strictly ascending
// order, and that every key sits in one of its two buckets with its tag,
// length field and offset, in its second bucket only when its first is
// full, with buckets filled from their first slot. Together these prove
// that Has and Find reach every key by reading at most MaxProbe buckets,
// and that the filter, if there is one, holds exactly the bits the keys set.
// It also checks the header's bytes in the file again: that they are a
// valid header (§6.3), and the one the View was made with, which for a
// View made by NewViewOf was parsed from a copy. Verify reads every byte
// of the file; it returns nil or a *FormatError wrapping ErrCorrupt.
func (v *View) Verify() error {
	if err := v.verifyHeader(); err != nil {
		return err
	}
	if err := v.verifyChecksums(); err != nil {
		return err
	}
	if err := v.verifyTables(); err != nil {
		return err
	}
	if err := v.verifyBuckets(); err != nil {
		return err
	}
	return v.verifyFilter()
}

// verifyHeader checks that the file's first HeaderSize bytes are a valid
// header, v.Header: a file rewritten in place since the View was made
// (its header read with a read call, then mapped) may hold another. The
// zero View, of no bytes, has no header to check.
func (v *View) verifyHeader() error {
	if len(v.data) == 0 && v.Header == (Header{}) {
		return nil
	}
	h, err := ParseHeader(v.data, v.file)
	var fe *FormatError
	switch {
	case errors.As(err, &fe):
		return corrupt(v.file, SectionHeader, uint64(max(fe.Off, 0)), "%s (the header no longer parses)", fe.Msg)
	case err != nil:
		return err
	case h != v.Header:
		var want, got [HeaderSize]byte
		v.Header.Encode(want[:])
		h.Encode(got[:])
		off := 0
		for want[off] == got[off] {
			off++
		}
		return corrupt(v.file, SectionHeader, uint64(off), "header byte is %#02x, was %#02x when the file was opened", got[off], want[off])
	}
	return nil
}

func (v *View) verifyChecksums() error {
	for s := SectionBuckets; s < NumSections; s++ {
		e := v.Layout[s]
		if want, got := v.Header.SectionCRC[s-SectionBuckets], Checksum(v.data[e.Off:e.End]); want != got {
			return corrupt(v.file, s, e.Off, "checksum mismatch: header says %#08x, section has %#08x", want, got)
		}
		for i, b := range v.data[e.Off+e.Size : e.End] {
			if b != 0 {
				return corrupt(v.file, s, e.Off+e.Size+uint64(i), "padding byte is %#02x, want 0", b)
			}
		}
	}
	return nil
}

// verifyTables checks the offset and length tables against the key data.
func (v *View) verifyTables() error {
	offsets, lengths := v.Layout[SectionOffsets].Off, v.Layout[SectionLengths].Off
	var next, longest uint64
	var prev []byte
	for ord := range v.nkeys {
		off, n := v.entry(ord)
		if off != next {
			want := "the start of the key data"
			if ord > 0 {
				want = fmt.Sprintf("the end of key %d", ord-1)
			}
			return corrupt(v.file, SectionOffsets, offsets+ord*uint64(v.offsetWidth),
				"key %d starts at %d, want %d (%s)", ord, off, next, want)
		}
		if n > uint64(v.Header.MaxKeyLen) || next+n > uint64(len(v.keys)) {
			return corrupt(v.file, SectionLengths, lengths+ord*uint64(v.lengthWidth),
				"key %d is %d bytes: longer than the longest key (%d) or past the key data", ord, n, v.Header.MaxKeyLen)
		}
		key := v.keys[off : off+n]
		if ord > 0 && bytes.Compare(prev, key) >= 0 {
			return corrupt(v.file, SectionKeys, v.Layout[SectionKeys].Off+off,
				"key %d is not greater than key %d: keys must be strictly ascending", ord, ord-1)
		}
		prev, next, longest = key, next+n, max(longest, n)
	}
	if next != v.Header.KeyBytes {
		return corrupt(v.file, SectionKeys, v.Layout[SectionKeys].Off, "keys cover %d bytes, header says %d", next, v.Header.KeyBytes)
	}
	if longest != uint64(v.Header.MaxKeyLen) {
		return corrupt(v.file, SectionHeader, 68, "longest key is %d bytes, header says %d", longest, v.Header.MaxKeyLen)
	}
	return nil
}

// verifyBuckets checks that every key's slot (MakeSlot of its hash,
// length and offset) is in its first bucket, or in its second with the
// first full; that every bucket fills from its first slot; and that there
// are as many used slots as keys. Distinct keys have distinct slots, so
// the slots then hold the keys one to one, and Has finds each by reading
// at most MaxProbe buckets. It runs after verifyTables, so every ordinal
// below Len has a valid key.
func (v *View) verifyBuckets() error {
	base := v.Layout[SectionBuckets].Off
	slot := func(b uint64, i int) uint64 {
		return binary.LittleEndian.Uint64(v.buckets[b*BucketSize+uint64(i)*SlotSize:])
	}
	var used uint64
	for b := range v.nbuckets {
		for i := range BucketSlots {
			if slot(b, i) == 0 {
				continue
			}
			if i > 0 && slot(b, i-1) == 0 {
				return corrupt(v.file, SectionBuckets, base+b*BucketSize+uint64(i)*SlotSize, "used slot after an empty slot in bucket %d", b)
			}
			used++
		}
	}
	if used != v.nkeys {
		return corrupt(v.file, SectionBuckets, base, "%d slots are used, want one for each of %d keys", used, v.nkeys)
	}
	for ord := range v.nkeys {
		off, n := v.entry(ord)
		key, _ := v.Key(ord)
		h := Hash(v.k0, v.k1, key)
		s := MakeSlot(h, n, off)
		b1, b2 := Buckets(h, v.nbuckets)
		if v.bucketHolds(b1, s) {
			continue
		}
		if !v.bucketHolds(b2, s) {
			return corrupt(v.file, SectionBuckets, base+b1*BucketSize, "key %d (slot %#016x: tag %#04x, length field %d, offset %d) is in neither of its buckets %d and %d",
				ord, s, Tag(h), LenField(n), off, b1, b2)
		}
		if slot(b1, BucketSlots-1) == 0 {
			return corrupt(v.file, SectionBuckets, base+b2*BucketSize, "key %d is in its second bucket %d while its first, %d, has room", ord, b2, b1)
		}
	}
	return nil
}

// verifyFilterPiece is the most bytes of the filter verifyFilter rebuilds
// at once: one pass over the keys per piece.
const verifyFilterPiece = 64 << 20

// verifyFilter checks that the filter holds exactly the bits the file's
// keys set (format.md §3.1, §6.4): none missing, so that the filter never
// turns away a key the file holds, and none more, so that no bit of it
// can change unnoticed. It rebuilds the filter from the keys, in pieces
// of at most verifyFilterPiece bytes, and compares. It runs after
// verifyTables, so every ordinal below Len has a valid key.
func (v *View) verifyFilter() error {
	if v.nfilter == 0 {
		return nil
	}
	base := v.Layout[SectionFilter].Off
	per := uint64(verifyFilterPiece / FilterBlockSize) // blocks per piece
	var piece []byte
	for first := uint64(0); first < v.nfilter; first += per {
		n := min(per, v.nfilter-first)
		if piece == nil {
			piece = make([]byte, n*FilterBlockSize)
		}
		piece = piece[:n*FilterBlockSize]
		clear(piece)
		fill := NewFilterFiller(piece, first, v.nfilter)
		for ord := range v.nkeys {
			key, _ := v.Key(ord)
			fill.Add(FilterHash(key))
		}
		fill.Flush()
		have := v.filter[first*FilterBlockSize : (first+n)*FilterBlockSize]
		for i := range piece {
			if piece[i] == have[i] {
				continue
			}
			at := first*FilterBlockSize + uint64(i) // in the section
			blk, bit := at/FilterBlockSize, uint64(i%FilterBlockSize)*8
			if missing := piece[i] &^ have[i]; missing != 0 {
				bit += uint64(bits.TrailingZeros8(missing))
				return corrupt(v.file, SectionFilter, base+at, "bit %d of block %d is 0, but key %d sets it: the filter turns the key away",
					bit, blk, v.filterKeyWith(blk, bit))
			}
			bit += uint64(bits.TrailingZeros8(have[i] &^ piece[i]))
			return corrupt(v.file, SectionFilter, base+at, "bit %d of block %d is 1, but no key sets it", bit, blk)
		}
	}
	return nil
}

// filterKeyWith returns the first ordinal whose key sets bit bit of
// filter block blk.
func (v *View) filterKeyWith(blk, bit uint64) uint64 {
	for ord := range v.nkeys {
		key, _ := v.Key(ord)
		h := FilterHash(key)
		if FilterBlock(h, v.nfilter) != blk {
			continue
		}
		for i := range FilterProbes {
			if FilterBit(h, i) == bit {
				return ord
			}
		}
	}
	return v.nkeys // not reached: the bit was set for some key
}
