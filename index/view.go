package index

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/stru-index/stru/internal/prefetch"
)

// A View answers queries from the bytes of a STRU file held in memory,
// without copying or parsing them: NewView checks the header in O(1) and
// slices out the sections; every later read is bounds-checked, so a file
// whose sections are damaged yields wrong answers or errors from Verify,
// never a panic or a read outside data.
//
// A View is immutable and safe for concurrent use; callers must not
// modify its Header or Layout, which its methods trust. The zero View
// holds no keys and answers false to every lookup.
type View struct {
	Header Header // the decoded header
	Layout Layout // where each section lies in the file

	file                            string // for errors
	data                            []byte // the whole file
	buckets, offsets, lengths, keys []byte // the sections, without padding
	filter                          []byte // the filter section, without padding; empty for no filter
	nfilter                         uint64 // filter blocks: len(filter) / FilterBlockSize
	k0, k1                          uint64 // the SipHash key
	nkeys, nbuckets                 uint64
	blocks, perBlock                uint64 // Blocks(nbuckets), nbuckets/blocks
	offsetWidth, lengthWidth        uint8
}

// NewView validates the header of the file held in data (format.md §6.3) and
// returns a View of it. file names the file in errors; it may be "".
// NewView reads only the header: it is O(1) whatever the file's size.
func NewView(data []byte, file string) (View, error) {
	h, err := ParseHeader(data, file)
	if err != nil {
		return View{}, err
	}
	return NewViewOf(data, h, file)
}

// NewViewOf is NewView for a file whose header h the caller has parsed
// (ParseHeader) from a copy of its first HeaderSize bytes: it checks h
// against len(data) and the sections (format.md §6.3) without reading
// data. reader.Open reads the header with a read call before it maps the
// file, so that opening a file does not fault in a page of the mapping
// (which costs more the larger the file: see reader.Open).
func NewViewOf(data []byte, h Header, file string) (View, error) {
	l, err := h.Layout(uint64(len(data)), file)
	if err != nil {
		return View{}, err
	}
	section := func(s Section) []byte { return data[l[s].Off : l[s].Off+l[s].Size : l[s].Off+l[s].Size] }
	k0, k1 := h.HashKey.Halves()
	blocks := Blocks(h.Buckets) // ≥ 1, and h.Buckets is a multiple of it: Layout checked
	return View{
		Header: h, Layout: l, file: file, data: data,
		buckets: section(SectionBuckets), offsets: section(SectionOffsets),
		lengths: section(SectionLengths), keys: section(SectionKeys),
		filter: section(SectionFilter), nfilter: h.FilterBlocks,
		k0: k0, k1: k1, nkeys: h.Keys, nbuckets: h.Buckets,
		blocks: blocks, perBlock: h.Buckets / blocks,
		offsetWidth: h.OffsetWidth, lengthWidth: h.LengthWidth,
	}, nil
}

// Len returns the number of keys.
func (v *View) Len() uint64 { return v.nkeys }

// Data returns the bytes of the whole file.
func (v *View) Data() []byte { return v.data }

// HashOf returns the hash of key under the file's hash key.
func (v *View) HashOf(key []byte) uint64 { return Hash(v.k0, v.k1, key) }

// scanResult is what reading one bucket for a key found.
type scanResult uint8

const (
	missed scanResult = iota // an empty slot: the key is not in the file
	found                    // the key is in this bucket
	full                     // the bucket is full and the key is not in it
)

// Has reports whether key is present. It tests the filter first (§3.1;
// for a filter too large for the cache, except on the AVX-512 path, it
// asks for the key's filter block and bucket before reading either:
// locateHashFirst), and for a key that passes scans the key's first
// bucket and, only if that bucket is full, its second (format.md §4),
// whose first slot it loads before scanning the first, so that the two
// reads overlap when both are needed; then it compares the
// key data at the slots whose tag and length field match (for a key of
// LongKey bytes or more, through its ordinal: ordinalAt). Where the
// processor has AVX-512 it hashes and scans in vector registers
// (probe.go), with the same answers.
func (v *View) Has(key []byte) bool {
	_, ok := v.locate(key)
	return ok
}

// Find returns the ordinal of key, and whether it is present: Has, then a
// search of the offset table for the key's offset (ordinalAt). In a
// damaged file (offsets out of order) the search may fail where Has
// found the key: Find then reports it absent (format.md §4).
func (v *View) Find(key []byte) (ordinal uint64, ok bool) {
	s, ok := v.locate(key)
	if !ok {
		return 0, false
	}
	return v.ordinalAt(s&offMask-1, uint64(len(key)))
}

// HasHashed is Has for a key whose hash h the caller has computed, without
// the filter: it goes to the key's buckets at once. On a valid file its
// answer is Has's; on one whose filter is damaged, it may differ.
func (v *View) HasHashed(key []byte, h uint64) bool {
	_, ok := v.locateHashed(key, h)
	return ok
}

// FindHashed is Find for a key whose hash h the caller has computed,
// without the filter, as HasHashed.
func (v *View) FindHashed(key []byte, h uint64) (ordinal uint64, ok bool) {
	s, ok := v.locateHashed(key, h)
	if !ok {
		return 0, false
	}
	return v.ordinalAt(s&offMask-1, uint64(len(key)))
}

// locate returns the slot holding key, and whether there is one.
func (v *View) locate(key []byte) (slot uint64, ok bool) {
	if v.nfilter >= hashFirstBlocks && !useProbe { // hashFirstBlocks ≥ 1: only files with a filter
		return v.locateHashFirst(key)
	}
	if !v.mayHave(key) {
		return 0, false
	}
	if useProbe && len(v.buckets) > 0 {
		return v.locateProbed(key)
	}
	return v.locateHashed(key, Hash(v.k0, v.k1, key))
}

// hashFirstBlocks is the size of filter, in blocks, from which locate
// hashes a key and asks for its first bucket before it tests the filter
// (locateHashFirst): 4 MiB, the filter of about 5.6 million keys at the
// default 6 bits a key. It is at least 1, so files without a filter
// never take that path; nor does the AVX-512 path (useProbe), which
// tests the filter first whatever its size.
var hashFirstBlocks uint64 = 4 << 20 / FilterBlockSize

// locateHashFirst is locate for a file whose filter is larger than a
// process can expect to keep in the cache. Testing the filter first, a
// present key waits for its filter block, a cache miss, while the
// SipHash fills the processor's out-of-order window, and its bucket is
// read only after the block arrives: two cache misses one after the
// other before the key's bytes, a third. Here a lookup asks for the
// filter block (a prefetch, which does not wait), hashes the key and asks
// for its first bucket, and only then reads the filter: the two misses
// overlap each other and the SipHash. An absent key pays the SipHash that
// the filter would have spared it, which its filter block's miss mostly
// hides at this size.
//
// With 10 million keys (a 7.5 MB filter), in BenchmarkContainsPaired
// (STRU_BENCH_10M=1, -bench 'ContainsPaired/keys=10000000/' -count 2),
// each binary run alternately: testing the filter first, a hit took
// 576–719 ns and a miss 131–174 (3 runs each); hashing first without the
// filter prefetch, 439–564 and 188–235 (3 runs), then 509–654 and
// 178–276 in 2 more runs beside this code's 437–517 and 116–174. With 1
// million keys (750 KB of filter) hashing first gained 5% on hits and
// cost misses 1.7 times their time, so smaller files test the filter
// first.
func (v *View) locateHashFirst(key []byte) (slot uint64, ok bool) {
	fh := FilterHash(key)
	prefetch.Line(unsafe.Pointer(&v.filter[FilterBlock(fh, v.nfilter)*FilterBlockSize])) // < nfilter blocks, which the section holds
	h := Hash(v.k0, v.k1, key)
	b1, _ := bucketsIn(h, v.blocks, v.perBlock)
	if off := b1 * BucketSize; off < uint64(len(v.buckets)) { // not for the zero View, which has no buckets
		prefetch.Line(unsafe.Pointer(&v.buckets[off]))
	}
	if !v.filterHas(fh) {
		return 0, false
	}
	return v.locateHashed(key, h)
}

// locateHashed is locate for a key whose hash h the caller has computed.
func (v *View) locateHashed(key []byte, h uint64) (slot uint64, ok bool) {
	b1, b2 := bucketsIn(h, v.blocks, v.perBlock)
	if b2 >= uint64(len(v.buckets))/BucketSize { // only for the zero View: b1, b2 < Buckets
		return 0, false
	}
	// Load the second bucket's first slot before reading the first bucket,
	// so that when the first is full the two cache misses overlap instead
	// of following each other.
	first2 := binary.LittleEndian.Uint64(v.buckets[b2*BucketSize:])
	m := Match(h, uint64(len(key)))
	s, res := v.scan(b1, m, key)
	if res != full || b2 == b1 || first2 == 0 {
		return s, res == found
	}
	s, res = v.scan(b2, m, key)
	return s, res == found
}

// scan looks for key, whose tag and length field are m (Match), in bucket
// b, and returns its slot if found.
func (v *View) scan(b, m uint64, key []byte) (uint64, scanResult) {
	off := b * BucketSize
	if off >= uint64(len(v.buckets)) { // only for the zero View: NewView checked b < Buckets
		return 0, missed
	}
	bucket := (*[BucketSize]byte)(v.buckets[off : off+BucketSize])
	for i := 0; i < BucketSize; i += SlotSize {
		s := binary.LittleEndian.Uint64(bucket[i : i+SlotSize])
		if s == 0 {
			return 0, missed
		}
		if s>>matchShift == m && v.slotIs(s, key) {
			return s, found
		}
	}
	return 0, full
}

// slotIs reports whether slot s, which has key's tag and length field,
// holds key. A key shorter than LongKey bytes is at the slot's offset, and
// the length field is its length; for a longer key the slot's length field
// says only that it is long, so its ordinal is found (ordinalAt) and its
// length read from the length table. A damaged file gives false where a
// slot points outside the key data.
func (v *View) slotIs(s uint64, key []byte) bool {
	n := uint64(len(key))
	off := s&offMask - 1 // 2^64-1 if the offset field is 0 (a damaged file): keyAt and keyIs refuse it
	if n < LongKey {
		return v.keyAt(off, off+n, key)
	}
	ord, ok := v.ordinalAt(off, n)
	return ok && v.keyIs(ord, key)
}

// ordinalAt returns the ordinal of the key of n bytes at offset off in the
// key data (format.md §5): 0 for the empty key, which sorts first; else
// the last ordinal whose offset is at most off, which must be off. It
// returns false if there is none: only in a damaged file.
//
// The search is an interpolation search of the offset table, which rises
// by each key's length: it guesses the ordinal from where off lies between
// two known offsets, reads the offsets a window on either side of the
// guess (two reads that do not wait for each other), and goes on inside
// the window, or beyond it if the guess was wrong. Where the guesses land
// in their windows, three rounds take 10 million ordinals to ranges of
// 4096, 64 and 8, and bisection finishes; a binary search would read
// about 23 offsets one after another. A round that does not halve the
// range is followed by a bisection step, so no order of lengths takes
// more than about twice as many rounds as a binary search takes steps (a
// table of up to smallTable keys is bisected throughout). Only the offsets
// read decide each step, so a damaged table (offsets out of order) still
// ends the search, inside the table.
func (v *View) ordinalAt(off, n uint64) (uint64, bool) {
	if v.nkeys == 0 {
		return 0, false
	}
	if n == 0 {
		return 0, true
	}
	lo, hi := uint64(0), v.nkeys
	if v.nkeys > smallTable {
		lo, hi = v.interpolate(off)
	}
	// Bisect [lo, hi) for the first ordinal above lo whose offset is
	// above off, or hi if none is; the answer is the one before it.
	l, h := lo+1, hi
	for l < h {
		mid := l + (h-l)/2
		if v.offset(mid) <= off {
			l = mid + 1
		} else {
			h = mid
		}
	}
	if v.offset(l-1) != off {
		return 0, false
	}
	return l - 1, true
}

// interpolate returns the range [lo, hi) of ordinals, of at most
// interpolateAbove, in which ordinalAt's answer for off lies: offset(lo)
// ≤ off < offset(hi), taking offset(nkeys) as the size of the key data.
// If off is not between offset(0) and that size (a damaged file) it
// returns [0, nkeys). It is a function of its own so that its registers
// do not crowd the bisection of small tables, which it made 10% slower.
func (v *View) interpolate(off uint64) (lo, hi uint64) {
	lo, hi = 0, v.nkeys
	olo, ohi := v.offset(0), uint64(len(v.keys))
	if olo > off || off >= ohi {
		return lo, hi
	}
	bisect := false
	for hi-lo > interpolateAbove {
		size := hi - lo
		if bisect {
			mid := lo + size/2
			if o := v.offset(mid); o <= off {
				lo, olo = mid, o
			} else {
				hi, ohi = mid, o
			}
			bisect = false
			continue
		}
		// The guess g = lo + (off-olo)·size/(ohi-olo), in [lo, hi):
		// olo ≤ off < ohi, so the fraction is below 1 (min guards
		// against rounding). A float division takes a fraction of the
		// time of a 128-bit integer one.
		frac := float64(off-olo) / float64(ohi-olo)
		g := lo + min(uint64(frac*float64(size)), size-1)
		w := uint64(1) << (bits.Len64(size) / 2) >> 1 // about √size / 2
		a := max(g, lo+w) - w                         // max(g-w, lo), without wrapping
		b := min(g+w, hi-1)
		a = max(a, lo+1)
		b = max(b, a)
		oa, ob := v.offset(a), v.offset(b)
		switch {
		case ob <= off:
			lo, olo = b, ob
		case oa > off:
			hi, ohi = a, oa
		default:
			lo, olo, hi, ohi = a, oa, b, ob
		}
		bisect = hi-lo > size/2
	}
	return lo, hi
}

// ordinalAt bisects ranges of at most interpolateAbove ordinals (32
// offsets are two cache lines or fewer), and the whole of a table of at
// most smallTable keys (32 KiB of offsets or fewer, in cache when lookups
// are frequent), where interpolation's arithmetic costs more than the
// reads it saves: Lookup at 1 000 keys took 75 ns interpolating, 68
// bisecting.
const (
	interpolateAbove = 32
	smallTable       = 4096
)

// offset returns the offset table entry of ordinal ord, below Len.
func (v *View) offset(ord uint64) uint64 {
	if v.offsetWidth == 4 {
		return uint64(binary.LittleEndian.Uint32(v.offsets[ord*4:]))
	}
	return binary.LittleEndian.Uint64(v.offsets[ord*8:])
}

// keyIs reports whether the key with the given ordinal is key. An ordinal,
// offset or length out of range (a damaged file) gives false.
func (v *View) keyIs(ord uint64, key []byte) bool {
	if ord >= v.nkeys {
		return false
	}
	start, end := v.span(ord)
	return v.keyAt(start, end, key)
}

// keyAt reports whether the bytes [start, end) of the key data are key. A
// span outside the key data (a damaged file) gives false.
func (v *View) keyAt(start, end uint64, key []byte) bool {
	if end-start != uint64(len(key)) || end > uint64(len(v.keys)) || end < start {
		return false
	}
	return string(v.keys[start:end]) == string(key)
}

// span returns where the key with ordinal ord, which must be below Len,
// lies in the key data: from its offset table entry to the next key's, or
// to the end of the key data for the last key. In a valid file that is the
// offset plus the length table entry (format.md §5); the lookups read it
// this way because the two offsets usually share a cache line, while the
// length table entry would be one more cache miss. In a damaged file the
// span may be anything; callers check it against the key data.
func (v *View) span(ord uint64) (start, end uint64) {
	end = uint64(len(v.keys))
	if v.offsetWidth == 4 {
		start = uint64(binary.LittleEndian.Uint32(v.offsets[ord*4:]))
		if ord+1 < v.nkeys {
			end = uint64(binary.LittleEndian.Uint32(v.offsets[ord*4+4:]))
		}
	} else {
		start = binary.LittleEndian.Uint64(v.offsets[ord*8:])
		if ord+1 < v.nkeys {
			end = binary.LittleEndian.Uint64(v.offsets[ord*8+8:])
		}
	}
	return start, end
}

// entry returns the offset table and length table entries of ordinal ord,
// which must be below Len (format.md §5).
func (v *View) entry(ord uint64) (off, n uint64) {
	off = v.offset(ord)
	if v.lengthWidth == 1 {
		n = uint64(v.lengths[ord])
	} else {
		n = uint64(binary.LittleEndian.Uint16(v.lengths[ord*2:]))
	}
	return off, n
}

// Key returns the key with ordinal ord, a slice of the file's bytes, and
// false if ord is not below Len or its offset table entries (its own and
// the next, or the end of the key data for the last key) point outside
// the key data or span more bytes than the header's longest key (a
// damaged file). It does not read the length table.
func (v *View) Key(ord uint64) ([]byte, bool) {
	if ord >= v.nkeys {
		return nil, false
	}
	start, end := v.span(ord)
	if end > uint64(len(v.keys)) || end < start || end-start > uint64(v.Header.MaxKeyLen) {
		return nil, false
	}
	return v.keys[start:end:end], true
}

// Search returns the smallest ordinal whose key is not less than key, or Len
// if there is none, by binary search over the sorted keys. In a damaged file
// whose keys are out of order the answer is some ordinal in [0, Len].
func (v *View) Search(key []byte) uint64 {
	lo, hi := uint64(0), v.nkeys
	for lo < hi {
		mid := lo + (hi-lo)/2
		k, _ := v.Key(mid)
		if bytes.Compare(k, key) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
