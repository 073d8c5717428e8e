package index

import (
	"bytes"
	"encoding/binary"
)

// Verify checks the whole file (format.md §6.4, full verification): every
// section's checksum, that padding is zero, that the offset and length
// tables describe the key data exactly with the keys in strictly ascending
// order, and that every key sits in one of its two buckets with its tag, in
// its second bucket only when its first is full, with buckets filled from
// their first slot. Together these prove that Find reaches every key by
// reading at most MaxProbe buckets. Verify reads every byte of the file; it
// returns nil or a *FormatError wrapping ErrCorrupt.
func (v *View) Verify() error {
	if err := v.verifyChecksums(); err != nil {
		return err
	}
	if err := v.verifyTables(); err != nil {
		return err
	}
	return v.verifyBuckets()
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
			return corrupt(v.file, SectionOffsets, offsets+ord*uint64(v.offsetWidth),
				"key %d starts at %d, want %d (the end of key %d)", ord, off, next, int64(ord)-1)
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

// verifyBuckets checks that every key is in exactly one slot, and that the
// slot is where Find looks for it. It runs after verifyTables, so every
// ordinal below Len has a valid key.
func (v *View) verifyBuckets() error {
	seen := make([]uint64, (v.nkeys+63)/64)
	base := v.Layout[SectionBuckets].Off
	slot := func(b uint64, i int) uint64 {
		return binary.LittleEndian.Uint64(v.buckets[b*BucketSize+uint64(i)*SlotSize:])
	}
	var used uint64
	for b := range v.nbuckets {
		for i := range BucketSlots {
			at := base + b*BucketSize + uint64(i)*SlotSize
			s := slot(b, i)
			if s == 0 {
				continue
			}
			if i > 0 && slot(b, i-1) == 0 {
				return corrupt(v.file, SectionBuckets, at, "used slot after an empty slot in bucket %d", b)
			}
			ord, ok := SlotOrdinal(s)
			if !ok || ord >= v.nkeys {
				return corrupt(v.file, SectionBuckets, at, "slot %#016x holds no ordinal below the key count %d", s, v.nkeys)
			}
			if seen[ord/64]&(1<<(ord%64)) != 0 {
				return corrupt(v.file, SectionBuckets, at, "key %d is in more than one slot", ord)
			}
			seen[ord/64] |= 1 << (ord % 64)
			used++
			key, _ := v.Key(ord)
			h := Hash(v.k0, v.k1, key)
			if SlotTag(s) != Tag(h) {
				return corrupt(v.file, SectionBuckets, at, "slot of key %d has tag %#06x, the key's hash gives %#06x", ord, SlotTag(s), Tag(h))
			}
			b1, b2 := Buckets(h, v.nbuckets)
			if b != b1 && b != b2 {
				return corrupt(v.file, SectionBuckets, at, "key %d is in bucket %d, its buckets are %d and %d", ord, b, b1, b2)
			}
			if b != b1 && slot(b1, BucketSlots-1) == 0 {
				return corrupt(v.file, SectionBuckets, at, "key %d is in its second bucket %d while its first, %d, has room", ord, b, b1)
			}
		}
	}
	if used != v.nkeys {
		return corrupt(v.file, SectionBuckets, base, "%d slots are used, want one for each of %d keys", used, v.nkeys)
	}
	return nil
}
