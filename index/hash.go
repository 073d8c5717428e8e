package index

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/bits"

	"github.com/dchest/siphash"
)

// A HashKey is the 128-bit SipHash-2-4 key stored in a file's header. Its
// first eight bytes, read little-endian, are SipHash's k0 and its last eight
// are k1 (format.md §3).
type HashKey [16]byte

// Halves returns the key as SipHash's two 64-bit words k0 and k1.
func (k *HashKey) Halves() (k0, k1 uint64) {
	return binary.LittleEndian.Uint64(k[0:8]), binary.LittleEndian.Uint64(k[8:16])
}

// Fingerprint returns a short identifier of the key that does not reveal it:
// the first 8 bytes of its SHA-256, in hex. Two files built with the same
// key have the same fingerprint.
func (k *HashKey) Fingerprint() string {
	sum := sha256.Sum256(k[:])
	return hex.EncodeToString(sum[:8])
}

// Hash returns the SipHash-2-4 of key under the hash key (k0, k1): the
// 64-bit value from which a key's buckets and tag derive (format.md §3).
func Hash(k0, k1 uint64, key []byte) uint64 {
	return siphash.Hash(k0, k1, key)
}

// altMul is the odd constant that scrambles a hash into its second bucket
// choice: 2^64 divided by the golden ratio, rounded to odd.
const altMul = 0x9E3779B97F4A7C15

// Buckets returns the two buckets, in [0, buckets), in which a key with hash
// h may be stored: b1 = ⌊h·buckets / 2^64⌋ and b2 = ⌊(h·altMul mod 2^64)·buckets / 2^64⌋
// (format.md §3). They may be equal.
func Buckets(h, buckets uint64) (b1, b2 uint64) {
	b1, _ = bits.Mul64(h, buckets)
	b2, _ = bits.Mul64(h*altMul, buckets)
	return b1, b2
}

// Tag returns the TagBits-bit tag of a key with hash h: its low 24 bits.
func Tag(h uint64) uint64 { return h & tagMask }

// MakeSlot returns the slot value for the key with the given tag and
// ordinal: tag<<40 | (ordinal+1). A zero slot is empty.
func MakeSlot(tag, ordinal uint64) uint64 { return tag<<OrdinalBits | (ordinal + 1) }

// SlotTag returns the tag held in a used slot.
func SlotTag(slot uint64) uint64 { return slot >> OrdinalBits }

// SlotOrdinal returns the ordinal held in a slot, and false if it is empty.
func SlotOrdinal(slot uint64) (ordinal uint64, used bool) {
	o := slot & ordMask
	return o - 1, o != 0
}
