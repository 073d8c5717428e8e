package builder

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
)

// A keyBuf holds keys in memory: their bytes in an arena, and a record per
// key. The arena is made of chunks, so that it grows without copying; no
// key straddles two chunks. Chunk i holds the arena's offsets from
// i<<chunkShift; the first chunks are smaller than 1<<chunkShift (see
// chunkCap), so that a few keys do not take a whole chunk of memory.
// chunks[:nchunks] are in use, the rest are empty and kept for reuse.
type keyBuf struct {
	chunks     [][]byte
	nchunks    int
	chunkShift uint
	chunkBytes int64    // the capacity of chunks, summed
	recs       []record // one per key held; sorted and deduplicated by sortKeys
	sorted     bool     // recs are sorted and distinct
}

// A record locates one key in the arena. prefix holds its first 8 bytes
// big-endian, zero-padded, so most comparisons while sorting never touch
// the arena.
type record struct {
	prefix uint64
	offLen uint64 // offset in the arena << 16 | length
}

func (r record) off() uint64 { return r.offLen >> 16 }
func (r record) len() uint64 { return r.offLen & 0xffff }

// key returns the bytes of the key r locates.
func (kb *keyBuf) key(r record) []byte {
	c := kb.chunks[r.off()>>kb.chunkShift]
	at := r.off() & (1<<kb.chunkShift - 1)
	return c[at : at+r.len()]
}

// hold appends key to the arena and its record to recs, growing them.
func (kb *keyBuf) hold(key []byte) {
	if kb.needChunk(len(key)) {
		if kb.nchunks == len(kb.chunks) {
			c := kb.chunkCap(len(kb.chunks))
			kb.chunks = append(kb.chunks, make([]byte, 0, c))
			kb.chunkBytes += int64(c)
		}
		kb.nchunks++
	}
	if len(kb.recs) == cap(kb.recs) {
		kb.recs = slices.Grow(kb.recs, recsGrowth(cap(kb.recs)))
	}
	c := &kb.chunks[kb.nchunks-1]
	off := uint64(kb.nchunks-1)<<kb.chunkShift | uint64(len(*c))
	*c = append(*c, key...)
	var pre [8]byte
	copy(pre[:], key)
	kb.recs = append(kb.recs, record{
		prefix: binary.BigEndian.Uint64(pre[:]),
		offLen: off<<16 | uint64(len(key)),
	})
	kb.sorted = false
}

// needChunk reports whether a key of n bytes needs a chunk of its own. A
// full chunk takes no more keys, not even the empty key: its offset would
// be the start of the next chunk, which may not exist.
func (kb *keyBuf) needChunk(n int) bool {
	if kb.nchunks == 0 {
		return true
	}
	c := kb.chunks[kb.nchunks-1]
	return len(c)+n > cap(c) || len(c) == cap(c)
}

// chunkCap returns the capacity of chunk i: minChunk, doubling with each
// chunk up to 1<<chunkShift. A chunk of minChunk bytes holds the longest
// key.
func (kb *keyBuf) chunkCap(i int) int {
	full := 1 << kb.chunkShift
	if i >= bits.Len(uint(full/minChunk)) {
		return full
	}
	return minChunk << i
}

// recsGrowth is how many records recs grows by when full.
func recsGrowth(c int) int { return max(c/4, 4096) }

// heldBytes is the memory of the arena and the records.
func (kb *keyBuf) heldBytes() int64 {
	return kb.chunkBytes + recordSize*int64(cap(kb.recs))
}

// fits reports whether a key of n bytes can be held within limit bytes.
// When no key is held it always can, so that a tiny limit still makes
// progress.
func (kb *keyBuf) fits(n int, limit int64) bool {
	newChunk := kb.needChunk(n) && kb.nchunks == len(kb.chunks)
	growRecs := len(kb.recs) == cap(kb.recs)
	if len(kb.recs) == 0 || !newChunk && !growRecs {
		return true
	}
	need := kb.heldBytes()
	if newChunk {
		need += int64(kb.chunkCap(len(kb.chunks)))
	}
	if growRecs {
		need += recordSize * int64(recsGrowth(cap(kb.recs)))
	}
	return need <= limit
}

// release drops the keys held, keeping the arena's chunks and the
// records' array for reuse when keep is set, freeing them otherwise.
func (kb *keyBuf) release(keep bool) {
	for i := range kb.nchunks {
		kb.chunks[i] = kb.chunks[i][:0]
	}
	kb.nchunks = 0
	kb.recs = kb.recs[:0]
	if !keep {
		kb.chunks, kb.recs, kb.chunkBytes = nil, nil, 0
	}
	kb.sorted = true
}

// sortKeys sorts the records by key and drops duplicates.
func (kb *keyBuf) sortKeys() {
	if kb.sorted {
		return
	}
	kb.sortRecords(kb.recs, 56)
	kb.recs = slices.CompactFunc(kb.recs, func(x, y record) bool {
		return x.prefix == y.prefix && bytes.Equal(kb.key(x), kb.key(y))
	})
	kb.sorted = true
}

// radixMin is the fewest records sortRecords splits by a byte of their
// prefix rather than sorting by comparisons.
const radixMin = 1 << 12

// sortRecords sorts recs by key. Their prefixes agree above bit shift+8:
// it splits them in place into 256 groups by the prefix byte at shift
// (American flag sort), then sorts each group the same way by the next
// byte, down to groups small enough to sort by comparisons in cache.
// Random keys of n records thus cost about n·log(n/256) comparisons made
// in cache, where a comparison sort of them all would miss the cache on
// most of its n·log(n).
func (kb *keyBuf) sortRecords(recs []record, shift uint) {
	if len(recs) < radixMin || shift > 56 {
		slices.SortFunc(recs, func(x, y record) int {
			if c := cmp.Compare(x.prefix, y.prefix); c != 0 {
				return c
			}
			return bytes.Compare(kb.key(x), kb.key(y))
		})
		return
	}
	var count, next [257]int
	for _, r := range recs {
		count[byte(r.prefix>>shift)]++
	}
	for d := range 256 {
		next[d+1] = next[d] + count[d]
	}
	start := next // start[d] is where group d begins; start[256] = len(recs)
	for d := range 256 {
		for next[d] < start[d+1] {
			r := recs[next[d]]
			for e := byte(r.prefix >> shift); int(e) != d; e = byte(r.prefix >> shift) {
				r, recs[next[e]] = recs[next[e]], r
				next[e]++
			}
			recs[next[d]] = r
			next[d]++
		}
	}
	for d := range 256 {
		if group := recs[start[d]:start[d+1]]; len(group) > 1 {
			kb.sortRecords(group, shift-8) // shift 0 wraps above 56: sort by comparisons
		}
	}
}
