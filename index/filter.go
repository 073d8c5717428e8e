package index

import (
	"math/bits"
	"unsafe"

	"github.com/zeebo/xxh3"

	"github.com/stru-index/stru/internal/prefetch"
)

// The filter (format.md §3.1) is a blocked Bloom filter over the keys,
// indexed by a hash that is not the table's: XXH3, which takes about a
// fifth of the time of SipHash-2-4 on keys of 8 to 64 bytes (5.5 ns
// against 26 here), and half that of XXH64. A lookup tests the filter
// first, and a key the filter rejects is absent without the SipHash or a
// read of the buckets.
// The filter is unkeyed: a query crafted to pass it costs what every
// lookup costs without a filter, and the bucket table, which bounds every
// lookup, stays under the file's SipHash key.
const (
	FilterBlockSize = 64 // bytes per filter block: one cache line, 512 bits
	FilterProbes    = 4  // bits set per key, all in the key's block
	filterBitShift  = 9  // bits of the filter hash per probe: log2(512)
)

// FilterHash returns the filter hash of key: XXH3-64 with seed 0 and the
// default secret over exactly the key's bytes (format.md §3.1).
func FilterHash(key []byte) uint64 { return xxh3.Hash(key) }

// FilterBlocks returns the number of filter blocks for keys keys at
// bitsPerKey bits per key: ⌈keys × bitsPerKey / 512⌉, 0 for no filter.
// Where keys × bitsPerKey exceeds 2^63 (no count of keys a file holds
// reaches that at the builder's most of 64 bits a key) it returns 2^58,
// more than any file can hold, which ComputeLayout refuses.
func FilterBlocks(keys, bitsPerKey uint64) uint64 {
	hi, bitCount := bits.Mul64(keys, bitsPerKey)
	if hi != 0 || bitCount > 1<<63 {
		return 1 << 58 // more than any file can hold: 64 × 2^58 overflows, and ComputeLayout refuses it
	}
	return (bitCount + FilterBlockSize*8 - 1) / (FilterBlockSize * 8)
}

// FilterBlock returns the filter block of a key with filter hash h in a
// filter of blocks blocks: hi64(h × blocks), in [0, blocks) for blocks ≥ 1
// (0 for none).
func FilterBlock(h, blocks uint64) uint64 {
	b, _ := bits.Mul64(h, blocks)
	return b
}

// FilterBit returns the i-th of the FilterProbes bits, in [0, 512), that a
// key with filter hash h sets in its block: bits 9i to 9i+8 of h. Bit p
// of a block is bit p mod 8 of its byte p / 8.
func FilterBit(h uint64, i int) uint64 { return h >> (filterBitShift * i) & (FilterBlockSize*8 - 1) }

// fillAhead is how many keys a FilterFiller holds back: how many filter
// blocks it has on their way to the cache at once.
const fillAhead = 32

// A FilterFiller sets the bits of a stream of keys in piece, the blocks
// from first on of a filter of blocks blocks, ignoring the keys whose
// block is not in the piece. With first 0 and the whole filter as piece
// it adds every key; a builder short of memory, or Verify, builds the
// filter a piece at a time, since a key's block rises with its filter
// hash.
//
// A key's block is anywhere in the filter, a cache miss once the filter
// outgrows the cache. So Add prefetches the block and holds the key back,
// and sets its bits fillAhead keys later, when the block has arrived:
// the misses of consecutive keys overlap, where setting each key's bits
// at once waits for them one after another (BenchmarkFilterFill, a filter
// of 10 million keys: 14–17 ns a key against 29–69). Flush sets the bits
// of the keys still held.
type FilterFiller struct {
	piece         []byte
	first, blocks uint64
	held          [fillAhead]uint64 // filter hashes of keys whose bits are not set yet
	added         uint64            // keys held since the last Flush; the last min(added, fillAhead) are in held
}

// NewFilterFiller returns a FilterFiller of the blocks from first on of
// a filter of blocks blocks, which piece holds.
func NewFilterFiller(piece []byte, first, blocks uint64) *FilterFiller {
	return &FilterFiller{piece: piece, first: first, blocks: blocks}
}

// Add sets the bits of a key with filter hash h, if its block is in the
// piece: now or by the next Flush.
func (f *FilterFiller) Add(h uint64) {
	b := FilterBlock(h, f.blocks) - f.first // wraps for blocks before the piece
	if b >= uint64(len(f.piece))/FilterBlockSize {
		return
	}
	prefetch.Line(unsafe.Pointer(&f.piece[b*FilterBlockSize]))
	i := f.added % fillAhead
	if f.added >= fillAhead {
		f.set(f.held[i])
	}
	f.held[i] = h
	f.added++
}

// Flush sets the bits of the keys Add holds back. After it the piece
// holds the bits of every key added.
func (f *FilterFiller) Flush() {
	for i := range min(f.added, fillAhead) {
		f.set(f.held[i])
	}
	f.added = 0
}

// set sets the bits of a key with filter hash h, whose block is in the
// piece.
func (f *FilterFiller) set(h uint64) {
	FilterSet(f.piece[(FilterBlock(h, f.blocks)-f.first)*FilterBlockSize:], h)
}

// FilterSet sets the bits of a key with filter hash h in block, the
// first FilterBlockSize bytes of which are the key's filter block
// (FilterBlock).
func FilterSet(block []byte, h uint64) {
	block = block[:FilterBlockSize]
	for i := range FilterProbes {
		p := FilterBit(h, i)
		block[p>>3] |= 1 << (p & 7)
	}
}

// mayHave reports whether the filter lets key through: true if the file
// has no filter, else whether the key's bits are all set in its block.
// A false answer means the key is absent.
func (v *View) mayHave(key []byte) bool {
	if v.nfilter == 0 {
		return true
	}
	return v.filterHas(FilterHash(key))
}

// filterHas is mayHave for a key whose filter hash h the caller has
// computed; the View must have a filter.
func (v *View) filterHas(h uint64) bool {
	blk := FilterBlock(h, v.nfilter) // < nfilter, and the section holds nfilter blocks
	block := (*[FilterBlockSize]byte)(v.filter[blk*FilterBlockSize:])
	bit := func(i int) byte { p := FilterBit(h, i); return block[p>>3] >> (p & 7) }
	return bit(0)&bit(1)&bit(2)&bit(3)&1 != 0
}
