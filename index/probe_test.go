package index_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stru-index/stru/index"
)

// lackProbe says what Has and Find do on a machine without probe's code.
const lackProbe = "this machine lacks AVX-512 F, VL and BW or BMI1: Has and Find hash with Hash"

// probePaths runs test on each path Has and Find can take: the vector
// code (skipped on a machine without it), and the portable code testing
// the filter first or hashing first (locateHashFirst, which the files of
// tests are too small to take by themselves).
func probePaths(t *testing.T, test func(t *testing.T)) {
	for _, path := range []struct {
		name              string
		vector, hashFirst bool
	}{{"vector", true, false}, {"filter-first", false, false}, {"hash-first", false, true}} {
		t.Run(path.name, func(t *testing.T) {
			available, restore := index.SetProbe(path.vector)
			defer restore()
			if path.vector && !available {
				t.Skip(lackProbe)
			}
			defer index.SetHashFirst(path.hashFirst)()
			test(t)
		})
	}
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

// wantCandidates is the candidate set of format.md §4 as probe gives it,
// written out slot by slot: the slots of b1 before its first empty one
// whose tag (top 16 bits) is tag, then, only if b1 has no empty slot and
// b2 is another bucket, those of b2. probe compares the tags alone; the
// length fields are compared after it.
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
			if s>>48 == tag {
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
// key's tag or another, with any length field and offset, in any order (so
// also after an empty slot, as in a damaged file), tables of one bucket,
// where b1 = b2, a key whose tag is that of an empty slot, and slots whose
// other fields hold the key's tag.
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
			// trying "tag zero 0", "tag zero 1", … under (1, 2) for a
			// hash whose low 24 bits are 0 (so its 16-bit tag is 0).
			key, k0, k1 = []byte("tag zero 28949780"), 1, 2
		}
		h := index.Hash(k0, k1, key)
		tag := index.Tag(h)
		if trial%4 == 1 && tag != 0 {
			t.Fatalf("the tag of %q is %#x, not 0", key, tag)
		}
		wantB1, wantB2 := index.Buckets(h, nb)
		other := tag ^ (1 + r.Uint64N(1<<index.TagBits-1)) // another tag
		for _, b := range []uint64{wantB1, wantB2} {
			for i := range uint64(index.BucketSlots) {
				var s uint64
				n, off := r.Uint64N(300), r.Uint64N(1000) // any length field, any offset
				switch r.IntN(5) {
				case 0: // empty
				case 1:
					s = index.MakeSlot(h, n, off)
				case 2:
					s = index.MakeSlot(other, n, off)
				case 3:
					s = index.MakeSlot(h, n, 0) - 1 // the tag and a length field, and an empty offset
				case 4:
					s = other<<48 | tag<<32 | tag<<16 | tag // the key's tag everywhere but in the tag
				}
				if trial%3 == 0 && s == 0 { // mostly full buckets
					s = index.MakeSlot(h, 3, 7)
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

// TestFindPaths checks Has and Find, with and without the vector code, on
// files built at several load factors, with short keys and keys of 255
// bytes or more (whose lookup reads the offset table): every key is found
// with its ordinal, and keys not in the set are not. Then it damages the
// bucket section and the offset table at random and checks that both
// paths, and FindBatch, give the same answers as HasHashed and FindHashed,
// the slot-by-slot scan of format.md §4.
func TestFindPaths(t *testing.T) {
	keys := slices.Concat(manyKeys(3000), longKeys(40))
	slices.Sort(keys)
	absent := make([]string, 1000)
	for i := range absent {
		absent[i] = fmt.Sprintf("absent %d", i)
	}
	for _, n := range []int{254, 255, 256, 300} {
		absent = append(absent, strings.Repeat("~", n))
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
					if !v.Has([]byte(k)) {
						t.Fatalf("load factor %v: Has(%q) = false, want true", lf, k)
					}
				}
				for _, k := range absent {
					if _, ok := v.Find([]byte(k)); ok {
						t.Fatalf("load factor %v: Find(%q) found a key not in the set", lf, k)
					}
					if v.Has([]byte(k)) {
						t.Fatalf("load factor %v: Has(%q) found a key not in the set", lf, k)
					}
				}
				r := rand.New(rand.NewPCG(11, uint64(lf*100)))
				for trial := range 30 {
					damaged := slices.Clone(file)
					sections := [][]index.Section{
						{index.SectionBuckets}, {index.SectionOffsets}, {index.SectionBuckets, index.SectionOffsets},
					}[trial%3]
					for _, s := range sections {
						sec := v.Layout[s]
						for range 1 + r.IntN(200) {
							at := sec.Off + r.Uint64N(sec.Size)
							damaged[at] = byte(r.Uint32())
							if s == index.SectionBuckets && r.IntN(4) == 0 { // an empty slot
								clear(damaged[at&^7 : at&^7+8])
							}
						}
					}
					dv, err := index.NewView(damaged, "damaged.stru")
					if err != nil {
						t.Fatal(err)
					}
					all := slices.Concat(keys, absent)
					batch := byteKeys(all)
					present := make([]bool, len(batch))
					dv.FindBatch(batch, present)
					for i, k := range all {
						if got, want := present[i], dv.HasHashed([]byte(k), dv.HashOf([]byte(k))); got != want {
							t.Fatalf("load factor %v, damaged file: FindBatch says %q is present: %v; HasHashed gives %v", lf, k, got, want)
						}
						ord, ok := dv.Find([]byte(k))
						wantOrd, wantOK := dv.FindHashed([]byte(k), dv.HashOf([]byte(k)))
						if ord != wantOrd || ok != wantOK {
							t.Fatalf("load factor %v, damaged file: Find(%q) = %d, %v; FindHashed gives %d, %v", lf, k, ord, ok, wantOrd, wantOK)
						}
						if got, want := dv.Has([]byte(k)), dv.HasHashed([]byte(k), dv.HashOf([]byte(k))); got != want {
							t.Fatalf("load factor %v, damaged file: Has(%q) = %v; HasHashed gives %v", lf, k, got, want)
						}
					}
				}
			})
		})
	}
}
