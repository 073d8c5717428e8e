package index_test

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dchest/siphash"
	"github.com/stru-index/stru/index"
)

// lanePaths runs test with each of HashLanes's vector codes, and without
// (lanes=none), skipping the codes this machine lacks.
func lanePaths(t *testing.T, test func(t *testing.T)) {
	for _, code := range append(slices.Clone(index.LaneCodes), "") {
		name := cmp.Or(code, "none")
		t.Run("lanes="+name, func(t *testing.T) {
			available, restore := index.SetLanes(code)
			defer restore()
			if !available {
				t.Skipf("this machine lacks what lanes=%s needs", name)
			}
			test(t)
		})
	}
}

// checkLanes checks HashLanes against Hash on keys.
func checkLanes(t *testing.T, k0, k1 uint64, keys [][]byte) {
	t.Helper()
	got := make([]uint64, len(keys)+1)
	got[len(keys)] = 0x5354525553545255
	index.HashLanes(k0, k1, keys, got)
	for i, k := range keys {
		if want := index.Hash(k0, k1, k); got[i] != want {
			t.Fatalf("HashLanes(%#x, %#x, ...)[%d] (key %x, %d bytes) = %#x, Hash gives %#x", k0, k1, i, k, len(k), got[i], want)
		}
	}
	if got[len(keys)] != 0x5354525553545255 {
		t.Fatalf("HashLanes of %d keys wrote past them", len(keys))
	}
}

// TestHashLanesReferenceVectors hashes the SipHash reference messages
// 00 01 … (n−1), n = 0 … 63, all in one call: eight groups of eight lanes,
// each lane a different length, against the reference outputs.
func TestHashLanesReferenceVectors(t *testing.T) {
	lanePaths(t, func(t *testing.T) {
		k0, k1 := sipRefKey.Halves()
		msg := make([]byte, 64)
		for i := range msg {
			msg[i] = byte(i)
		}
		keys := make([][]byte, len(sipRefVectors))
		for n := range keys {
			keys[n] = msg[:n]
		}
		got := make([]uint64, len(keys))
		index.HashLanes(k0, k1, keys, got)
		for n, want := range sipRefVectors {
			if got[n] != want {
				t.Errorf("HashLanes of 00..%02x = %#016x, want %#016x", n-1, got[n], want)
			}
		}
	})
}

// TestHashLanesMatchesHash checks HashLanes against Hash on random batches:
// random counts (a multiple of eight or not), random hash keys, and keys of
// random lengths drawn from several ranges, so that the lanes of a group
// finish after very different numbers of words.
func TestHashLanesMatchesHash(t *testing.T) {
	lanePaths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		lengths := []struct{ lo, hi int }{{0, 8}, {8, 65}, {0, 300}, {60, 70}, {0, 2000}}
		for trial := range 3000 {
			span := lengths[trial%len(lengths)]
			keys := make([][]byte, r.IntN(40))
			for i := range keys {
				keys[i] = make([]byte, span.lo+r.IntN(span.hi-span.lo))
				for j := range keys[i] {
					keys[i][j] = byte(r.Uint32())
				}
			}
			checkLanes(t, r.Uint64(), r.Uint64(), keys)
		}
	})
}

// TestHashLanesIgnoresBytesAfterKeys hashes keys of every length from 0 to
// 99 bytes that are views into one larger slice, so that the bytes after a
// key, which its hash must not depend on, are not zero.
func TestHashLanesIgnoresBytesAfterKeys(t *testing.T) {
	lanePaths(t, func(t *testing.T) {
		buf := make([]byte, 200)
		for i := range buf {
			buf[i] = 0xA5 ^ byte(i)
		}
		var keys [][]byte
		for n := range 100 {
			keys = append(keys, buf[n%7:n%7+n])
		}
		checkLanes(t, 1, 2, keys)
	})
}

// BenchmarkHashLanes compares, per key, HashLanes (impl=lanes) with a loop
// of Hash calls (impl=loop) on groups of 64 random keys of 8–64 bytes, the
// group FindBatch hashes at a time.
//
//	go test ./index -run '^$' -bench HashLanes -count 6 | tee lanes.txt
//	benchstat -col /impl lanes.txt
func BenchmarkHashLanes(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	keys := make([][]byte, 1<<12)
	for i := range keys {
		keys[i] = make([]byte, 8+r.IntN(57))
		for j := range keys[i] {
			keys[i][j] = byte(r.Uint32())
		}
	}
	const group = 64
	hashes := make([]uint64, group)
	for _, impl := range []string{"lanes", "loop"} {
		b.Run("impl="+impl, func(b *testing.B) {
			g := 0
			for b.Loop() {
				lo := g * group % len(keys)
				batch := keys[lo : lo+group]
				if impl == "lanes" {
					index.HashLanes(1, 2, batch, hashes)
				} else {
					for i, k := range batch {
						hashes[i] = index.Hash(1, 2, k)
					}
				}
				g++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*group), "ns/key")
		})
	}
}

// FuzzHash checks index.Hash, and HashLanes with every vector code this
// machine has, against github.com/dchest/siphash on arbitrary hash keys
// and messages. The group HashLanes hashes is cut from the two inputs so
// that its keys have unrelated lengths and straddle a lane group of
// eight: a, b, a+b, and prefixes and suffixes of them.
func FuzzHash(f *testing.F) {
	f.Add(uint64(0), uint64(0), []byte{}, []byte{})
	f.Add(uint64(0x0706050403020100), uint64(0x0f0e0d0c0b0a0908), []byte("abcdefgh"), []byte("stru"))
	f.Add(uint64(1), uint64(2), make([]byte, 63), make([]byte, 64))
	f.Add(^uint64(0), uint64(3), []byte("a key of thirty-six bytes, like ours"), []byte{0, 0xff, '\n', '\r'})
	f.Fuzz(func(t *testing.T, k0, k1 uint64, a, b []byte) {
		ab := append(slices.Clip(a), b...)
		keys := [][]byte{a, b, ab, a[:len(a)/2], b[len(b)/3:], ab[:len(ab)*2/3], ab[len(ab)/4:], a[len(a)/5:], b[:len(b)*3/4]}
		for _, k := range keys {
			if got, want := index.Hash(k0, k1, k), siphash.Hash(k0, k1, k); got != want {
				t.Fatalf("Hash(%#x, %#x, %x) = %#x, siphash.Hash gives %#x", k0, k1, k, got, want)
			}
		}
		for _, code := range append(slices.Clone(index.LaneCodes), "") {
			available, restore := index.SetLanes(code)
			if available {
				checkLanes(t, k0, k1, keys)
			}
			restore()
		}
	})
}
