package index

import "encoding/binary"

// SecondBucketKeys returns how many keys are stored in their second bucket
// rather than their first (format.md §4): the keys whose lookup reads two
// buckets. A file's longest probe for a stored key is 2 buckets when this is
// non-zero, else 1.
//
// It reads every slot and hashes every key, O(Len). In a damaged file slots
// whose ordinal or key is out of range are not counted; Verify reports them.
func (v *View) SecondBucketKeys() uint64 {
	var n uint64
	for b := range v.nbuckets {
		bucket := v.buckets[b*BucketSize : (b+1)*BucketSize]
		for i := 0; i < BucketSize; i += SlotSize {
			ord, used := SlotOrdinal(binary.LittleEndian.Uint64(bucket[i:]))
			if !used {
				continue
			}
			key, ok := v.Key(ord)
			if !ok {
				continue
			}
			if b1, _ := Buckets(Hash(v.k0, v.k1, key), v.nbuckets); b != b1 {
				n++
			}
		}
	}
	return n
}
