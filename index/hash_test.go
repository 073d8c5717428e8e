package index_test

import (
	"encoding/binary"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dchest/siphash"
	"github.com/stru-index/stru/index"
)

// sipRefKey is the key of the SipHash reference vectors: bytes 00 01 … 0f.
var sipRefKey = index.HashKey{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// sipRefVectors are SipHash-2-4's 64-bit outputs for the messages 00 01 …
// (n−1), n = 0 … 63, under sipRefKey: the vectors_sip64 table of the
// reference implementation (github.com/veorq/SipHash, vectors.h), read as
// little-endian u64.
var sipRefVectors = [64]uint64{
	0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
	0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
	0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
	0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
	0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
	0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
	0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad,
	0xde4daaaca71dc9a5, 0xa6a2506687956571, 0xad87a3535c49ef28, 0x32d892fad841c342,
	0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
	0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c,
	0x0e3ea96b5304a7d0, 0xad0c42d6fc585992, 0x187306c89bc215a9, 0xd4a60abcf3792b95,
	0xf935451de4f21df2, 0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
	0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72, 0xa192d576b245165a,
	0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f, 0x7fa8220ba3b2ecea, 0x245731c13ca42499,
	0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
	0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
}

// TestHashKnownAnswers pins the hash to SipHash-2-4's reference vectors,
// with k0 and k1 taken from the 16 key bytes little-endian (format.md §3).
// Changing the hash changes the format.
func TestHashKnownAnswers(t *testing.T) {
	k0, k1 := sipRefKey.Halves()
	if k0 != 0x0706050403020100 || k1 != 0x0f0e0d0c0b0a0908 {
		t.Fatalf("Halves() = %#x, %#x; want 0x0706050403020100, 0x0f0e0d0c0b0a0908", k0, k1)
	}
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for n, want := range sipRefVectors {
		if got := index.Hash(k0, k1, msg[:n]); got != want {
			t.Errorf("Hash(reference key, 00..%02x) = %#016x, want %#016x", n-1, got, want)
		}
	}
	// The two the format's text quotes.
	if got := index.Hash(k0, k1, nil); got != 0x726fdb47dd0e0e31 {
		t.Errorf("Hash of the empty message = %#016x, want 0x726fdb47dd0e0e31", got)
	}
	if got := index.Hash(k0, k1, msg[:15]); got != 0xa129ca6149be45e5 {
		t.Errorf("Hash of 15 bytes = %#016x, want 0xa129ca6149be45e5", got)
	}
}

// sipHashFromSpec is SipHash-2-4 written from the pseudo-code of format.md
// §3, to check that the pseudo-code is right.
func sipHashFromSpec(k0, k1 uint64, m []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(m)
	for len(m) >= 8 {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		round()
		round()
		v0 ^= w
		m = m[8:]
	}
	w := uint64(n%256) << 56
	for i, c := range m {
		w |= uint64(c) << (8 * i)
	}
	v3 ^= w
	round()
	round()
	v0 ^= w
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}

// TestHashMatchesSpec checks Hash against format.md's SipHash pseudo-code,
// on the reference vectors and on random keys and messages.
func TestHashMatchesSpec(t *testing.T) {
	k0, k1 := sipRefKey.Halves()
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for n, want := range sipRefVectors {
		if got := sipHashFromSpec(k0, k1, msg[:n]); got != want {
			t.Fatalf("format.md's SipHash of 00..%02x = %#016x, want %#016x", n-1, got, want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		k0, k1 := r.Uint64(), r.Uint64()
		m := make([]byte, r.IntN(300))
		for i := range m {
			m[i] = byte(r.Uint32())
		}
		if got, want := index.Hash(k0, k1, m), sipHashFromSpec(k0, k1, m); got != want {
			t.Fatalf("Hash(%#x, %#x, %x) = %#x, format.md's SipHash gives %#x", k0, k1, m, got, want)
		}
	}
}

// TestHashMatchesSipHashPackage checks Hash against the
// github.com/dchest/siphash package whose assembly it adapts
// (siphash_amd64.s), for every length from 0 to 300 bytes, each at every
// alignment of the key in memory, on random keys and messages.
func TestHashMatchesSipHashPackage(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 300+8)
	for n := 0; n <= 300; n++ {
		for align := range 8 {
			k0, k1 := r.Uint64(), r.Uint64()
			m := buf[align : align+n : align+n]
			for i := range m {
				m[i] = byte(r.Uint32())
			}
			if got, want := index.Hash(k0, k1, m), siphash.Hash(k0, k1, m); got != want {
				t.Fatalf("Hash(%#x, %#x, %x) = %#x, siphash.Hash gives %#x", k0, k1, m, got, want)
			}
		}
	}
}

// TestChecksum checks the CRC-32C check value and format.md §6.1's bitwise
// definition.
func TestChecksum(t *testing.T) {
	if got := index.Checksum([]byte("123456789")); got != 0xe3069283 {
		t.Errorf(`Checksum("123456789") = %#08x, want 0xe3069283`, got)
	}
	if got := index.Checksum(nil); got != 0 {
		t.Errorf("Checksum of no bytes = %#08x, want 0", got)
	}
	fromSpec := func(b []byte) uint32 {
		crc := uint32(0xFFFFFFFF)
		for _, c := range b {
			crc ^= uint32(c)
			for range 8 {
				if crc&1 != 0 {
					crc = crc>>1 ^ 0x82F63B78
				} else {
					crc >>= 1
				}
			}
		}
		return crc ^ 0xFFFFFFFF
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		b := make([]byte, r.IntN(200))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := index.Checksum(b), fromSpec(b); got != want {
			t.Fatalf("Checksum(%x) = %#08x, format.md's CRC-32C gives %#08x", b, got, want)
		}
		cut := r.IntN(len(b) + 1)
		if got := index.UpdateChecksum(index.Checksum(b[:cut]), b[cut:]); got != fromSpec(b) {
			t.Fatalf("UpdateChecksum in two parts at %d of %x = %#08x, want %#08x", cut, b, got, fromSpec(b))
		}
	}
}

// bigBuckets computes format.md §3's block and bucket choices with big
// integers: blocks = ⌈B / 65536⌉, per = ⌊B / blocks⌋ (exact for a valid B),
// k = ⌊h·blocks / 2^64⌋, b1 = k·per + ⌊((h·0x9E3779B97F4A7C15) mod 2^64)·per / 2^64⌋
// and b2 likewise with 0xC2B2AE3D27D4EB4F.
func bigBuckets(h, nb uint64) (blocks, k, b1, b2 *big.Int) {
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	bh, bnb := new(big.Int).SetUint64(h), new(big.Int).SetUint64(nb)
	blocks = new(big.Int).Div(new(big.Int).Add(bnb, big.NewInt(65535)), big.NewInt(65536))
	per := new(big.Int).Div(bnb, blocks)
	k = new(big.Int).Div(new(big.Int).Mul(bh, blocks), two64)
	choice := func(c uint64) *big.Int {
		mixed := new(big.Int).Mul(bh, new(big.Int).SetUint64(c))
		mixed.Mod(mixed, two64)
		off := new(big.Int).Div(new(big.Int).Mul(mixed, per), two64)
		return off.Add(off, new(big.Int).Mul(k, per))
	}
	return blocks, k, choice(0x9E3779B97F4A7C15), choice(0xC2B2AE3D27D4EB4F)
}

// validCounts are bucket counts a file may have (format.md §6.3 check 13),
// with one, two, three and many blocks, up to the largest the header allows.
var validCounts = []uint64{
	1, 2, 3, 7, 1000, 65535, 65536, 65538, 131072, 131073, 3 << 16, 1000000,
	1 << 32, 1<<32 + 1<<16, 1 << 40, 1<<61 - 1<<16,
}

func TestBuckets(t *testing.T) {
	check := func(h, nb uint64) {
		t.Helper()
		b1, b2 := index.Buckets(h, nb)
		blocks, k, w1, w2 := bigBuckets(h, nb)
		if !w1.IsUint64() || !w2.IsUint64() || b1 != w1.Uint64() || b2 != w2.Uint64() {
			t.Fatalf("Buckets(%#x, %d) = %d, %d; math/big gives %v, %v", h, nb, b1, b2, w1, w2)
		}
		if b1 >= nb || b2 >= nb {
			t.Fatalf("Buckets(%#x, %d) = %d, %d: not below the bucket count", h, nb, b1, b2)
		}
		if got := index.Blocks(nb); got != blocks.Uint64() {
			t.Fatalf("Blocks(%d) = %d, math/big gives %v", nb, got, blocks)
		}
		// Both choices lie in the key's block k, of ⌊B / blocks⌋ buckets.
		per := nb / blocks.Uint64()
		if b1/per != k.Uint64() || b2/per != k.Uint64() {
			t.Fatalf("Buckets(%#x, %d) = %d, %d: not both in block %v of %d buckets", h, nb, b1, b2, k, per)
		}
	}
	edges := []uint64{0, 1, 2, 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 1 << 63, 1<<64 - 1, 0x726fdb47dd0e0e31}
	// Counts that are not a multiple of their blocks (65537: 2 blocks,
	// 2^64 − 1) are not valid in a file; Buckets still follows the formulas,
	// with ⌊B / blocks⌋ buckets per block.
	counts := append(slices.Clone(validCounts), 65537, 1<<32-1, 1<<61-1, 1<<64-1)
	for _, h := range edges {
		for _, nb := range counts {
			check(h, nb)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		nb := r.Uint64() >> r.UintN(64) // all magnitudes
		check(r.Uint64(), max(nb, 1))
	}
	// With one bucket both choices are bucket 0.
	for range 100 {
		if b1, b2 := index.Buckets(r.Uint64(), 1); b1 != 0 || b2 != 0 {
			t.Fatalf("Buckets(_, 1) = %d, %d; want 0, 0", b1, b2)
		}
	}
}

// TestBlocks checks the blocks of valid bucket counts: at most
// BlockBuckets buckets each, all of equal size, covering every bucket, and
// each the keys of one range of hashes (the block is monotone in h), which
// is what lets a builder work in hash-range partitions.
func TestBlocks(t *testing.T) {
	for _, c := range []struct{ buckets, blocks uint64 }{
		{1, 1}, {65535, 1}, {65536, 1}, {65537, 2}, {131072, 2}, {131073, 3},
		{3 << 16, 3}, {1000000, 16}, {1 << 40, 1 << 24}, {1<<64 - 1, 1 << 48},
	} {
		if got := index.Blocks(c.buckets); got != c.blocks {
			t.Errorf("Blocks(%d) = %d, want %d", c.buckets, got, c.blocks)
		}
	}
	if index.BlockBuckets != 65536 {
		t.Errorf("BlockBuckets = %d, format.md §3 says 65536", index.BlockBuckets)
	}
	r := rand.New(rand.NewPCG(11, 12))
	for _, nb := range validCounts {
		blocks := index.Blocks(nb)
		per := nb / blocks
		if blocks*per != nb || per > index.BlockBuckets || per == 0 {
			t.Fatalf("bucket count %d: %d blocks of %d buckets", nb, blocks, per)
		}
		hs := make([]uint64, 2000)
		for i := range hs {
			hs[i] = r.Uint64() >> r.UintN(3)
		}
		hs = append(hs, 0, 1<<64-1)
		slices.Sort(hs)
		prev := uint64(0)
		for _, h := range hs {
			b1, b2 := index.Buckets(h, nb)
			k := b1 / per
			if k < prev {
				t.Fatalf("bucket count %d: hash %#x is in block %d, a smaller hash in block %d", nb, h, k, prev)
			}
			if b2/per != k {
				t.Fatalf("bucket count %d: hash %#x has buckets %d and %d in blocks %d and %d", nb, h, b1, b2, k, b2/per)
			}
			prev = k
		}
		if b1, _ := index.Buckets(1<<64-1, nb); b1/per != blocks-1 {
			t.Fatalf("bucket count %d: the largest hash is in block %d of %d", nb, b1/per, blocks)
		}
	}
}

// TestBucketsSpread checks that both choices spread hashes evenly, and
// that the second is not the first: the point of two choices.
func TestBucketsSpread(t *testing.T) {
	const nb, n = 64, 64 * 1000
	var c1, c2 [nb]int
	same := 0
	r := rand.New(rand.NewPCG(7, 8))
	for range n {
		b1, b2 := index.Buckets(r.Uint64(), nb)
		c1[b1]++
		c2[b2]++
		if b1 == b2 {
			same++
		}
	}
	for b := range nb {
		if c1[b] < 800 || c1[b] > 1200 || c2[b] < 800 || c2[b] > 1200 {
			t.Errorf("bucket %d chosen %d times first and %d times second out of %d, want about %d", b, c1[b], c2[b], n, n/nb)
		}
	}
	if same > 2*n/nb {
		t.Errorf("b1 = b2 for %d of %d hashes, want about %d", same, n, n/nb)
	}
}

// TestTagAndSlot checks a slot's fields against format.md §4, written out:
// slot = tag<<48 | length field<<40 | (offset+1), where the tag is the low
// 16 bits of the key's hash and the length field is the key's length, or
// 255 for a key of 255 bytes or more. A zero slot is empty.
func TestTagAndSlot(t *testing.T) {
	if index.TagBits != 16 || index.LenBits != 8 || index.OffsetBits != 40 || index.LongKey != 255 {
		t.Fatalf("TagBits, LenBits, OffsetBits, LongKey = %d, %d, %d, %d; format.md §4 says 16, 8, 40, 255",
			index.TagBits, index.LenBits, index.OffsetBits, index.LongKey)
	}
	hs := []uint64{0, 1, 0xffff, 0x10000, 0x726fdb47dd0e0e31, 1<<64 - 1, 0xabcdef000000}
	lens := []uint64{0, 1, 2, 6, 254, 255, 256, 300, index.MaxKeyLen}
	offs := []uint64{0, 1, 2, 1<<32 - 1, 1 << 32, index.MaxKeyBytes - 1, index.MaxKeyBytes}
	r := rand.New(rand.NewPCG(9, 10))
	for range 100 {
		hs = append(hs, r.Uint64())
		lens = append(lens, r.Uint64N(index.MaxKeyLen+1))
		offs = append(offs, r.Uint64N(index.MaxKeyBytes+1))
	}
	for _, h := range hs {
		tag := h & 0xffff
		if got := index.Tag(h); got != tag {
			t.Fatalf("Tag(%#x) = %#x, want its low 16 bits %#x", h, got, tag)
		}
		for _, n := range lens {
			lenField := min(n, 255)
			if got := index.LenField(n); got != lenField {
				t.Fatalf("LenField(%d) = %d, want %d", n, got, lenField)
			}
			if got, want := index.Match(h, n), tag<<8|lenField; got != want {
				t.Fatalf("Match(%#x, %d) = %#x, want tag<<8 | length field = %#x", h, n, got, want)
			}
			for _, off := range offs {
				s := index.MakeSlot(h, n, off)
				want := tag<<48 | lenField<<40 | (off + 1)
				if s != want {
					t.Fatalf("MakeSlot(%#x, %d, %d) = %#016x, want tag<<48 | length field<<40 | (offset+1) = %#016x", h, n, off, s, want)
				}
				if s == 0 {
					t.Fatalf("MakeSlot(%#x, %d, %d) = 0, the empty slot", h, n, off)
				}
				if got := index.SlotTag(s); got != tag {
					t.Fatalf("SlotTag(%#016x) = %#x, want %#x", s, got, tag)
				}
				if got := index.SlotLen(s); got != lenField {
					t.Fatalf("SlotLen(%#016x) = %d, want %d", s, got, lenField)
				}
				if got := index.SlotMatch(s); got != index.Match(h, n) || got != s>>40 {
					t.Fatalf("SlotMatch(%#016x) = %#x, want Match(%#x, %d) = slot>>40 = %#x", s, got, h, n, s>>40)
				}
				if got, used := index.SlotOffset(s); !used || got != off {
					t.Fatalf("SlotOffset(%#016x) = %d, %v; want %d, true", s, got, used, off)
				}
			}
		}
	}
	// Every length of LongKey bytes or more has the same length field, and
	// every shorter length its own.
	for n := range uint64(300) {
		if got := index.Match(0x1234, n) == index.Match(0x1234, n+1); got != (n >= 255) {
			t.Errorf("Match(h, %d) == Match(h, %d) is %v, want %v", n, n+1, got, n >= 255)
		}
	}
	if _, used := index.SlotOffset(0); used {
		t.Error("SlotOffset(0) says the empty slot is used")
	}
	// A slot whose offset field is 0 is not a used slot, whatever its tag
	// and length field.
	if _, used := index.SlotOffset(0xabcd<<48 | 7<<40); used {
		t.Error("SlotOffset of a slot whose offset field is 0 says it is used")
	}
	// An offset one past the last byte of MaxKeyBytes bytes of key data
	// (a key's offset is at most MaxKeyBytes-1) still fits the 40-bit
	// field as offset+1; and the three fields fill the 64 bits.
	if index.TagBits+index.LenBits+index.OffsetBits != 64 {
		t.Errorf("a slot's fields are %d bits, want 64", index.TagBits+index.LenBits+index.OffsetBits)
	}
	if index.MaxKeyBytes+1 != 1<<index.OffsetBits-1 {
		t.Errorf("MaxKeyBytes = %d: offset+1 of the end of the key data is not the largest %d-bit value", uint64(index.MaxKeyBytes), index.OffsetBits)
	}
	if s := index.MakeSlot(1<<64-1, 255, index.MaxKeyBytes); s != 1<<64-1 {
		t.Errorf("MakeSlot of the largest tag, length field and offset = %#016x, want all ones", s)
	}
	if index.MaxKeys != 1<<40-2 {
		t.Errorf("MaxKeys = %d, want 2^40 - 2", uint64(index.MaxKeys))
	}
}

func TestHashKey(t *testing.T) {
	k := sipRefKey
	other := sipRefKey
	other[15] ^= 1
	if k.Fingerprint() != sipRefKey.Fingerprint() {
		t.Error("equal keys have different fingerprints")
	}
	if k.Fingerprint() == other.Fingerprint() {
		t.Error("keys differing in one bit have the same fingerprint")
	}
	if fp := k.Fingerprint(); len(fp) != 16 {
		t.Errorf("Fingerprint() = %q, want 16 hex digits", fp)
	}
}
