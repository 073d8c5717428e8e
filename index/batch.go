package index

import (
	"encoding/binary"
	"unsafe"

	"github.com/stru-index/stru/internal/prefetch"
)

// batchSize is how many lookups FindBatch interleaves: enough that a
// stage's work on the later keys of a group covers most of the memory
// latency of the prefetches it issued for the first ones, and at most 256,
// so that a key's index in a group fits the uint8 lists of findGroup.
const batchSize = 64

// A batchSize over 256 would not compile: a negative array length.
var _ [256 - batchSize]struct{}

// FindBatch sets present[i] to whether keys[i] is present, for every i below
// len(keys); present must be at least as long as keys. It answers exactly as
// Has does, but for groups of 64 keys at a time, in stages:
//
//  1. hash every key, eight at a time where the processor has AVX-512
//     and four where it has AVX2 (hashLanes); then prefetch each key's
//     first bucket;
//  2. scan each key's first bucket for a slot with its tag and length;
//     prefetch the first and last byte of the key data the slot points
//     at (a key of up to 64 bytes lies in at most two cache lines), and
//     the second bucket of each key whose first is full without a match;
//  3. scan those second buckets, and prefetch their candidates' key data;
//  4. compare.
//
// A single Has waits for memory once per cache miss, and the next lookup
// cannot start meanwhile: the hash's instructions fill the processor's
// out-of-order window. A prefetch does not hold up the instructions after
// it, so here the cache misses of a stage travel while the stage goes on
// with the next keys, and a group waits for memory about once per stage
// rather than once per key and stage. FindBatch reads a second bucket only
// when it is needed: unlike a single lookup, a batch is bounded by the
// number of cache misses, not by their order. Hashing the keys one at a
// time would take about as long as all those cache misses; where the
// processor can, hashLanes hashes several side by side in less.
func (v *View) FindBatch(keys [][]byte, present []bool) {
	present = present[:len(keys)]
	for len(keys) > 0 {
		n := min(len(keys), batchSize)
		v.filterGroup(keys[:n], present[:n])
		keys, present = keys[n:], present[n:]
	}
}

// filterGroup is FindBatch for at most batchSize keys: stage 0, then
// findGroup for the keys that pass the filter.
func (v *View) filterGroup(keys [][]byte, present []bool) {
	if v.nfilter == 0 {
		v.findGroup(keys, present)
		return
	}
	var (
		fh     [batchSize]uint64
		passed [batchSize][]byte // the keys the filter lets through
		at     [batchSize]uint8  // their index in keys
		got    [batchSize]bool
	)
	keys = keys[:len(present)]
	for i, k := range keys {
		fh[i] = FilterHash(k)
		prefetch.Line(unsafe.Pointer(&v.filter[FilterBlock(fh[i], v.nfilter)*FilterBlockSize]))
	}
	n := 0
	for i := range keys {
		present[i] = false
		// Without a branch: with hits and misses mixed, whether a key
		// passes is as good as random, and a branch on it mispredicted.
		passed[n], at[n] = keys[i], uint8(i)
		n += b2i(v.filterHas(fh[i]))
	}
	v.findGroup(passed[:n], got[:n])
	for j := range n {
		present[at[j]] = got[j]
	}
}

// findGroup is stages 1–4 of FindBatch for at most batchSize keys.
func (v *View) findGroup(keys [][]byte, present []bool) {
	var (
		hash   [batchSize]uint64
		b1, b2 [batchSize]uint64
		second [batchSize]uint8  // the keys whose first bucket is full, by index in keys
		cand   [batchSize]uint8  // the keys with a candidate slot, by index in keys
		start  [batchSize]uint64 // each candidate's offset in the key data
		nb     = uint64(len(v.buckets)) / BucketSize
	)
	if nb == 0 { // the zero View
		clear(present)
		return
	}
	keys = keys[:len(present)]
	buckets, keyData := v.buckets, v.keys
	// Stage 1: hash, and prefetch the first bucket.
	hashLanes(v.k0, v.k1, keys, hash[:len(keys)])
	for i := range keys {
		b1[i], b2[i] = bucketsIn(hash[i], v.blocks, v.perBlock)
		prefetch.Line(unsafe.Pointer(&buckets[b1[i]*BucketSize]))
	}
	// Stage 2: scan the first bucket for a slot with the key's tag and
	// length, as Has does. The keys with a candidate are listed in cand,
	// and those that must go on to their second bucket in second.
	candidates, seconds := 0, 0
	addCandidate := func(i int, s uint64, res scanResult) {
		if res != found {
			return
		}
		n := uint64(len(keys[i]))
		off := s&offMask - 1 // wraps to 2^64-1 for a used slot without an offset
		if n >= LongKey || off > uint64(len(keyData)) || n > uint64(len(keyData))-off {
			// A long key's length is in the length table; a slot that
			// points past the key data is in a damaged file. Has handles
			// both.
			present[i] = v.HasHashed(keys[i], hash[i])
			return
		}
		cand[candidates], start[candidates] = uint8(i), off
		candidates++
		if n > 0 {
			prefetch.Line(unsafe.Pointer(&keyData[off]))
			prefetch.Line(unsafe.Pointer(&keyData[off+n-1]))
		}
	}
	for i := range keys {
		present[i] = false
		s, res := v.scanMatch(b1[i], Match(hash[i], uint64(len(keys[i]))))
		if res == full && b2[i] != b1[i] {
			second[seconds] = uint8(i)
			seconds++
			prefetch.Line(unsafe.Pointer(&buckets[b2[i]*BucketSize]))
			continue
		}
		addCandidate(i, s, res)
	}
	// Stage 3: scan the second buckets that are needed.
	for _, i := range second[:seconds] {
		s, res := v.scanMatch(b2[i], Match(hash[i], uint64(len(keys[i]))))
		addCandidate(int(i), s, res)
	}
	// Stage 4: compare. A candidate that is not the key (its tag matched
	// by chance: about 1 in 2^16 slots holding a key of its length) sends
	// the key to Has, which also tries any later slot that matches.
	for c := range candidates {
		i := cand[c]
		k := keys[i]
		if v.keyAt(start[c], start[c]+uint64(len(k)), k) {
			present[i] = true
			continue
		}
		present[i] = v.HasHashed(k, hash[i])
	}
}

// scanMatch returns the first slot of bucket b whose tag and length field
// are m: like scan, without comparing keys.
func (v *View) scanMatch(b, m uint64) (uint64, scanResult) {
	bucket := (*[BucketSize]byte)(v.buckets[b*BucketSize : b*BucketSize+BucketSize])
	for i := 0; i < BucketSize; i += SlotSize {
		s := binary.LittleEndian.Uint64(bucket[i : i+SlotSize])
		if s == 0 {
			return 0, missed
		}
		if s>>matchShift == m {
			return s, found
		}
	}
	return 0, full
}

// b2i returns 1 for true and 0 for false, without a branch.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
