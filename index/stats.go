package index

import "encoding/binary"

// SecondBucketKeys returns how many keys are stored in their second bucket
// rather than their first (format.md §4): the keys whose lookup scans two
// buckets. It counts the keys whose slot is not in their first bucket,
// which in a damaged file includes keys in neither. A file's longest
// probe for a stored key is 2 buckets scanned when this is non-zero, else 1.
//
// It hashes every key and reads its first bucket, O(Len). In a damaged file
// keys whose table entries are out of range are not counted; Verify reports
// them.
func (v *View) SecondBucketKeys() uint64 {
	var n uint64
	for ord := range v.nkeys {
		key, ok := v.Key(ord)
		if !ok {
			continue
		}
		off, _ := v.entry(ord)
		h := Hash(v.k0, v.k1, key)
		b1, _ := Buckets(h, v.nbuckets)
		if !v.bucketHolds(b1, MakeSlot(h, uint64(len(key)), off)) {
			n++
		}
	}
	return n
}

// bucketHolds reports whether bucket b, below the bucket count, holds the
// slot s.
func (v *View) bucketHolds(b, s uint64) bool {
	for i := range uint64(BucketSlots) {
		if binary.LittleEndian.Uint64(v.buckets[b*BucketSize+i*SlotSize:]) == s {
			return true
		}
	}
	return false
}
