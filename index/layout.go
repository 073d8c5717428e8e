package index

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// A Section names one of the regions of a STRU file, in file order.
type Section uint8

// The sections of a STRU file, in the order they appear (format.md §1).
const (
	SectionHeader  Section = iota // the 128-byte header
	SectionBuckets                // Buckets × 64 bytes of slots
	SectionOffsets                // Keys × OffsetWidth bytes: where each key starts
	SectionLengths                // Keys × LengthWidth bytes: each key's length
	SectionKeys                   // KeyBytes bytes: the keys, ascending, concatenated
	SectionFilter                 // FilterBlocks × 64 bytes: the blocked Bloom filter
	NumSections                   // the number of sections; not a section
)

var sectionNames = [...]string{"header", "buckets", "offsets", "lengths", "keys", "filter"}

// String returns the section's name as format.md spells it.
func (s Section) String() string {
	if int(s) < len(sectionNames) {
		return sectionNames[s]
	}
	return "file"
}

// An Extent is where a section lies in the file: Size bytes of content at
// Off, followed by zero padding up to End, where the next section starts.
type Extent struct {
	Off, Size, End uint64
}

// A Layout gives the extent of every section, indexed by Section.
type Layout [NumSections]Extent

// PutUint writes v into b[:width] as width little-endian bytes, the
// encoding of every integer in the file (format.md §1, byte order): a
// slot (SlotSize bytes), an offset table entry (OffsetWidth) or a length
// table entry (LengthWidth). width is 1, 2, 4 or 8; v must fit in it.
func PutUint(b []byte, v uint64, width uint8) {
	switch width {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(b, v)
	default:
		panic("index.PutUint: width is not 1, 2, 4 or 8")
	}
}

// FileSize returns the size of the whole file: the end of the last section.
func (l *Layout) FileSize() uint64 { return l[NumSections-1].End }

// alignUp rounds n up to a multiple of Align.
func alignUp(n uint64) uint64 { return (n + Align - 1) &^ (Align - 1) }

// ComputeLayout returns the layout of a file with the given counts and
// widths (format.md §1), and false if the sizes overflow or exceed the
// largest file the format allows.
func ComputeLayout(keys, buckets, keyBytes, filterBlocks uint64, offsetWidth, lengthWidth uint8) (Layout, bool) {
	var l Layout
	sizes := [NumSections][2]uint64{
		SectionHeader:  {1, HeaderSize},
		SectionBuckets: {buckets, BucketSize},
		SectionOffsets: {keys, uint64(offsetWidth)},
		SectionLengths: {keys, uint64(lengthWidth)},
		SectionKeys:    {keyBytes, 1},
		SectionFilter:  {filterBlocks, FilterBlockSize},
	}
	var off uint64
	for s, nw := range sizes {
		hi, size := bits.Mul64(nw[0], nw[1])
		if hi != 0 || size >= maxFileSize || off+size >= maxFileSize {
			return l, false
		}
		l[s] = Extent{Off: off, Size: size, End: alignUp(off + size)}
		off = l[s].End
	}
	return l, true
}

// OffsetWidth returns the width of offset table entries in a file holding
// keyBytes bytes of key data: 4 when every offset fits in 32 bits, else 8.
func OffsetWidth(keyBytes uint64) uint8 {
	if keyBytes <= 1<<32 {
		return 4
	}
	return 8
}

// LengthWidth returns the width of length table entries in a file whose
// longest key is maxKeyLen bytes: 1 below 256 bytes, else 2.
func LengthWidth(maxKeyLen uint32) uint8 {
	if maxKeyLen < 1<<8 {
		return 1
	}
	return 2
}

// BucketCount returns the number of buckets for keys keys at the given load
// factor: at least ⌈keys / (8 × loadFactor)⌉ and 1, rounded up to a
// multiple of its number of blocks, so the blocks are of equal size. A
// load factor outside (0, 1], NaN included, counts as 1: a bucket holds
// at most 8 keys.
func BucketCount(keys uint64, loadFactor float64) uint64 {
	if !(loadFactor > 0 && loadFactor <= 1) {
		loadFactor = 1
	}
	nb := uint64(math.Ceil(float64(keys) / (BucketSlots * loadFactor)))
	if min := (keys + BucketSlots - 1) / BucketSlots; nb < min {
		nb = min // float rounding
	}
	nb = max(nb, 1)
	blocks := Blocks(nb)
	return blocks * ((nb + blocks - 1) / blocks)
}

// Layout checks that the header's counts, widths and file size are
// consistent with each other and with a file of fileSize bytes, and returns
// the sections' extents (format.md §6.3, checks 8–22, in that order). It is O(1).
func (h *Header) Layout(fileSize uint64, file string) (Layout, error) {
	bad := func(off uint64, format string, args ...any) (Layout, error) {
		return Layout{}, corrupt(file, SectionHeader, off, format, args...)
	}
	switch {
	case h.OffsetWidth != 4 && h.OffsetWidth != 8:
		return bad(64, "offset width is %d, want 4 or 8", h.OffsetWidth)
	case h.LengthWidth != 1 && h.LengthWidth != 2:
		return bad(65, "length width is %d, want 1 or 2", h.LengthWidth)
	case h.Keys > MaxKeys:
		return bad(24, "key count %d exceeds the maximum %d", h.Keys, uint64(MaxKeys))
	case h.Buckets == 0:
		return bad(32, "bucket count is 0, want at least 1")
	case h.Buckets > (1<<64-1)/BucketSlots || h.Buckets*BucketSlots < h.Keys:
		return bad(32, "bucket count %d cannot hold %d keys", h.Buckets, h.Keys)
	case h.Buckets%Blocks(h.Buckets) != 0:
		return bad(32, "bucket count %d is not a multiple of its %d blocks", h.Buckets, Blocks(h.Buckets))
	case h.MaxKeyLen > MaxKeyLen:
		return bad(68, "longest key length %d exceeds the maximum %d", h.MaxKeyLen, MaxKeyLen)
	case h.MaxKeyLen >= 1<<(8*uint(h.LengthWidth)):
		return bad(68, "longest key length %d does not fit a %d-byte length", h.MaxKeyLen, h.LengthWidth)
	case h.OffsetWidth == 4 && h.KeyBytes > 1<<32:
		return bad(40, "key data of %d bytes needs 8-byte offsets", h.KeyBytes)
	case h.KeyBytes > MaxKeyBytes:
		return bad(40, "key data of %d bytes exceeds the maximum %d", h.KeyBytes, uint64(MaxKeyBytes))
	}
	if hi, most := bits.Mul64(h.Keys, uint64(h.MaxKeyLen)); hi == 0 && h.KeyBytes > most {
		return bad(40, "key data of %d bytes exceeds %d keys of at most %d bytes", h.KeyBytes, h.Keys, h.MaxKeyLen)
	}
	if h.Keys == 0 && h.MaxKeyLen != 0 {
		return bad(68, "longest key length %d in a file with no keys", h.MaxKeyLen)
	}
	l, ok := ComputeLayout(h.Keys, h.Buckets, h.KeyBytes, h.FilterBlocks, h.OffsetWidth, h.LengthWidth)
	if !ok {
		return bad(16, "sections too large")
	}
	if l.FileSize() != h.FileSize {
		return bad(16, "file size field is %d, the counts give %d", h.FileSize, l.FileSize())
	}
	if fileSize != h.FileSize {
		return Layout{}, corrupt(file, NumSections, fileSize, "file is %d bytes, header says %d (truncated or trailing data)", fileSize, h.FileSize)
	}
	return l, nil
}
