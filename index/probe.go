package index

import (
	"encoding/binary"
	"math/bits"
)

// A loop of single lookups is as fast as the memory reads of consecutive
// lookups overlap: the processor starts the next lookup's reads while the
// current one waits for its own only if the instructions in between fit
// in its out-of-order window. A SipHash-2-4 of a 36-byte key is some 250
// dependent integer instructions, and with the scan of a bucket's slots
// that fills the window: lookups wait for memory one after the other.
//
// Where the processor has AVX-512 (probe_amd64.s), locate therefore hashes
// the key in vector registers, two 64-bit lanes per register holding
// SipHash's four state words, so that a SipRound is eight instructions
// instead of fourteen and uses none of the integer registers; it then
// compares the 16-bit tags of all the slots of both buckets in a few
// instructions, without a branch on what they hold. The hash is the same
// SipHash-2-4 as Hash's (format.md §3), and the slots tried and their
// order are those of locateHashed's scan (format.md §4): first bucket up to
// its first empty slot, then, only if it is full, the second.

// locateProbed is locate through probe; the View must hold at least one
// bucket. probe compares only the tags; the length fields of its
// candidates are compared here.
func (v *View) locateProbed(key []byte) (slot uint64, ok bool) {
	// NewView made nbuckets a multiple of blocks, so the buckets
	// section holds blocks × perBlock buckets, as probe needs.
	h, b1, b2, cand := probe(v.k0, v.k1, key, &v.buckets[0], v.blocks, v.perBlock)
	m := Match(h, uint64(len(key)))
	for cand != 0 {
		i := uint64(bits.TrailingZeros64(cand))
		b := b1
		if i >= BucketSlots {
			b = b2
		}
		at := b*BucketSize + i%BucketSlots*SlotSize
		s := binary.LittleEndian.Uint64(v.buckets[at : at+SlotSize])
		if s>>matchShift == m && v.slotIs(s, key) {
			return s, true
		}
		cand &= cand - 1
	}
	return 0, false
}
