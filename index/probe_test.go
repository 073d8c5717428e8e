package index_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stru-index/stru/index"
)

// lackProbe says what Find does on a machine without probe's code.
const lackProbe = "this machine lacks AVX-512 F, VL and BW or BMI1: Find hashes with Hash"

// probePaths runs test with and without Find's vector code.
func probePaths(t *testing.T, test func(t *testing.T)) {
	vectorPaths(t, index.SetProbe, lackProbe, test)
}

// needProbe skips a test of Probe itself on a machine without its code.
func needProbe(t *testing.T) {
	t.Helper()
	available, restore := index.SetProbe(true)
	restore()
	if !available {
		t.Skip(lackProbe)
	}
}

// probeHash returns the hash Probe computes for key, on a table of one
// empty bucket.
func probeHash(k0, k1 uint64, key []byte) uint64 {
	h, _, _, _ := index.Probe(k0, k1, key, make([]byte, index.BucketSize), 1, 1)
	return h
}

// TestProbeReferenceVectors checks Probe's hash on the SipHash reference
// messages 00 01 … (n−1), n = 0 … 63.
func TestProbeReferenceVectors(t *testing.T) {
	needProbe(t)
	k0, k1 := sipRefKey.Halves()
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for n, want := range sipRefVectors {
		if got := probeHash(k0, k1, msg[:n]); got != want {
			t.Errorf("Probe's hash of 00..%02x = %#016x, want %#016x", n-1, got, want)
		}
	}
	if got := probeHash(k0, k1, nil); got != sipRefVectors[0] {
		t.Errorf("Probe's hash of a nil key = %#016x, want %#016x", got, sipRefVectors[0])
	}
}

// TestProbeMatchesHash checks Probe's hash against Hash for random hash
// keys and random keys of 0–2000 bytes. The keys are views into a larger
// slice, so the bytes after each, which its hash must not depend on, are
// not zero.
func TestProbeMatchesHash(t *testing.T) {
	needProbe(t)
	r := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 2100)
	for trial := range 20000 {
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		n := r.IntN(70)
		if trial%10 == 0 {
			n = r.IntN(2000)
		}
		at := r.IntN(len(buf) - n)
		key := buf[at : at+n]
		k0, k1 := r.Uint64(), r.Uint64()
		if got, want := probeHash(k0, k1, key), index.Hash(k0, k1, key); got != want {
			t.Fatalf("Probe's hash of %x (%d bytes) under (%#x, %#x) = %#x, Hash gives %#x", key, n, k0, k1, got, want)
		}
	}
}

// wantCandidates is the candidate set of format.md §4, written out slot by
// slot: the slots of b1 before its first empty one that hold tag, then,
// only if b1 has no empty slot and b2 is another bucket, those of b2.
func wantCandidates(buckets []byte, b1, b2, tag uint64) uint64 {
	var cand uint64
	for n, b := range []uint64{b1, b2} {
		full := true
		for i := range uint64(index.BucketSlots) {
			s := binary.LittleEndian.Uint64(buckets[b*index.BucketSize+i*index.SlotSize:])
			if s == 0 {
				full = false
				break
			}
			if index.SlotTag(s) == tag {
				cand |= 1 << (uint64(n)*index.BucketSlots + i)
			}
		}
		if !full || b1 == b2 {
			break
		}
	}
	return cand
}

// TestProbeSlots checks Probe's buckets against Buckets, and its candidate
// slots against wantCandidates, on random tables: slots empty, holding the
// key's tag or another, in any order (so also after an empty slot, as in a
// damaged file), tables of one bucket, where b1 = b2, and a key whose tag
// is that of an empty slot.
func TestProbeSlots(t *testing.T) {
	needProbe(t)
	r := rand.New(rand.NewPCG(9, 10))
	table := make([]byte, 3*index.BlockBuckets*index.BucketSize)
	for trial := range 20000 {
		nb := 1 + r.Uint64N(8)
		if trial%4 == 0 {
			nb = 1 + r.Uint64N(3*index.BlockBuckets)
		}
		blocks := index.Blocks(nb) // as NewView divides the table
		perBlock := nb / blocks
		buckets := table[:nb*index.BucketSize] // only b1 and b2 are read
		key := fmt.Appendf(nil, "key %d", trial)
		k0, k1 := r.Uint64(), r.Uint64()
		if trial%4 == 1 {
			// A key whose tag is 0, that of an empty slot: found by
			// trying "tag zero 0", "tag zero 1", … under (1, 2).
			key, k0, k1 = []byte("tag zero 28949780"), 1, 2
		}
		h := index.Hash(k0, k1, key)
		tag := index.Tag(h)
		if trial%4 == 1 && tag != 0 {
			t.Fatalf("the tag of %q is %#x, not 0", key, tag)
		}
		wantB1, wantB2 := index.Buckets(h, nb)
		for _, b := range []uint64{wantB1, wantB2} {
			for i := range uint64(index.BucketSlots) {
				var s uint64
				switch r.IntN(4) {
				case 0: // empty
				case 1:
					s = index.MakeSlot(tag, r.Uint64N(1000))
				case 2:
					s = index.MakeSlot(tag^(1+r.Uint64N(1<<index.TagBits-1)), r.Uint64N(1000))
				case 3:
					s = index.MakeSlot(tag, 0) - 1 // the tag, and an empty ordinal
				}
				if trial%3 == 0 && s == 0 { // mostly full buckets
					s = index.MakeSlot(tag, 7)
				}
				binary.LittleEndian.PutUint64(buckets[b*index.BucketSize+i*index.SlotSize:], s)
			}
		}
		gotH, b1, b2, cand := index.Probe(k0, k1, key, buckets, blocks, perBlock)
		if gotH != h || b1 != wantB1 || b2 != wantB2 {
			t.Fatalf("Probe(%q) in %d buckets, %d blocks: hash %#x, buckets %d, %d; want %#x, %d, %d", key, nb, blocks, gotH, b1, b2, h, wantB1, wantB2)
		}
		if want := wantCandidates(buckets, b1, b2, tag); cand != want {
			t.Fatalf("Probe(%q), buckets %d and %d: candidates %#x, want %#x\nbucket %d: %x\nbucket %d: %x", key, b1, b2, cand, want,
				b1, buckets[b1*index.BucketSize:][:index.BucketSize], b2, buckets[b2*index.BucketSize:][:index.BucketSize])
		}
	}
}

// TestFindPaths checks Find, with and without the vector code, on files
// built at several load factors: every key is found with its ordinal, and
// keys not in the set are not. Then it damages the bucket section at
// random and checks that both paths give the same answers as FindHashed,
// the slot-by-slot scan of format.md §4.
func TestFindPaths(t *testing.T) {
	keys := manyKeys(3000)
	slices.Sort(keys)
	absent := make([]string, 1000)
	for i := range absent {
		absent[i] = fmt.Sprintf("absent %d", i)
	}
	for _, lf := range []float64{0.5, 0.85, 0.95} {
		file := buildFile(t, keys, lf)
		t.Run(fmt.Sprintf("load=%v", lf), func(t *testing.T) {
			probePaths(t, func(t *testing.T) {
				v, err := index.NewView(file, "paths.stru")
				if err != nil {
					t.Fatal(err)
				}
				for i, k := range keys {
					if ord, ok := v.Find([]byte(k)); !ok || ord != uint64(i) {
						t.Fatalf("load factor %v: Find(%q) = %d, %v; want %d, true", lf, k, ord, ok, i)
					}
				}
				for _, k := range absent {
					if _, ok := v.Find([]byte(k)); ok {
						t.Fatalf("load factor %v: Find(%q) found a key not in the set", lf, k)
					}
				}
				r := rand.New(rand.NewPCG(11, uint64(lf*100)))
				sec := v.Layout[index.SectionBuckets]
				for range 20 {
					damaged := slices.Clone(file)
					for range 1 + r.IntN(200) {
						at := sec.Off + r.Uint64N(sec.Size)
						damaged[at] = byte(r.Uint32())
						if r.IntN(4) == 0 { // an empty slot
							clear(damaged[at&^7 : at&^7+8])
						}
					}
					dv, err := index.NewView(damaged, "damaged.stru")
					if err != nil {
						t.Fatal(err)
					}
					for _, k := range slices.Concat(keys, absent) {
						ord, ok := dv.Find([]byte(k))
						wantOrd, wantOK := dv.FindHashed([]byte(k), dv.HashOf([]byte(k)))
						if ord != wantOrd || ok != wantOK {
							t.Fatalf("load factor %v, damaged buckets: Find(%q) = %d, %v; FindHashed gives %d, %v", lf, k, ord, ok, wantOrd, wantOK)
						}
					}
				}
			})
		})
	}
}
