package index_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
	"slices"
	"strings"
	"testing"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
)

var goldenKeys = []string{"", "a", "apple", "banana"}

func TestViewGolden(t *testing.T) {
	v, err := index.NewView(readGolden(t), goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if v.Len() != 4 || v.Header.Buckets != 1 || v.Header.MaxKeyLen != 6 || v.Header.HashKey != sipRefKey {
		t.Errorf("header = %+v", v.Header)
	}
	for i, k := range goldenKeys {
		if ord, ok := v.Find([]byte(k)); !ok || ord != uint64(i) {
			t.Errorf("Find(%q) = %d, %v; want %d, true", k, ord, ok, i)
		}
		if got, ok := v.Key(uint64(i)); !ok || string(got) != k {
			t.Errorf("Key(%d) = %q, %v; want %q", i, got, ok, k)
		}
		if got := v.Search([]byte(k)); got != uint64(i) {
			t.Errorf("Search(%q) = %d, want %d", k, got, i)
		}
	}
	for _, k := range []string{"b", "A", "app", "apples", "banan", "\x00", "cherry"} {
		if ord, ok := v.Find([]byte(k)); ok {
			t.Errorf("Find(%q) = %d, true; want absent", k, ord)
		}
	}
	for k, want := range map[string]uint64{"\x00": 1, "ap": 2, "apples": 3, "b": 3, "c": 4} {
		if got := v.Search([]byte(k)); got != want {
			t.Errorf("Search(%q) = %d, want %d", k, got, want)
		}
	}
	if _, ok := v.Key(4); ok {
		t.Error("Key(4) of a 4-key file succeeded")
	}

	var zero index.View
	if _, ok := zero.Find(nil); ok || zero.Len() != 0 || zero.Search([]byte("a")) != 0 {
		t.Error("the zero View is not empty")
	}
}

// buildFile builds keys with the golden hash key at the given load factor.
func buildFile(t testing.TB, keys []string, loadFactor float64) []byte {
	t.Helper()
	hk := sipRefKey
	b, err := builder.New(builder.Options{HashKey: &hk, LoadFactor: loadFactor})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := b.AddString(k); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func manyKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key %d", i*7919)
	}
	return keys
}

// TestEveryByteCovered changes every byte of two files in turn and checks
// that opening or full verification notices (format.md §6.2), and that
// nothing panics on the way.
func TestEveryByteCovered(t *testing.T) {
	files := map[string][]byte{
		"golden": readGolden(t),
		// 300 keys at load 0.95: many in their second bucket.
		"300 keys": buildFile(t, manyKeys(300), 0.95),
	}
	for name, f := range files {
		if v, err := index.NewView(f, ""); err != nil || v.Verify() != nil {
			t.Fatalf("%s: the undamaged file fails: %v", name, err)
		}
		masks := []byte{0x01, 0x80, 0xff}
		if len(f) > 1000 {
			masks = masks[:1]
		}
		for off := range f {
			for _, m := range masks {
				d := bytes.Clone(f)
				d[off] ^= m
				v, err := index.NewView(d, "")
				if err == nil {
					err = v.Verify()
					// Lookups on a damaged file give some answer, never a panic.
					for _, k := range goldenKeys {
						v.Find([]byte(k))
						v.Search([]byte(k))
					}
					for i := range v.Len() + 1 {
						v.Key(i)
					}
				}
				if err == nil {
					t.Fatalf("%s: byte %#x changed by xor %#02x: neither NewView nor Verify noticed", name, off, m)
				}
				if !errors.Is(err, index.ErrCorrupt) && !errors.Is(err, index.ErrVersion) && !errors.Is(err, index.ErrNotIndex) {
					t.Fatalf("%s: byte %#x changed: %v wraps no sentinel", name, off, err)
				}
			}
		}
	}
}

// TestVerifyStructure damages sections of the golden file with their
// checksums recomputed, so that each reaches one structural check of full
// verification (format.md §6.4), and checks which.
func TestVerifyStructure(t *testing.T) {
	// Golden file sections: buckets 0x80, offsets 0xc0, lengths 0x100, keys 0x140.
	for _, c := range []struct {
		name    string
		change  func([]byte) []byte
		section string
		off     int64
		msg     string
	}{
		{"keys out of order", put(0x140, 1, 'c'), "keys", 0x141, "strictly ascending"},
		{"offset not after the previous key", put(0xc8, 4, 2), "offsets", 0xc8, "starts at 2, want 1"},
		{"length over the longest", put(0x103, 1, 7), "lengths", 0x103, "longer than the longest key"},
		{"key past the key data", both(put(68, 4, 7), put(0x103, 1, 7)), "lengths", 0x103, "past the key data"},
		{"key data field one short", put(40, 8, 11), "keys", 0x14b, "padding byte is 0x61"}, // the last "a" of "banana" is now padding
		{"longest key field too large", put(68, 4, 7), "header", 68, "longest key is 6 bytes, header says 7"},
		{"padding in offsets", put(0xd0, 1, 1), "offsets", 0xd0, "padding byte"},
		{"padding in lengths", put(0x104, 1, 1), "lengths", 0x104, "padding byte"},
		{"padding in keys", put(0x17f, 1, 1), "keys", 0x17f, "padding byte"},
		{"hole in a bucket", func(f []byte) []byte { copy(f[0xa8:0xb0], f[0x98:0xa0]); clear(f[0x98:0xa0]); return f },
			"buckets", 0xa8, "used slot after an empty slot"},
		{"wrong tag", put(0x85, 1, 0x30), "buckets", 0x80, "has tag 0x0e0e30, the key's hash gives 0x0e0e31"},
		{"ordinal past the keys", put(0x98, 1, 5), "buckets", 0x98, "no ordinal below the key count 4"},
		{"ordinal field 0", put(0x98, 1, 0), "buckets", 0x98, "no ordinal below the key count"},
		{"key in two slots", func(f []byte) []byte { copy(f[0x98:0xa0], f[0x90:0x98]); return f }, "buckets", 0x98, "key 2 is in more than one slot"},
		{"key in no slot", func(f []byte) []byte { clear(f[0x98:0xa0]); return f }, "buckets", 0x80, "3 slots are used, want one for each of 4 keys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.change(readGolden(t))
			resealSections(t, f)
			checkVerifyFails(t, f, c.section, c.off, c.msg)
		})
	}
}

func checkVerifyFails(t *testing.T, f []byte, section string, off int64, msg string) {
	t.Helper()
	v, err := index.NewView(f, "damaged.stru")
	if err != nil {
		t.Fatalf("NewView: %v", err)
	}
	err = v.Verify()
	var fe *index.FormatError
	if !errors.As(err, &fe) || !errors.Is(err, index.ErrCorrupt) {
		t.Fatalf("Verify: %v, want a *FormatError wrapping ErrCorrupt", err)
	}
	if fe.Section != section || fe.Off != off || !strings.Contains(fe.Msg, msg) || fe.File != "damaged.stru" {
		t.Errorf("Verify: %v\nwant file damaged.stru, section %s, offset %#x, a message containing %q", err, section, off, msg)
	}
}

// TestVerifyBucketChoice moves a key out of the bucket format.md §4 says it
// must be in, in a file with several buckets.
func TestVerifyBucketChoice(t *testing.T) {
	keys := manyKeys(40)
	f := buildFile(t, keys, 0.5) // 10 buckets, none full
	v, err := index.NewView(f, "")
	if err != nil {
		t.Fatal(err)
	}
	nb, base := v.Header.Buckets, v.Layout[index.SectionBuckets].Off
	slotAt := func(b, i uint64) uint64 { return base + 64*b + 8*i }
	fill := func(f []byte, b uint64) uint64 {
		n := uint64(0)
		for n < 8 && le.Uint64(f[slotAt(b, n):]) != 0 {
			n++
		}
		return n
	}
	// move takes key ord out of bucket from (closing the gap) and appends
	// it to bucket to; it returns the offset of its new slot.
	move := func(f []byte, ord, from, to uint64) uint64 {
		n := fill(f, from)
		for i := range n {
			if o, _ := index.SlotOrdinal(le.Uint64(f[slotAt(from, i):])); o == ord {
				s := le.Uint64(f[slotAt(from, i):])
				copy(f[slotAt(from, i):slotAt(from, i)+8], f[slotAt(from, n-1):slotAt(from, n-1)+8])
				clear(f[slotAt(from, n-1) : slotAt(from, n-1)+8])
				at := slotAt(to, fill(f, to))
				le.PutUint64(f[at:], s)
				return at
			}
		}
		t.Fatalf("key %d is not in bucket %d", ord, from)
		return 0
	}
	moved := 0
	for ord := range v.Len() {
		key, _ := v.Key(ord)
		b1, b2 := index.Buckets(v.HashOf(key), nb)
		if b1 == b2 || fill(f, b2) == 8 {
			continue
		}
		// In its second bucket while its first has room: Find cannot reach it.
		d := bytes.Clone(f)
		at := move(d, ord, b1, b2)
		resealSections(t, d)
		checkVerifyFails(t, d, "buckets", int64(at), "in its second bucket")
		if dv, err := index.NewView(d, ""); err != nil {
			t.Fatal(err)
		} else if _, ok := dv.Find(key); ok {
			t.Errorf("Find(%q) found a key moved to its second bucket while its first has room", key)
		}
		// In neither of its buckets.
		for c := range nb {
			if c != b1 && c != b2 && fill(f, c) < 8 {
				d := bytes.Clone(f)
				at := move(d, ord, b1, c)
				resealSections(t, d)
				checkVerifyFails(t, d, "buckets", int64(at), fmt.Sprintf("is in bucket %d, its buckets are %d and %d", c, b1, b2))
				break
			}
		}
		if moved++; moved == 3 {
			break
		}
	}
	if moved == 0 {
		t.Fatal("no key has two distinct buckets with room")
	}
}

// writeFromSpec writes a STRU file for the sorted, distinct keys following
// format.md alone (with the SipHash and CRC-32C of its text), using the given
// bucket count, which must be a multiple of its blocks, and widths. Keys go
// in their first bucket, else their second; it returns nil if both are full.
func writeFromSpec(keys []string, hk index.HashKey, nb uint64, ow, lw uint8) []byte {
	k0, k1 := le.Uint64(hk[0:8]), le.Uint64(hk[8:16])
	slots := make([]uint64, 8*nb)
	fill := make([]uint64, nb)
	var keyBytes, longest uint64
	for ord, k := range keys {
		h := sipHashFromSpec(k0, k1, []byte(k))
		blocks := (nb + 65535) / 65536 // §3: ⌈B / 65536⌉ blocks of per buckets
		per := nb / blocks
		block, _ := bits.Mul64(h, blocks)
		o1, _ := bits.Mul64(h*0x9E3779B97F4A7C15, per)
		o2, _ := bits.Mul64(h*0xC2B2AE3D27D4EB4F, per)
		b1, b2 := block*per+o1, block*per+o2
		b := b1
		if fill[b] == 8 {
			b = b2
		}
		if fill[b] == 8 {
			return nil
		}
		slots[8*b+fill[b]] = (h&0xFFFFFF)<<40 | uint64(ord+1)
		fill[b]++
		keyBytes += uint64(len(k))
		longest = max(longest, uint64(len(k)))
	}
	n := uint64(len(keys))
	up := func(x uint64) uint64 { return (x + 63) / 64 * 64 }
	offOffsets := 128 + 64*nb
	offLengths := offOffsets + up(n*uint64(ow))
	offKeys := offLengths + up(n*uint64(lw))
	size := offKeys + up(keyBytes)
	f := make([]byte, size)
	putN := func(at uint64, width uint8, v uint64) {
		for i := range uint64(width) {
			f[at+i] = byte(v >> (8 * i))
		}
	}
	for i, s := range slots {
		putN(128+8*uint64(i), 8, s)
	}
	var off uint64
	for i, k := range keys {
		putN(offOffsets+uint64(i)*uint64(ow), ow, off)
		putN(offLengths+uint64(i)*uint64(lw), lw, uint64(len(k)))
		copy(f[offKeys+off:], k)
		off += uint64(len(k))
	}
	copy(f, "STRU")
	putN(4, 2, 1)
	putN(6, 2, 128)
	putN(16, 8, size)
	putN(24, 8, n)
	putN(32, 8, nb)
	putN(40, 8, keyBytes)
	copy(f[48:64], hk[:])
	f[64], f[65] = ow, lw
	putN(68, 4, longest)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	for i, r := range [][2]uint64{{128, offOffsets}, {offOffsets, offLengths}, {offLengths, offKeys}, {offKeys, size}} {
		putN(72+4*uint64(i), 4, uint64(crc32.Checksum(f[r[0]:r[1]], castagnoli)))
	}
	putN(124, 4, uint64(crc32.Checksum(f[:124], castagnoli)))
	return f
}

// TestWriteFromSpec writes files from format.md's text alone and checks
// that the index package reads them: the golden file byte for byte, and
// files with the wider offsets and lengths a reader must accept (§5) and
// other bucket counts.
func TestWriteFromSpec(t *testing.T) {
	if got := writeFromSpec(goldenKeys, sipRefKey, 1, 4, 1); !bytes.Equal(got, readGolden(t)) {
		t.Fatalf("format.md's rules give a file different from %s:\n%x", goldenPath, got)
	}
	long := strings.Repeat("z", 300)
	sets := map[string][]string{
		"golden":        goldenKeys,
		"empty":         nil,
		"empty key":     {""},
		"binary":        {"\x00", "\x00\x00", "\x00\xff", "\x7f", "\x80", "\xff\xfe\xfd"},
		"prefixes":      {"", "a", "aa", "aaa", "aaaa", "aaaaa"},
		"long key":      {"a", "zz", long},
		"40 keys":       slices.Sorted(slices.Values(manyKeys(40))),
		"one short key": {"x"},
	}
	for name, keys := range sets {
		var longest int
		for _, k := range keys {
			longest = max(longest, len(k))
		}
		counts := []uint64{max(uint64(len(keys)+3)/4, 1), 3 + uint64(len(keys)), 17}
		if name == "40 keys" || name == "golden" {
			counts = append(counts, 65538, 3<<16) // 2 blocks of 32769, 3 of 65536
		}
		for _, nb := range counts {
			for _, w := range [][2]uint8{{4, 1}, {8, 1}, {4, 2}, {8, 2}} {
				if longest > 255 && w[1] == 1 {
					continue
				}
				t.Run(fmt.Sprintf("%s/%d buckets/widths %d,%d", name, nb, w[0], w[1]), func(t *testing.T) {
					f := writeFromSpec(keys, sipRefKey, nb, w[0], w[1])
					if f == nil {
						t.Fatal("writeFromSpec could not place every key in its first or second bucket")
					}
					v, err := index.NewView(f, "")
					if err != nil {
						t.Fatalf("NewView: %v", err)
					}
					if err := v.Verify(); err != nil {
						t.Fatalf("Verify: %v", err)
					}
					for i, k := range keys {
						if ord, ok := v.Find([]byte(k)); !ok || ord != uint64(i) {
							t.Errorf("Find(%q) = %d, %v; want %d, true", k, ord, ok, i)
						}
						if got, _ := v.Key(uint64(i)); string(got) != k {
							t.Errorf("Key(%d) = %q, want %q", i, got, k)
						}
					}
					for _, k := range []string{"b", "\x01", "aaaaaa", long + "z", "key 1"} {
						if _, ok := v.Find([]byte(k)); ok != slices.Contains(keys, k) {
							t.Errorf("Find(%q) = %v", k, ok)
						}
					}
				})
			}
		}
	}
}
