package index

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
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
// It is github.com/dchest/siphash's Hash; on amd64, a copy of its assembly
// that reads a key's last bytes without branching (sipHash).
func Hash(k0, k1 uint64, key []byte) uint64 {
	return sipHash(k0, k1, key)
}

// The odd constants that scramble a hash into a key's two buckets within
// its block: 2^64 divided by the golden ratio, rounded to odd, and xxHash's
// PRIME64_2.
const (
	mul1 = 0x9E3779B97F4A7C15
	mul2 = 0xC2B2AE3D27D4EB4F
)

// BlockBuckets is the most buckets a block holds. The hash table is cut
// into Blocks(buckets) blocks of equal size, each a range of hashes, and
// both buckets of a key lie in its block, so that a builder can place the
// keys of one range of blocks at a time (format.md §3).
const BlockBuckets = 1 << 16

// Blocks returns the number of blocks of a table of the given number of
// buckets: ⌈buckets / BlockBuckets⌉. A valid file's bucket count is a
// multiple of it (format.md §3, §6.3 check 13).
func Blocks(buckets uint64) uint64 {
	n := buckets / BlockBuckets
	if buckets%BlockBuckets != 0 {
		n++
	}
	return n
}

// Buckets returns the two buckets, in [0, buckets), in which a key with hash
// h may be stored (format.md §3). With blocks = Blocks(buckets) blocks of
// per = ⌊buckets / blocks⌋ buckets, the key's block is k = ⌊h·blocks / 2^64⌋
// and
//
//	b1 = k·per + ⌊(h·0x9E3779B97F4A7C15 mod 2^64)·per / 2^64⌋
//	b2 = k·per + ⌊(h·0xC2B2AE3D27D4EB4F mod 2^64)·per / 2^64⌋
//
// They may be equal. In a valid file buckets is a multiple of blocks; for
// other counts the last buckets % blocks buckets are never chosen. Buckets
// returns 0, 0 for an empty table.
func Buckets(h, buckets uint64) (b1, b2 uint64) {
	if buckets == 0 {
		return 0, 0
	}
	blocks := Blocks(buckets)
	return bucketsIn(h, blocks, buckets/blocks)
}

// bucketsIn is Buckets for a table of blocks blocks of perBlock buckets:
// the lookup's form, with no division.
func bucketsIn(h, blocks, perBlock uint64) (b1, b2 uint64) {
	k, _ := bits.Mul64(h, blocks)
	o1, _ := bits.Mul64(h*mul1, perBlock)
	o2, _ := bits.Mul64(h*mul2, perBlock)
	base := k * perBlock
	return base + o1, base + o2
}

// Tag returns the TagBits-bit tag of a key with hash h: its low 16 bits.
func Tag(h uint64) uint64 { return h & tagMask }

// LenField returns a slot's length field for a key of n bytes: n, or
// LongKey for a key of LongKey bytes or more.
func LenField(n uint64) uint64 { return min(n, LongKey) }

// Match returns the top TagBits+LenBits bits of every slot holding a key
// of n bytes with hash h: tag<<8 | length field (format.md §4).
func Match(h, n uint64) uint64 { return Tag(h)<<LenBits | LenField(n) }

// MakeSlot returns the slot of the key of n bytes with hash h that starts
// at offset in the key data: tag<<48 | length field<<40 | (offset+1). A
// zero slot is empty. offset must be at most MaxKeyBytes.
func MakeSlot(h, n, offset uint64) uint64 { return Match(h, n)<<matchShift | (offset + 1) }

// SlotMatch returns the tag and length field of a slot, as Match gives them.
func SlotMatch(slot uint64) uint64 { return slot >> matchShift }

// SlotTag returns the tag held in a used slot.
func SlotTag(slot uint64) uint64 { return slot >> (matchShift + LenBits) }

// SlotLen returns the length field of a used slot.
func SlotLen(slot uint64) uint64 { return slot >> matchShift & LongKey }

// SlotOffset returns the offset in the key data held in a slot, and false
// if the slot is empty.
func SlotOffset(slot uint64) (offset uint64, used bool) {
	o := slot & offMask
	return o - 1, o != 0
}
