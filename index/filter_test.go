package index_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stru-index/stru/index"
)

// TestFilterHashKnownAnswers pins the filter hash to XXH3-64 with seed 0
// and the default secret (format.md §3.1): xxHash's answer for the empty
// input, and xxh3FromSpec, written from format.md's description, on every
// length up to 2100 bytes, through each of its paths (0, 1–3, 4–8, 9–16,
// 17–128, 129–240 bytes, and the long path's stripes, blocks of 1024
// bytes and last stripe), on random bytes and on runs of one byte value.
func TestFilterHashKnownAnswers(t *testing.T) {
	if got, want := index.FilterHash(nil), uint64(0x2D06800538D394C2); got != want {
		t.Errorf("FilterHash of the empty key = %#016x, want %#016x", got, want)
	}
	r := rand.New(rand.NewPCG(31, 32))
	for n := range 2101 {
		key := make([]byte, n)
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		for _, k := range [][]byte{key, bytes.Repeat([]byte{byte(n)}, n)} {
			if got, want := index.FilterHash(k), xxh3FromSpec(k); got != want {
				t.Fatalf("FilterHash of %d bytes = %#016x, the specification gives %#016x", n, got, want)
			}
		}
	}
}

func TestFilterBlocks(t *testing.T) {
	for _, c := range []struct{ keys, bits, want uint64 }{
		{0, 6, 0}, {1, 6, 1}, {85, 6, 1}, {86, 6, 2}, {4, 0, 0}, {1_000_000, 6, 11719},
		{512, 1, 1}, {513, 1, 2}, {1 << 40, 64, 1 << 37},
		// 2^63 bits exactly still gives ⌈2^63 / 512⌉ blocks; from one more
		// key on the product exceeds 2^63 and the answer is 2^58.
		{1 << 57, 64, 1 << 63 / 512}, {1<<57 + 1, 64, 1 << 58}, {1 << 60, 8, 1 << 63 / 512},
	} {
		if got := index.FilterBlocks(c.keys, c.bits); got != c.want {
			t.Errorf("FilterBlocks(%d, %d) = %d, want %d", c.keys, c.bits, got, c.want)
		}
	}
	// Sizes no file can hold come back too large to lay out.
	for _, keys := range []uint64{1 << 62, 1<<64 - 1} {
		if _, ok := index.ComputeLayout(1, 1, 1, index.FilterBlocks(keys, 64), 4, 1); ok {
			t.Errorf("FilterBlocks(%d, 64) = %d, which ComputeLayout lays out", keys, index.FilterBlocks(keys, 64))
		}
	}
}

// TestFilterBits checks FilterBlock and FilterBit against format.md
// §3.1's formulas on random hashes, and that FilterSet sets exactly those
// bits.
func TestFilterBits(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for range 1000 {
		h, blocks := r.Uint64(), 1+r.Uint64N(1<<r.UintN(40))
		if b := index.FilterBlock(h, blocks); b >= blocks || b != uint64((float64(h)/(1<<64))*float64(blocks)) && blocks < 1<<20 {
			t.Fatalf("FilterBlock(%#x, %d) = %d", h, blocks, b)
		}
		var block [index.FilterBlockSize]byte
		index.FilterSet(block[:], h)
		set := 0
		for p := range 512 {
			if block[p/8]>>(p%8)&1 == 0 {
				continue
			}
			set++
			if !slices.Contains([]uint64{h & 511, h >> 9 & 511, h >> 18 & 511, h >> 27 & 511}, uint64(p)) {
				t.Fatalf("FilterSet(%#x) set bit %d", h, p)
			}
		}
		for i := range index.FilterProbes {
			if p := index.FilterBit(h, i); p != h>>(9*i)&511 || block[p/8]>>(p%8)&1 == 0 {
				t.Fatalf("FilterBit(%#x, %d) = %d, not set by FilterSet", h, i, p)
			}
		}
		if set == 0 || set > index.FilterProbes {
			t.Fatalf("FilterSet(%#x) set %d bits", h, set)
		}
	}
}

// TestFilterRejects builds files from format.md's rules with a filter of 6
// bits a key and checks that every key passes it and that absent keys are
// turned away as a Bloom filter of that size should: a false-positive
// rate under 10% (it is about 6% in theory), and well above 0.
func TestFilterRejects(t *testing.T) {
	for _, n := range []int{1, 100, 5000} {
		keys := slices.Sorted(slices.Values(manyKeys(n)))
		fb := index.FilterBlocks(uint64(n), 6)
		f := writeFromSpec(keys, sipRefKey, index.BucketCount(uint64(n), 0.25), fb, 4, 1)
		v, err := index.NewView(f, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(); err != nil {
			t.Fatalf("%d keys: Verify: %v", n, err)
		}
		for _, k := range keys {
			if !v.MayHave([]byte(k)) {
				t.Fatalf("%d keys: the filter turns away %q, a key of the file", n, k)
			}
		}
		const queries = 20000
		passed := 0
		for i := range queries {
			k := []byte(fmt.Sprintf("absent %d", i))
			if v.MayHave(k) {
				passed++
			}
			if v.Has(k) {
				t.Fatalf("%d keys: Has(%q) = true", n, k)
			}
		}
		rate := float64(passed) / queries
		t.Logf("%d keys, %d filter blocks: %.2f%% of absent keys pass the filter", n, fb, 100*rate)
		if rate > 0.10 || n >= 100 && rate < 0.01 {
			t.Errorf("%d keys: %.2f%% of absent keys pass a filter of 6 bits a key, want about 6%%", n, 100*rate)
		}
	}
}

// TestFilterDamaged clears the golden file's filter block: the lookups
// answer false for the keys it held (wrong but safe) on every path (probePaths), FindBatch agrees,
// and Verify reports the filter: its checksum if not resealed, and the
// first bit a key sets that is missing if the checksum is recomputed.
func TestFilterDamaged(t *testing.T) {
	for _, reseal := range []bool{false, true} {
		f := readGolden(t)
		v, err := index.NewView(f, "golden.stru")
		if err != nil {
			t.Fatal(err)
		}
		fe := v.Layout[index.SectionFilter]
		clear(f[fe.Off:fe.End])
		if reseal {
			le.PutUint32(f[88:], index.Checksum(f[fe.Off:fe.End]))
			resealHeader(f)
		}
		v, err = index.NewView(f, "golden.stru")
		if err != nil {
			t.Fatalf("NewView: %v", err)
		}
		batch := make([][]byte, len(goldenKeys))
		for i, k := range goldenKeys {
			batch[i] = []byte(k)
		}
		probePaths(t, func(t *testing.T) {
			for _, k := range batch {
				if v.Has(k) {
					t.Errorf("Has(%q) = true with an empty filter", k)
				}
				if _, ok := v.Find(k); ok {
					t.Errorf("Find(%q) ok with an empty filter", k)
				}
			}
		})
		present := make([]bool, len(batch))
		v.FindBatch(batch, present)
		if slices.Contains(present, true) {
			t.Errorf("FindBatch = %v with an empty filter, want all false", present)
		}
		err = v.Verify()
		var fmtErr *index.FormatError
		if !errors.As(err, &fmtErr) || !errors.Is(err, index.ErrCorrupt) || fmtErr.Section != "filter" || fmtErr.Off < int64(fe.Off) || fmtErr.Off >= int64(fe.End) {
			t.Errorf("Verify (resealed %v): %v, want ErrCorrupt in the filter, [%d, %d)", reseal, err, fe.Off, fe.End)
		}
		if reseal && (fmtErr == nil || !strings.Contains(fmtErr.Msg, "is 0, but key")) {
			t.Errorf("Verify: %v, want a bit a key sets that is 0", err)
		}
	}
}

// version2File is version 2's worked example, testdata/example.stru as
// version 2 of the format had it (git show c52f78d:testdata/example.stru):
// the same keys and hash key as version 3's, without a filter.
const version2File = "../testdata/version2.stru"

// TestOpenVersion2 checks format.md §7: a version 2 file reads as a
// version 3 file without a filter, and its bytes [88, 124), reserved in
// version 2, must be zero even where version 3 has the filter's fields.
func TestOpenVersion2(t *testing.T) {
	f, err := os.ReadFile(version2File)
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 384 || le.Uint16(f[4:]) != 2 || le.Uint32(f[124:]) != index.Checksum(f[:124]) {
		t.Fatalf("%s: %d bytes, not a version 2 file with a good header checksum", version2File, len(f))
	}
	v, err := index.NewView(f, "v2.stru")
	if err != nil {
		t.Fatalf("NewView of a version 2 file: %v", err)
	}
	if err := v.Verify(); err != nil {
		t.Errorf("Verify of a version 2 file: %v", err)
	}
	if v.Header.Version != 2 || v.Header.FilterBlocks != 0 || v.Layout[index.SectionFilter] != (index.Extent{Off: 384, End: 384}) {
		t.Errorf("version 2 file: version %d, %d filter blocks, filter section %+v; want 2, 0, empty at 384", v.Header.Version, v.Header.FilterBlocks, v.Layout[index.SectionFilter])
	}
	// Its buckets, tables and keys are version 3's: the golden file's.
	golden := readGolden(t)
	if !bytes.Equal(f[128:384], golden[128:384]) {
		t.Errorf("the sections of %s differ from those of %s", version2File, goldenPath)
	}
	for i, k := range goldenKeys {
		if ord, ok := v.Find([]byte(k)); !ok || ord != uint64(i) {
			t.Errorf("Find(%q) = %d, %v; want %d, true", k, ord, ok, i)
		}
	}
	for _, k := range []string{"b", "apples", "\x00"} {
		if v.Has([]byte(k)) {
			t.Errorf("Has(%q) = true", k)
		}
	}
	for _, at := range []int{88, 91, 96, 103, 123} {
		g := bytes.Clone(f)
		g[at] = 1
		resealHeader(g)
		_, err := index.NewView(g, "v2.stru")
		var fe *index.FormatError
		if !errors.As(err, &fe) || fe.Err != index.ErrCorrupt || fe.Off != int64(at) {
			t.Errorf("version 2 file with byte %d set: %v, want ErrCorrupt (reserved) at %d", at, err, at)
		}
	}
}

// TestFilterExtraBit sets, one at a time, each bit of the golden file's
// filter block that no key sets, with the checksum recomputed: the
// lookups still find every key, and Verify reports the bit.
func TestFilterExtraBit(t *testing.T) {
	good := readGolden(t)
	v, err := index.NewView(good, "")
	if err != nil {
		t.Fatal(err)
	}
	fe := v.Layout[index.SectionFilter]
	extra := 0
	for p := range uint64(512) {
		at := fe.Off + p/8
		if good[at]>>(p%8)&1 == 1 {
			continue
		}
		extra++
		f := bytes.Clone(good)
		f[at] |= 1 << (p % 8)
		le.PutUint32(f[88:], index.Checksum(f[fe.Off:fe.End]))
		resealHeader(f)
		v, err := index.NewView(f, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range goldenKeys {
			if !v.Has([]byte(k)) {
				t.Errorf("bit %d set: Has(%q) = false", p, k)
			}
		}
		err = v.Verify()
		var fmtErr *index.FormatError
		if !errors.As(err, &fmtErr) || fmtErr.Section != "filter" || fmtErr.Off != int64(at) ||
			!strings.Contains(fmtErr.Msg, fmt.Sprintf("bit %d of block 0 is 1, but no key sets it", p)) {
			t.Errorf("bit %d set: Verify: %v, want the bit reported at %d", p, err, at)
		}
	}
	if extra < 512-4*len(goldenKeys) {
		t.Errorf("%d bits of the golden filter are 0, want at least %d", extra, 512-4*len(goldenKeys))
	}
}

// TestFilterFillerPieces builds a filter with FilterSet, one key at a
// time, and with FilterFillers, whole and a piece at a time in pieces of
// several sizes, for counts of keys below, at and above the number a
// filler holds back, and checks that the bytes are the same: each key
// lands in exactly one piece, its block's, and Flush sets the bits of
// every key held.
func TestFilterFillerPieces(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	const blocks = 47
	for _, n := range []int{0, 1, 15, 16, 17, 33, 3000} {
		hashes := make([]uint64, n)
		for i := range hashes {
			hashes[i] = r.Uint64()
		}
		want := make([]byte, blocks*index.FilterBlockSize)
		for _, h := range hashes {
			index.FilterSet(want[index.FilterBlock(h, blocks)*index.FilterBlockSize:], h)
		}
		for _, per := range []uint64{1, 2, 5, 46, 47, 100} {
			var pieces []byte
			for first := uint64(0); first < blocks; first += per {
				piece := make([]byte, min(per, blocks-first)*index.FilterBlockSize)
				fill := index.NewFilterFiller(piece, first, blocks)
				for i, h := range hashes {
					fill.Add(h)
					if i == n/2 {
						fill.Flush() // a Flush in the middle changes nothing
					}
				}
				fill.Flush()
				pieces = append(pieces, piece...)
			}
			if !bytes.Equal(pieces, want) {
				t.Errorf("%d keys: a filter built %d blocks at a time differs from the one set key by key", n, per)
			}
		}
	}
}

// BenchmarkFilterFill sets the bits of 10 million random filter hashes
// in a filter of the default size (7.5 MB): one key at a time with
// FilterSet, and with a FilterFiller, which prefetches each key's block
// and sets its bits a few keys later.
func BenchmarkFilterFill(b *testing.B) {
	const n = 10_000_000
	blocks := index.FilterBlocks(n, 6) // builder.DefaultFilterBitsPerKey
	filter := make([]byte, blocks*index.FilterBlockSize)
	hashes := make([]uint64, n)
	r := rand.New(rand.NewPCG(37, 38))
	for i := range hashes {
		hashes[i] = r.Uint64()
	}
	perKey := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/key")
	}
	b.Run("impl=set", func(b *testing.B) {
		for b.Loop() {
			for _, h := range hashes {
				index.FilterSet(filter[index.FilterBlock(h, blocks)*index.FilterBlockSize:], h)
			}
		}
		perKey(b)
	})
	b.Run("impl=filler", func(b *testing.B) {
		for b.Loop() {
			fill := index.NewFilterFiller(filter, 0, blocks)
			for _, h := range hashes {
				fill.Add(h)
			}
			fill.Flush()
		}
		perKey(b)
	})
}
