package index_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stru-index/stru/index"
)

func TestComputeLayoutGolden(t *testing.T) {
	// format.md §10.1: 4 keys, 1 bucket, 12 key bytes, 1 filter block,
	// widths 4 and 1.
	l, ok := index.ComputeLayout(4, 1, 12, 1, 4, 1)
	want := index.Layout{
		index.SectionHeader:  {Off: 0, Size: 128, End: 128},
		index.SectionBuckets: {Off: 128, Size: 64, End: 192},
		index.SectionOffsets: {Off: 192, Size: 16, End: 256},
		index.SectionLengths: {Off: 256, Size: 4, End: 320},
		index.SectionKeys:    {Off: 320, Size: 12, End: 384},
		index.SectionFilter:  {Off: 384, Size: 64, End: 448},
	}
	if !ok || l != want {
		t.Errorf("ComputeLayout(4, 1, 12, 1, 4, 1) = %v, %v; want %v, true", l, ok, want)
	}
	if l.FileSize() != 448 {
		t.Errorf("FileSize() = %d, want 448", l.FileSize())
	}
	// format.md §1: the empty set is 192 bytes, its last four sections empty.
	l, ok = index.ComputeLayout(0, 1, 0, 0, 4, 1)
	empty := index.Extent{Off: 192, Size: 0, End: 192}
	if !ok || l.FileSize() != 192 || l[index.SectionOffsets] != empty || l[index.SectionKeys] != empty || l[index.SectionFilter] != empty {
		t.Errorf("ComputeLayout of the empty set = %v, %v; want sections ending at 192", l, ok)
	}
}

// TestComputeLayoutAlignment checks format.md §1's rules on random counts:
// sections in order, each at a multiple of 64, padded with less than 64
// bytes to where the next starts.
func TestComputeLayoutAlignment(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for range 10000 {
		keys := r.Uint64N(1 << r.UintN(41))
		buckets := max((keys+7)/8, 1) + r.Uint64N(100)
		keyBytes := r.Uint64N(1 << r.UintN(50))
		ow, lw := uint8(4<<r.UintN(2)), uint8(1<<r.UintN(2))
		filter := r.Uint64N(1 << r.UintN(40))
		l, ok := index.ComputeLayout(keys, buckets, keyBytes, filter, ow, lw)
		if !ok {
			t.Fatalf("ComputeLayout(%d, %d, %d, %d, %d) failed", keys, buckets, keyBytes, ow, lw)
		}
		sizes := [index.NumSections]uint64{128, 64 * buckets, keys * uint64(ow), keys * uint64(lw), keyBytes, 64 * filter}
		var at uint64
		for s, e := range l {
			if e.Off != at || e.Off%64 != 0 || e.End%64 != 0 || e.Size != sizes[s] ||
				e.End < e.Off+e.Size || e.End-(e.Off+e.Size) >= 64 {
				t.Fatalf("ComputeLayout(%d, %d, %d, %d, %d): section %v = %+v, want it at %d, %d bytes, padded to 64",
					keys, buckets, keyBytes, ow, lw, index.Section(s), e, at, sizes[s])
			}
			at = e.End
		}
		if l.FileSize() != at {
			t.Fatalf("FileSize() = %d, want %d", l.FileSize(), at)
		}
	}
}

// TestComputeLayoutOverflow checks format.md §6.3 check 20: no product
// over 64 bits, no section content or unpadded end at 2^62 or beyond.
func TestComputeLayoutOverflow(t *testing.T) {
	const limit = 1 << 62
	for _, c := range []struct {
		keys, buckets, keyBytes uint64
		ow, lw                  uint8
		ok                      bool
		filter                  uint64
	}{
		{0, 1, limit - 192 - 65, 4, 1, true, 0},      // keys end at 2^62 − 65, padded to 2^62 − 64
		{0, 1, limit - 192 - 1, 4, 1, false, 0},      // keys end at 2^62 − 1: the empty filter section starts and ends at 2^62
		{0, 1, limit - 192 - 64, 4, 1, false, 1},     // the filter ends at 2^62
		{0, 1, limit - 192 - 128, 4, 1, true, 1},     // the filter ends at 2^62 − 64
		{0, 1, 0, 4, 1, false, 1<<56 - 3},            // the filter ends at 2^62
		{0, 1, 0, 4, 1, true, 1<<56 - 4},             // the filter ends at 2^62 − 64
		{0, 1, 0, 4, 1, false, 1 << 58},              // 64 × filter blocks overflows 64 bits
		{0, 1, limit - 192, 4, 1, false, 0},          // keys end at 2^62
		{0, 1, 1<<64 - 1, 4, 1, false, 0},            // keys alone exceed 2^62
		{0, 1<<56 - 3, 0, 4, 1, true, 0},             // buckets end at 2^62 − 64
		{0, 1<<56 - 2, 0, 4, 1, false, 0},            // buckets end at 2^62
		{0, 1<<56 - 1, 0, 4, 1, false, 0},            // buckets end past 2^62
		{0, 1 << 56, 0, 4, 1, false, 0},              // buckets are 2^62 bytes
		{0, 1 << 58, 0, 4, 1, false, 0},              // 64 × buckets overflows 64 bits
		{1 << 61, 1 << 58, 0, 8, 2, false, 0},        // keys × 8 overflows too
		{1 << 62, 1, 0, 8, 1, false, 0},              // keys × 8 overflows 64 bits
		{1 << 59, 1, 0, 8, 1, false, 0},              // keys × 8 = 2^62
		{1<<40 - 2, 1 << 37, 1 << 56, 8, 2, true, 0}, // counts past what the format allows, still laid out
		// The largest counts the format allows.
		{index.MaxKeys, 1 << 37, index.MaxKeyBytes, 8, 2, true, 0},
	} {
		_, ok := index.ComputeLayout(c.keys, c.buckets, c.keyBytes, c.filter, c.ow, c.lw)
		if ok != c.ok {
			t.Errorf("ComputeLayout(%d, %d, %d, %d, %d, %d) ok = %v, want %v", c.keys, c.buckets, c.keyBytes, c.filter, c.ow, c.lw, ok, c.ok)
		}
	}
}

func TestWidths(t *testing.T) {
	for _, c := range []struct {
		keyBytes uint64
		want     uint8
	}{{0, 4}, {1, 4}, {1<<32 - 1, 4}, {1 << 32, 4}, {1<<32 + 1, 8}, {1 << 40, 8}, {1<<64 - 1, 8}} {
		if got := index.OffsetWidth(c.keyBytes); got != c.want {
			t.Errorf("OffsetWidth(%d) = %d, want %d", c.keyBytes, got, c.want)
		}
	}
	for _, c := range []struct {
		longest uint32
		want    uint8
	}{{0, 1}, {1, 1}, {255, 1}, {256, 2}, {65535, 2}} {
		if got := index.LengthWidth(c.longest); got != c.want {
			t.Errorf("LengthWidth(%d) = %d, want %d", c.longest, got, c.want)
		}
	}
}

func TestBucketCount(t *testing.T) {
	for _, c := range []struct {
		keys       uint64
		loadFactor float64
		want       uint64
	}{
		{0, 0.8, 1}, {1, 0.8, 1}, {4, 0.8, 1}, {6, 0.8, 1}, {7, 0.8, 2}, // ⌈n / 6.4⌉
		{0, 0.5, 1}, {4, 0.5, 1}, {5, 0.5, 2}, {400, 0.5, 100}, {401, 0.5, 101}, // ⌈n / 4⌉
		{8, 1, 1}, {9, 1, 2}, {1 << 40, 1, 1 << 37}, // ⌈n / 8⌉
		{1000, 0.05, 2500}, // ⌈n / 0.4⌉
		{17, 2, 3},         // a load factor above 1 still leaves a slot per key
		// Outside (0, 1], as if 1, on every architecture (a float out
		// of uint64's range converts differently on 386 and amd64).
		{17, 0, 3}, {17, -1, 3}, {17, math.NaN(), 3}, {17, math.Inf(1), 3}, {17, math.Inf(-1), 3},
		{0, -1, 1}, {8 * 65536, 0, 65536},
		// Past 65536 buckets, rounded up to a multiple of ⌈B / 65536⌉ blocks.
		{8 * 65536, 1, 65536},            // one full block
		{8*65536 + 1, 1, 65538},          // 65537 → 2 blocks of 32769
		{8 * 131072, 1, 131072},          // 2 full blocks
		{8*131072 + 1, 1, 131073},        // 3 blocks of 43691
		{8*131073 + 1, 1, 131076},        // 131074 → 3 blocks of 43692
		{8 * 1000000, 1, 1000000},        // 16 blocks of 62500
		{8*1000000 + 1, 1, 1000016},      // 1000001 → 16 blocks of 62501
		{600000, 0.5, 150000},            // 3 blocks of 50000
		{1<<40 - 2, 0.95, 2207529 << 16}, // ⌈(2^40 − 2) / 7.6⌉ = 144672582602 → 2207529 full blocks
	} {
		got := index.BucketCount(c.keys, c.loadFactor)
		if got != c.want {
			t.Errorf("BucketCount(%d, %v) = %d, want %d", c.keys, c.loadFactor, got, c.want)
		}
	}
	r := rand.New(rand.NewPCG(15, 16))
	for range 10000 {
		keys := r.Uint64N(1 << r.UintN(41))
		lf := 0.05 + 0.9*r.Float64()
		nb := index.BucketCount(keys, lf)
		blocks := index.Blocks(nb)
		if nb < 1 || nb < (keys+7)/8 {
			t.Fatalf("BucketCount(%d, %v) = %d: fewer slots than keys", keys, lf, nb)
		}
		if nb%blocks != 0 {
			t.Fatalf("BucketCount(%d, %v) = %d: not a multiple of its %d blocks", keys, lf, nb, blocks)
		}
		// The load is at most lf (up to float rounding).
		if load := float64(keys) / float64(8*nb); load > lf*(1+1e-12) {
			t.Fatalf("BucketCount(%d, %v) = %d: load %v", keys, lf, nb, load)
		}
		// No smaller valid count would do: not the next smaller multiple of
		// as many blocks, nb − blocks, nor the largest count of fewer
		// blocks, (blocks − 1)·65536.
		if nb > blocks && float64(keys)/float64(8*(nb-blocks)) < lf*(1-1e-12) {
			t.Fatalf("BucketCount(%d, %v) = %d: %d buckets would do", keys, lf, nb, nb-blocks)
		}
		if fewer := (blocks - 1) * index.BlockBuckets; blocks > 1 && float64(keys)/float64(8*fewer) < lf*(1-1e-12) {
			t.Fatalf("BucketCount(%d, %v) = %d: %d buckets in %d blocks would do", keys, lf, nb, fewer, blocks-1)
		}
	}
}

// TestHeaderLayoutWidths checks that Layout accepts both widths format.md
// §5 allows and rejects the rest.
func TestHeaderLayoutWidths(t *testing.T) {
	base := index.Header{Version: index.Version, Keys: 4, Buckets: 1, KeyBytes: 12, MaxKeyLen: 6}
	for _, c := range []struct {
		ow, lw   uint8
		keyBytes uint64
		longest  uint32
		ok       bool
	}{
		{4, 1, 12, 6, true}, {8, 1, 12, 6, true}, {4, 2, 12, 6, true}, {8, 2, 12, 6, true},
		{4, 1, 12, 255, true}, {4, 1, 12, 256, false}, {4, 2, 12, 256, true}, {4, 2, 12, 65535, true},
		{8, 2, 1<<32 + 1, 65535, true}, {4, 2, 1<<32 + 1, 65535, false},
	} {
		h := base
		h.OffsetWidth, h.LengthWidth, h.KeyBytes, h.MaxKeyLen = c.ow, c.lw, c.keyBytes, c.longest
		if c.keyBytes > 4*uint64(c.longest) {
			h.Keys = c.keyBytes/uint64(c.longest) + 1
			h.Buckets = (h.Keys + 7) / 8
		}
		h.FileSize = fileSizeOf(t, h)
		_, err := h.Layout(h.FileSize, "")
		if (err == nil) != c.ok {
			t.Errorf("Layout with offset width %d, length width %d, %d key bytes, longest %d: %v, want ok = %v",
				c.ow, c.lw, c.keyBytes, c.longest, err, c.ok)
		}
	}
	// 4-byte offsets hold up to 2^32 key bytes, and no more.
	for _, c := range []struct {
		keyBytes uint64
		ok       bool
	}{{1 << 32, true}, {1<<32 + 1, false}} {
		h := index.Header{Version: index.Version, Keys: 1 << 20, Buckets: 1 << 17, KeyBytes: c.keyBytes, MaxKeyLen: 65535, OffsetWidth: 4, LengthWidth: 2}
		l, _ := index.ComputeLayout(h.Keys, h.Buckets, h.KeyBytes, 0, h.OffsetWidth, h.LengthWidth)
		h.FileSize = l.FileSize()
		if _, err := h.Layout(h.FileSize, ""); (err == nil) != c.ok {
			t.Errorf("Layout with 4-byte offsets and %d key bytes: %v, want ok = %v", c.keyBytes, err, c.ok)
		}
	}
	// 8-byte offsets hold up to MaxKeyBytes = 2^40 − 2 key bytes, the most
	// a slot's 40-bit offset+1 can point into, and no more.
	for _, c := range []struct {
		keyBytes uint64
		ok       bool
	}{{index.MaxKeyBytes, true}, {index.MaxKeyBytes + 1, false}, {1 << 40, false}} {
		h := index.Header{Version: index.Version, Keys: 1 << 25, Buckets: 1 << 22, KeyBytes: c.keyBytes, MaxKeyLen: 65535, OffsetWidth: 8, LengthWidth: 2}
		h.FileSize = fileSizeOf(t, h)
		_, err := h.Layout(h.FileSize, "")
		var fe *index.FormatError
		if c.ok && err != nil || !c.ok && (!errors.As(err, &fe) || fe.Section != "header" || fe.Off != 40) {
			t.Errorf("Layout with 8-byte offsets and %d key bytes: %v, want ok = %v (else an error at offset 40)", c.keyBytes, err, c.ok)
		}
	}
}

// TestSectionString checks the sections' order and names (format.md §1).
func TestSectionString(t *testing.T) {
	names := []string{"header", "buckets", "offsets", "lengths", "keys", "filter"}
	if int(index.NumSections) != len(names) {
		t.Errorf("NumSections = %d, want %d", index.NumSections, len(names))
	}
	for s, want := range append(names, "file") {
		if got := index.Section(s).String(); got != want {
			t.Errorf("Section(%d).String() = %q, want %q", s, got, want)
		}
	}
}

// TestPutUint writes integers of each width and reads them back as
// little-endian, checking that no byte past the width is touched, and
// that another width panics rather than write a field of the wrong size.
func TestPutUint(t *testing.T) {
	for _, c := range []struct {
		v     uint64
		width uint8
		want  []byte
	}{
		{0xab, 1, []byte{0xab}},
		{0xabcd, 2, []byte{0xcd, 0xab}},
		{0x01020304, 4, []byte{4, 3, 2, 1}},
		{0x0102030405060708, 8, []byte{8, 7, 6, 5, 4, 3, 2, 1}},
		{1<<32 - 1, 4, []byte{0xff, 0xff, 0xff, 0xff}},
	} {
		b := bytes.Repeat([]byte{0xee}, 10)
		index.PutUint(b, c.v, c.width)
		if !bytes.Equal(b[:c.width], c.want) || !bytes.Equal(b[c.width:], bytes.Repeat([]byte{0xee}, 10-int(c.width))) {
			t.Errorf("PutUint(%#x, %d) wrote % x, want % x then untouched bytes", c.v, c.width, b, c.want)
		}
	}
	for _, width := range []uint8{0, 3, 5, 7, 9} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("PutUint with width %d did not panic", width)
				}
			}()
			index.PutUint(make([]byte, 16), 1, width)
		}()
	}
}

// TestHeaderLayoutFullTable checks check 12 of format.md §6.3 at its
// boundary: 8·B ≥ N, so a table whose every slot is used (N = 8·B) is
// valid, and one more key is refused at the bucket count. A file of 8 keys
// in one bucket, written from format.md's rules, opens, verifies and finds
// every key.
func TestHeaderLayoutFullTable(t *testing.T) {
	for _, b := range []uint64{1, 3, 65536, 3 << 16} {
		for _, extra := range []uint64{0, 1} {
			h := index.Header{Version: index.Version, Keys: 8*b + extra, Buckets: b, KeyBytes: 8*b + extra, MaxKeyLen: 1, OffsetWidth: 4, LengthWidth: 1}
			h.FileSize = fileSizeOf(t, h)
			_, err := h.Layout(h.FileSize, "")
			var fe *index.FormatError
			if extra == 0 && err != nil || extra == 1 && (!errors.As(err, &fe) || fe.Off != 32) {
				t.Errorf("Layout of %d keys in %d buckets: %v, want ok = %v (else an error at offset 32)", h.Keys, b, err, extra == 0)
			}
		}
	}
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	f := writeFromSpec(keys, sipRefKey, 1, 1, 4, 1)
	if f == nil {
		t.Fatal("writeFromSpec failed")
	}
	v, err := index.NewView(f, "")
	if err != nil {
		t.Fatalf("NewView of a full bucket: %v", err)
	}
	if err := v.Verify(); err != nil {
		t.Fatalf("Verify of a full bucket: %v", err)
	}
	checkLookups(t, &v, keys, []string{"i", "", "aa"})
	if writeFromSpec(append(keys, "i"), sipRefKey, 1, 1, 4, 1) != nil {
		t.Error("writeFromSpec placed 9 keys in one bucket")
	}
}

// fileSizeOf returns the size of the file h describes, without a filter,
// as ComputeLayout gives it.
func fileSizeOf(t *testing.T, h index.Header) uint64 {
	t.Helper()
	l, ok := index.ComputeLayout(h.Keys, h.Buckets, h.KeyBytes, 0, h.OffsetWidth, h.LengthWidth)
	if !ok {
		t.Fatalf("ComputeLayout for %+v failed", h)
	}
	return l.FileSize()
}
