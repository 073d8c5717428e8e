package index

import "encoding/binary"

// batchSize is how many lookups FindBatch interleaves: enough independent
// cache misses to keep the memory system busy, few enough that one stage's
// loads fit the processor's out-of-order window.
const batchSize = 16

// FindBatch sets present[i] to whether keys[i] is present, for every i below
// len(keys); present must be at least as long as keys. It answers exactly as
// Find does, but in groups of 16 keys and in stages — hash every key and
// load its buckets' first slots; scan the buckets and load the table
// entries of the candidate ordinals; load the candidate keys' bytes;
// compare — so that the cache misses of different keys overlap instead of
// following one another. Go has no prefetch instruction: the loads issued
// early, whose values are used later, do the prefetching.
func (v *View) FindBatch(keys [][]byte, present []bool) {
	present = present[:len(keys)]
	for len(keys) > 0 {
		n := min(len(keys), batchSize)
		v.findGroup(keys[:n], present[:n])
		keys, present = keys[n:], present[n:]
	}
}

// findGroup is FindBatch for at most batchSize keys.
func (v *View) findGroup(keys [][]byte, present []bool) {
	var (
		hash       [batchSize]uint64
		b1, b2     [batchSize]uint64
		first      [batchSize]uint64 // first slots of b1 and b2, or-ed: loaded to start both misses
		cand       [batchSize]uint64 // candidate ordinal + 1, or 0
		start, n   [batchSize]uint64 // candidate's table entries
		touched    uint64
		nb         = uint64(len(v.buckets)) / BucketSize
		candidates = 0
	)
	if nb == 0 { // the zero View
		clear(present)
		return
	}
	// Stage 1: hash, and load the first slot of both buckets.
	for i, k := range keys {
		h := Hash(v.k0, v.k1, k)
		hash[i] = h
		b1[i], b2[i] = bucketsIn(h, v.blocks, v.perBlock)
		first[i] = binary.LittleEndian.Uint64(v.buckets[b1[i]*BucketSize:]) |
			binary.LittleEndian.Uint64(v.buckets[b2[i]*BucketSize:])
	}
	// Stage 2: scan the buckets (now in cache) for a slot with the key's
	// tag, and load the candidate's offset and length.
	for i := range keys {
		present[i] = false
		cand[i] = 0
		if first[i] == 0 {
			continue // both buckets empty
		}
		tag := hash[i] & tagMask
		ord, res := v.scanTag(b1[i], tag)
		if res == full && b2[i] != b1[i] {
			ord, res = v.scanTag(b2[i], tag)
		}
		switch {
		case res == found && ord < v.nkeys:
			cand[i] = ord + 1
			start[i], n[i] = v.entry(ord)
			candidates++
		case res == found:
			// An ordinal past the end (a damaged file): Find goes on to
			// later slots with the same tag, and so must the answer.
			_, present[i] = v.FindHashed(keys[i], hash[i])
		}
	}
	if candidates == 0 {
		return
	}
	// Stage 3: load the first byte of each candidate key.
	for i := range keys {
		if cand[i] != 0 && n[i] != 0 && start[i] < uint64(len(v.keys)) {
			touched += uint64(v.keys[start[i]])
		}
	}
	// Stage 4: compare. A candidate that is not the key (its tag matched
	// by chance: about 1 in 2^24 slots) sends the key to Find, which also
	// tries any later slot with the same tag.
	for i, k := range keys {
		if cand[i] == 0 {
			continue
		}
		end := start[i] + n[i]
		if n[i] == uint64(len(k)) && end <= uint64(len(v.keys)) && end >= start[i] &&
			string(v.keys[start[i]:end]) == string(k) {
			present[i] = true
			continue
		}
		_, present[i] = v.FindHashed(k, hash[i])
	}
	if touched == 1<<63 { // never true; keeps stage 3's loads from being optimized away
		present[0] = present[0] && touched != 0
	}
}

// scanTag returns the ordinal in the first slot of bucket b holding tag:
// like scan, without comparing keys.
func (v *View) scanTag(b, tag uint64) (uint64, scanResult) {
	bucket := (*[BucketSize]byte)(v.buckets[b*BucketSize : b*BucketSize+BucketSize])
	for i := 0; i < BucketSize; i += SlotSize {
		s := binary.LittleEndian.Uint64(bucket[i : i+SlotSize])
		if s == 0 {
			return 0, missed
		}
		if s>>OrdinalBits == tag {
			return s&ordMask - 1, found
		}
	}
	return 0, full
}
