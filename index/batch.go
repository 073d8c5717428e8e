package index

import "encoding/binary"

// batchSize is how many lookups FindBatch interleaves: enough independent
// cache misses to keep the memory system busy (a core tracks a few dozen
// misses at once), few enough that one stage's loads all fit in the
// processor's out-of-order window.
const batchSize = 64

// FindBatch sets present[i] to whether keys[i] is present, for every i below
// len(keys); present must be at least as long as keys. It answers exactly as
// Find does, but for groups of 64 keys at a time, in stages:
//
//  1. hash every key, which reads only the keys, and compute its buckets;
//  2. load the first slot of both buckets of every key;
//  3. scan each key's buckets, now in cache, for a slot with its tag;
//  4. load the offset and length table entries of every candidate;
//  5. load the first and last byte of every candidate key;
//  6. compare.
//
// Stages 2, 4 and 5 are short loops of independent loads: the cache misses
// of all the keys of a group are in flight at once, so a group waits for
// memory three times instead of three times per key. Go has no prefetch
// instruction; the loads issued early, whose values are used later, do the
// prefetching. Hashing is a stage of its own because a long computation
// between two loads would fill the out-of-order window before the second
// load could start.
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
		hash     [batchSize]uint64
		b1, b2   [batchSize]uint64
		cand     [batchSize]uint8  // the keys with a candidate slot, by index in keys
		ord      [batchSize]uint64 // each candidate's ordinal
		start, n [batchSize]uint64 // each candidate's table entries
		sink     uint64            // the loaded values, so that no load is optimized away
		nb       = uint64(len(v.buckets)) / BucketSize
	)
	if nb == 0 { // the zero View
		clear(present)
		return
	}
	keys = keys[:len(present)]
	// Stage 1: hash, and compute the buckets.
	for i, k := range keys {
		h := Hash(v.k0, v.k1, k)
		hash[i] = h
		b1[i], b2[i] = bucketsIn(h, v.blocks, v.perBlock)
	}
	// Stage 2: load the first slot of both buckets.
	for i := range keys {
		sink += binary.LittleEndian.Uint64(v.buckets[b1[i]*BucketSize:]) +
			binary.LittleEndian.Uint64(v.buckets[b2[i]*BucketSize:])
	}
	// Stage 3: scan the buckets for a slot with the key's tag, as Find
	// does: the second bucket only when the first is full. The keys with
	// a candidate are listed in cand, so that the later stages loop over
	// them without a branch on each key.
	candidates := 0
	for i := range keys {
		present[i] = false
		tag := hash[i] & tagMask
		o, res := v.scanTag(b1[i], tag)
		if res == full && b2[i] != b1[i] {
			o, res = v.scanTag(b2[i], tag)
		}
		switch {
		case res == found && o < v.nkeys:
			cand[candidates], ord[candidates] = uint8(i), o
			candidates++
		case res == found:
			// An ordinal past the end (a damaged file): Find goes on to
			// later slots with the same tag, and so must the answer.
			_, present[i] = v.FindHashed(keys[i], hash[i])
		}
	}
	// Stage 4: load the candidates' offset and length entries.
	for c := range candidates {
		start[c], n[c] = v.entry(ord[c])
	}
	// Stage 5: load the first and last byte of each candidate key: a key of
	// up to 64 bytes lies in at most two cache lines.
	for c := range candidates {
		if end := start[c] + n[c]; n[c] != 0 && end <= uint64(len(v.keys)) && end > start[c] {
			sink += uint64(v.keys[start[c]]) + uint64(v.keys[end-1])
		}
	}
	// Stage 6: compare. A candidate that is not the key (its tag matched
	// by chance: about 1 in 2^24 slots) sends the key to Find, which also
	// tries any later slot with the same tag.
	for c := range candidates {
		i := cand[c]
		k := keys[i]
		end := start[c] + n[c]
		if n[c] == uint64(len(k)) && end <= uint64(len(v.keys)) && end >= start[c] &&
			string(v.keys[start[c]:end]) == string(k) {
			present[i] = true
			continue
		}
		_, present[i] = v.FindHashed(k, hash[i])
	}
	if sink == 1<<63 { // almost never true; keeps the loads of stages 2 and 5
		present[0] = present[0] || sink == 0
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
