package index_test

import (
	"bytes"
	"encoding/hex"
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
	if v.Len() != 4 || v.Header.Buckets != 1 || v.Header.MaxKeyLen != 6 || v.Header.HashKey != sipRefKey || v.Header.Version != 3 || v.Header.FilterBlocks != 1 {
		t.Errorf("header = %+v", v.Header)
	}
	// The first slot holds "", whose hash under the reference key is
	// SipHash's first reference vector, 0x726fdb47dd0e0e31: tag 0x0e31,
	// length field 0, offset 0.
	if s := le.Uint64(v.Data()[v.Layout[index.SectionBuckets].Off:]); s != 0x0e31_00_0000000001 {
		t.Errorf(`slot 0 = %#016x, want the slot of "" 0x0e31000000000001`, s)
	}
	for i, k := range goldenKeys {
		if ord, ok := v.Find([]byte(k)); !ok || ord != uint64(i) {
			t.Errorf("Find(%q) = %d, %v; want %d, true", k, ord, ok, i)
		}
		if !v.Has([]byte(k)) {
			t.Errorf("Has(%q) = false, want true", k)
		}
		if got, ok := v.Key(uint64(i)); !ok || string(got) != k {
			t.Errorf("Key(%d) = %q, %v; want %q", i, got, ok, k)
		}
		if got := v.Search([]byte(k)); got != uint64(i) {
			t.Errorf("Search(%q) = %d, want %d", k, got, i)
		}
	}
	for _, k := range []string{"b", "A", "app", "apples", "banan", "\x00", "cherry", "bananas", "aa"} {
		if ord, ok := v.Find([]byte(k)); ok {
			t.Errorf("Find(%q) = %d, true; want absent", k, ord)
		}
		if v.Has([]byte(k)) {
			t.Errorf("Has(%q) = true; want absent", k)
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
	if _, ok := zero.Find(nil); ok || zero.Has(nil) || zero.Has([]byte("a")) || zero.Len() != 0 || zero.Search([]byte("a")) != 0 {
		t.Error("the zero View is not empty")
	}
	present := []bool{true, true}
	zero.FindBatch([][]byte{nil, []byte("a")}, present)
	if present[0] || present[1] {
		t.Error("FindBatch on the zero View found a key")
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

// longLengths are key lengths on either side of LongKey = 255, from which
// a slot's length field no longer gives the key's length, and beyond.
var longLengths = []int{254, 255, 256, 257, 300, 1000, 4096}

// longKeys returns n distinct keys with the lengths of longLengths in turn.
func longKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		k := fmt.Sprintf("long %d ", i)
		keys[i] = k + strings.Repeat("x", longLengths[i%len(longLengths)]-len(k))
	}
	return keys
}

// TestEveryByteCovered changes every byte of three files in turn and checks
// that opening or full verification notices (format.md §6.2), and that
// nothing panics on the way.
func TestEveryByteCovered(t *testing.T) {
	files := map[string][]byte{
		"golden": readGolden(t),
		// 300 keys at load 0.95: many in their second bucket.
		"300 keys": buildFile(t, manyKeys(300), 0.95),
		// Keys of 255 bytes and more, whose lookups read the offset table.
		"long keys": buildFile(t, slices.Concat(goldenKeys, longKeys(7)), 0.8),
	}
	for name, f := range files {
		if v, err := index.NewView(f, ""); err != nil || v.Verify() != nil {
			t.Fatalf("%s: the undamaged file fails: %v", name, err)
		}
		masks := []byte{0x01, 0x80, 0xff}
		if len(f) > 1000 {
			masks = masks[:1]
		}
		lookups := slices.Concat(goldenKeys, longKeys(9))
		batch := byteKeys(lookups)
		present := make([]bool, len(batch))
		for off := range f {
			for _, m := range masks {
				d := bytes.Clone(f)
				d[off] ^= m
				v, err := index.NewView(d, "")
				if err == nil {
					err = v.Verify()
					// Lookups on a damaged file give some answer, never a
					// panic, and FindBatch the answers of Has.
					v.FindBatch(batch, present)
					for i, k := range lookups {
						if has := v.Has([]byte(k)); present[i] != has {
							t.Fatalf("%s: byte %#x changed by xor %#02x: FindBatch says %.20q is present: %v, Has says %v", name, off, m, k, present[i], has)
						}
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

// specSlot is the slot of a key at offset off in the key data, under the
// golden hash key, as format.md §4 writes it: the low 16 bits of the
// key's hash, its length up to 255, and off+1.
func specSlot(key string, off uint64) uint64 {
	k0, k1 := sipRefKey.Halves()
	return sipHashFromSpec(k0, k1, []byte(key))&0xFFFF<<48 | uint64(min(len(key), 255))<<40 | (off + 1)
}

// moveEntry returns a change that moves the width bytes at from to to,
// leaving zeros at from.
func moveEntry(from, to, width int) func([]byte) []byte {
	return func(f []byte) []byte {
		copy(f[to:to+width], f[from:from+width])
		clear(f[from : from+width])
		return f
	}
}

// copyEntry returns a change that copies the width bytes at from to to.
func copyEntry(from, to, width int) func([]byte) []byte {
	return func(f []byte) []byte {
		copy(f[to:to+width], f[from:from+width])
		return f
	}
}

// notInBuckets is Verify's message for key ord of n bytes at offset off,
// whose slot is s (format.md §4), found in neither of its buckets b1 and b2.
func notInBuckets(ord int, s, n, off, b1, b2 uint64) string {
	return fmt.Sprintf("key %d (slot %#016x: tag %#04x, length field %d, offset %d) is in neither of its buckets %d and %d",
		ord, s, s>>48, min(n, 255), off, b1, b2)
}

// TestVerifyStructure damages sections of the golden file with their
// checksums recomputed, so that each reaches one structural check of full
// verification (format.md §6.4), and checks which.
func TestVerifyStructure(t *testing.T) {
	// Golden file sections: buckets 0x80, offsets 0xc0, lengths 0x100, keys 0x140.
	const buckets = 0x80
	slotAt := func(i int) int { return buckets + 8*i }
	// The golden keys' slots, all in bucket 0: "" at offset 0, "a" at 0,
	// "apple" at 1, "banana" at 6.
	offs := []uint64{0, 0, 1, 6}
	slot := make([]uint64, 4)
	for i, k := range goldenKeys {
		slot[i] = specSlot(k, offs[i])
	}
	if slot[0] != 0x0e31000000000001 {
		t.Fatalf(`the slot of "" is %#016x, format.md's reference hash gives 0x0e31000000000001`, slot[0])
	}
	notIn := func(ord int) string {
		return notInBuckets(ord, slot[ord], uint64(len(goldenKeys[ord])), offs[ord], 0, 0)
	}
	for _, c := range []struct {
		name    string
		change  func([]byte) []byte
		section string
		off     int64
		msg     string
	}{
		{"keys out of order", put(0x140, 1, 'c'), "keys", 0x141, "strictly ascending"},
		{"offset not after the previous key", put(0xc8, 4, 2), "offsets", 0xc8, "key 2 starts at 2, want 1 (the end of key 1)"},
		{"first key not at the start", put(0xc0, 4, 1), "offsets", 0xc0, "key 0 starts at 1, want 0 (the start of the key data)"},
		{"length over the longest", put(0x103, 1, 7), "lengths", 0x103, "longer than the longest key"},
		{"key past the key data", both(put(68, 4, 7), put(0x103, 1, 7)), "lengths", 0x103, "past the key data"},
		{"key data field one short", put(40, 8, 11), "keys", 0x14b, "padding byte is 0x61"}, // the last "a" of "banana" is now padding
		{"longest key field too large", put(68, 4, 7), "header", 68, "longest key is 6 bytes, header says 7"},
		{"padding in offsets", put(0xd0, 1, 1), "offsets", 0xd0, "padding byte"},
		{"padding in lengths", put(0x104, 1, 1), "lengths", 0x104, "padding byte"},
		{"padding in keys", put(0x17f, 1, 1), "keys", 0x17f, "padding byte"},
		// Buckets fill from their first slot.
		{"hole in a bucket", moveEntry(slotAt(3), slotAt(5), 8), "buckets", int64(slotAt(5)), "used slot after an empty slot"},
		// Each field of a slot: tag, length field, offset. The key's slot
		// is then in no bucket.
		{"wrong tag", put(slotAt(0)+6, 1, 0x30), "buckets", buckets, notIn(0)},
		{"wrong length field", put(slotAt(1)+5, 1, 2), "buckets", buckets, notIn(1)},
		{"wrong offset", put(slotAt(2), 1, 3), "buckets", buckets, notIn(2)},
		{"offset field 0", put(slotAt(2), 1, 0), "buckets", buckets, notIn(2)},
		{"length field 255 for a short key", put(slotAt(3)+5, 1, 255), "buckets", buckets, notIn(3)},
		{"slot of an absent key", put(slotAt(3), 8, specSlot("cherry", 6)), "buckets", buckets, notIn(3)},
		// One slot for each key.
		{"key in two slots", copyEntry(slotAt(2), slotAt(3), 8), "buckets", buckets, notIn(3)},
		{"key in no slot", put(slotAt(3), 8, 0), "buckets", buckets, "3 slots are used, want one for each of 4 keys"},
		{"a fifth slot", copyEntry(slotAt(0), slotAt(4), 8), "buckets", buckets, "5 slots are used, want one for each of 4 keys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.change(readGolden(t))
			resealSections(t, f)
			checkVerifyFails(t, f, c.section, c.off, c.msg)
		})
	}
	// The order of the used slots in a bucket is free.
	t.Run("slots in another order", func(t *testing.T) {
		f := readGolden(t)
		le.PutUint64(f[slotAt(0):], slot[3])
		le.PutUint64(f[slotAt(3):], slot[0])
		le.PutUint64(f[slotAt(1):], slot[2])
		le.PutUint64(f[slotAt(2):], slot[1])
		resealSections(t, f)
		v, err := index.NewView(f, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(); err != nil {
			t.Errorf("Verify: %v", err)
		}
		for i, k := range goldenKeys {
			if ord, ok := v.Find([]byte(k)); !ok || ord != uint64(i) {
				t.Errorf("Find(%q) = %d, %v; want %d, true", k, ord, ok, i)
			}
		}
	})
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

// TestVerifySlotFields changes each field of each slot of a file of short
// keys and keys of 255 bytes or more, one way at a time, and checks that
// Verify reports the key whose slot it was as in none of its buckets, and
// that a slot whose tag or length field is no longer the key's no longer
// finds it (format.md §4).
func TestVerifySlotFields(t *testing.T) {
	keys := []string{"", "a", "apple", strings.Repeat("w", 254), strings.Repeat("x", 255), strings.Repeat("y", 256), strings.Repeat("z", 300)}
	f := writeFromSpec(keys, sipRefKey, 1, 1, 4, 2) // one bucket: every key in slot = its ordinal
	if f == nil {
		t.Fatal("writeFromSpec failed")
	}
	const base = 128
	var off uint64
	for i, k := range keys {
		n := uint64(len(k))
		s := specSlot(k, off)
		if got := le.Uint64(f[base+8*i:]); got != s {
			t.Fatalf("slot %d = %#016x, want the slot of key %d %#016x", i, got, i, s)
		}
		const tagMask, lenMask, offMask = 0xffff << 48, 0xff << 40, 1<<40 - 1
		type change struct {
			field string
			slot  uint64
		}
		changes := []change{
			{"tag", s ^ 1<<48}, {"tag", s ^ 1<<63}, {"tag", s &^ tagMask},
			{"offset", s + 1}, {"offset", s &^ offMask}, {"offset", s | offMask},
		}
		if off > 0 {
			changes = append(changes, change{"offset", s - 1})
		}
		for _, lf := range []uint64{0, 1, 5, 254, 255, n - 1, n + 1} {
			if lf <= 255 && lf != min(n, 255) {
				changes = append(changes, change{"length field", s&^lenMask | lf<<40})
			}
		}
		for _, c := range changes {
			if c.slot == 0 || c.slot == s {
				continue
			}
			name := fmt.Sprintf("key %d of %d bytes/%s %#016x", i, n, c.field, c.slot)
			t.Run(name, func(t *testing.T) {
				d := bytes.Clone(f)
				le.PutUint64(d[base+8*i:], c.slot)
				resealSections(t, d)
				checkVerifyFails(t, d, "buckets", base, notInBuckets(i, s, n, off, 0, 0))
				if c.field == "offset" {
					return // the key may still be found, by chance
				}
				v, err := index.NewView(d, "")
				if err != nil {
					t.Fatal(err)
				}
				if v.Has([]byte(k)) {
					t.Errorf("Has(%q) found the key through a slot with another %s", k, c.field)
				}
			})
		}
		off += n
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
	// move takes slot s out of bucket from (moving the bucket's last slot
	// into the gap) and appends it to bucket to.
	move := func(f []byte, s, from, to uint64) {
		n := fill(f, from)
		for i := range n {
			if le.Uint64(f[slotAt(from, i):]) == s {
				le.PutUint64(f[slotAt(from, i):], le.Uint64(f[slotAt(from, n-1):]))
				le.PutUint64(f[slotAt(from, n-1):], 0)
				le.PutUint64(f[slotAt(to, fill(f, to)):], s)
				return
			}
		}
		t.Fatalf("slot %#016x is not in bucket %d", s, from)
	}
	moved := 0
	var off uint64 // the key's offset in the key data
	for ord := range v.Len() {
		key, _ := v.Key(ord)
		h := v.HashOf(key)
		n := uint64(len(key))
		s := index.MakeSlot(h, n, off)
		off += n
		b1, b2 := index.Buckets(h, nb)
		if b1 == b2 || fill(f, b2) == 8 {
			continue
		}
		// In its second bucket while its first has room: Has cannot reach it.
		d := bytes.Clone(f)
		move(d, s, b1, b2)
		resealSections(t, d)
		checkVerifyFails(t, d, "buckets", int64(base+64*b2), fmt.Sprintf("key %d is in its second bucket %d while its first, %d, has room", ord, b2, b1))
		if dv, err := index.NewView(d, ""); err != nil {
			t.Fatal(err)
		} else if _, ok := dv.Find(key); ok || dv.Has(key) {
			t.Errorf("Find or Has(%q) found a key moved to its second bucket while its first has room", key)
		}
		// In neither of its buckets.
		for c := range nb {
			if c != b1 && c != b2 && fill(f, c) < 8 {
				d := bytes.Clone(f)
				move(d, s, b1, c)
				resealSections(t, d)
				checkVerifyFails(t, d, "buckets", int64(base+64*b1), notInBuckets(int(ord), s, n, off-n, b1, b2))
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
// bucket count, which must be a multiple of its blocks, filter block count
// (§3.1) and widths. Keys go in their first bucket, else their second; it
// returns nil if both are full.
func writeFromSpec(keys []string, hk index.HashKey, nb, fb uint64, ow, lw uint8) []byte {
	k0, k1 := le.Uint64(hk[0:8]), le.Uint64(hk[8:16])
	slots := make([]uint64, 8*nb)
	fill := make([]uint64, nb)
	var keyBytes, longest uint64
	for _, k := range keys {
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
		// §4: the low 16 bits of the hash, the length up to 255, and the
		// key's offset in the key data plus one.
		n := uint64(len(k))
		slots[8*b+fill[b]] = (h&0xFFFF)<<48 | min(n, 255)<<40 | (keyBytes + 1)
		fill[b]++
		keyBytes += n
		longest = max(longest, n)
	}
	n := uint64(len(keys))
	up := func(x uint64) uint64 { return (x + 63) / 64 * 64 }
	offOffsets := 128 + 64*nb
	offLengths := offOffsets + up(n*uint64(ow))
	offKeys := offLengths + up(n*uint64(lw))
	offFilter := offKeys + up(keyBytes)
	size := offFilter + 64*fb
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
		// §3.1: 4 bits of the key's block, from its XXH3.
		if fb > 0 {
			h := xxh3FromSpec([]byte(k))
			block, _ := bits.Mul64(h, fb)
			for j := range 4 {
				bit := h >> (9 * j) & 511
				f[offFilter+64*block+bit/8] |= 1 << (bit % 8)
			}
		}
	}
	copy(f, "STRU")
	putN(4, 2, 3)
	putN(6, 2, 128)
	putN(16, 8, size)
	putN(24, 8, n)
	putN(32, 8, nb)
	putN(40, 8, keyBytes)
	copy(f[48:64], hk[:])
	f[64], f[65] = ow, lw
	putN(68, 4, longest)
	putN(96, 8, fb)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	for i, r := range [][2]uint64{{128, offOffsets}, {offOffsets, offLengths}, {offLengths, offKeys}, {offKeys, offFilter}, {offFilter, size}} {
		putN(72+4*uint64(i), 4, uint64(crc32.Checksum(f[r[0]:r[1]], castagnoli)))
	}
	putN(124, 4, uint64(crc32.Checksum(f[:124], castagnoli)))
	return f
}

// TestWriteFromSpec writes files from format.md's text alone and checks
// that the index package reads them: the golden file byte for byte, and
// files with the wider offsets and lengths a reader must accept (§5),
// other bucket counts, and keys of 255 bytes or more.
func TestWriteFromSpec(t *testing.T) {
	if got := writeFromSpec(goldenKeys, sipRefKey, 1, 1, 4, 1); !bytes.Equal(got, readGolden(t)) {
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
		"long keys":     {"", long[:254], long[:255], long[:256], long, strings.Repeat("z", index.MaxKeyLen)},
		"40 keys":       slices.Sorted(slices.Values(manyKeys(40))),
		"40 long keys":  slices.Sorted(slices.Values(longKeys(40))),
		"one short key": {"x"},
		"one long key":  {long},
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
		for i, nb := range counts {
			for _, w := range [][2]uint8{{4, 1}, {8, 1}, {4, 2}, {8, 2}} {
				if longest > 255 && w[1] == 1 {
					continue
				}
				fb := []uint64{(6*uint64(len(keys)) + 511) / 512, 0, 3, 1, 0}[i]
				t.Run(fmt.Sprintf("%s/%d buckets/%d filter blocks/widths %d,%d", name, nb, fb, w[0], w[1]), func(t *testing.T) {
					f := writeFromSpec(keys, sipRefKey, nb, fb, w[0], w[1])
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
						if !v.Has([]byte(k)) {
							t.Errorf("Has(%q) = false, want true", k)
						}
						if got, _ := v.Key(uint64(i)); string(got) != k {
							t.Errorf("Key(%d) = %q, want %q", i, got, k)
						}
					}
					for _, k := range []string{"", "b", "\x01", "aaaaaa", long + "z", long[:257], strings.Repeat("y", 255), "key 1", "long 1 "} {
						want := slices.Contains(keys, k)
						if _, ok := v.Find([]byte(k)); ok != want {
							t.Errorf("Find(%q) ok = %v, want %v", k, ok, want)
						}
						if got := v.Has([]byte(k)); got != want {
							t.Errorf("Has(%q) = %v, want %v", k, got, want)
						}
					}
				})
			}
		}
	}
}

// xxh3Secret is XXH3's default secret, kSecret: 192 bytes (format.md §3.1).
var xxh3Secret = func() []byte {
	b, err := hex.DecodeString(
		"b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f" +
			"cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c" +
			"3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8" +
			"a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364" +
			"eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e" +
			"2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e")
	if err != nil {
		panic(err)
	}
	return b
}()

// xxh3FromSpec is XXH3-64 with seed 0 and the default secret, written from
// format.md §3.1's description of it rather than the package's library:
// the filter hash.
func xxh3FromSpec(p []byte) uint64 {
	const (
		prime32_1 = 0x9E3779B1
		prime32_2 = 0x85EBCA77
		prime32_3 = 0xC2B2AE3D
		prime64_1 = 0x9E3779B185EBCA87
		prime64_2 = 0xC2B2AE3D27D4EB4F
		prime64_3 = 0x165667B19E3779F9
		prime64_4 = 0x85EBCA77C2B2AE63
		prime64_5 = 0x27D4EB2F165667C5
		primeMx1  = 0x165667919E3779F9
		primeMx2  = 0x9FB21C651E98DF25
	)
	sec := xxh3Secret
	r64 := func(b []byte, i int) uint64 { return le.Uint64(b[i:]) }
	r32 := func(b []byte, i int) uint64 { return uint64(le.Uint32(b[i:])) }
	fold := func(a, b uint64) uint64 { hi, lo := bits.Mul64(a, b); return hi ^ lo }
	avalanche := func(h uint64) uint64 { h ^= h >> 37; h *= primeMx1; return h ^ h>>32 }
	xxh64Avalanche := func(h uint64) uint64 {
		h ^= h >> 33
		h *= prime64_2
		h ^= h >> 29
		h *= prime64_3
		return h ^ h>>32
	}
	mix16 := func(i, s int) uint64 { return fold(r64(p, i)^r64(sec, s), r64(p, i+8)^r64(sec, s+8)) }
	n := len(p)
	switch {
	case n == 0:
		return xxh64Avalanche(r64(sec, 56) ^ r64(sec, 64))
	case n <= 3:
		combined := uint64(p[0])<<16 | uint64(p[n>>1])<<24 | uint64(p[n-1]) | uint64(n)<<8
		return xxh64Avalanche(combined ^ (r32(sec, 0) ^ r32(sec, 4)))
	case n <= 8:
		h := (r32(p, n-4) + r32(p, 0)<<32) ^ (r64(sec, 8) ^ r64(sec, 16))
		h ^= bits.RotateLeft64(h, 49) ^ bits.RotateLeft64(h, 24)
		h *= primeMx2
		h ^= h>>35 + uint64(n)
		h *= primeMx2
		return h ^ h>>28
	case n <= 16:
		lo := r64(p, 0) ^ (r64(sec, 24) ^ r64(sec, 32))
		hi := r64(p, n-8) ^ (r64(sec, 40) ^ r64(sec, 48))
		return avalanche(uint64(n) + bits.ReverseBytes64(lo) + hi + fold(lo, hi))
	case n <= 128:
		acc := uint64(n) * prime64_1
		if n > 32 {
			if n > 64 {
				if n > 96 {
					acc += mix16(48, 96) + mix16(n-64, 112)
				}
				acc += mix16(32, 64) + mix16(n-48, 80)
			}
			acc += mix16(16, 32) + mix16(n-32, 48)
		}
		acc += mix16(0, 0) + mix16(n-16, 16)
		return avalanche(acc)
	case n <= 240:
		acc := uint64(n) * prime64_1
		for i := range 8 {
			acc += mix16(16*i, 16*i)
		}
		acc = avalanche(acc)
		for i := 8; i < n/16; i++ {
			acc += mix16(16*i, 16*(i-8)+3)
		}
		acc += mix16(n-16, 136-17)
		return avalanche(acc)
	}
	acc := [8]uint64{prime32_3, prime64_1, prime64_2, prime64_3, prime64_4, prime32_2, prime64_5, prime32_1}
	stripe := func(at, s int) {
		for i := range 8 {
			v := r64(p, at+8*i)
			k := v ^ r64(sec, s+8*i)
			acc[i^1] += v
			acc[i] += (k & 0xFFFFFFFF) * (k >> 32)
		}
	}
	const stripesPerBlock = (192 - 64) / 8
	const blockLen = 64 * stripesPerBlock
	blocks := (n - 1) / blockLen
	for b := range blocks {
		for s := range stripesPerBlock {
			stripe(b*blockLen+64*s, 8*s)
		}
		for i := range acc {
			acc[i] ^= acc[i] >> 47
			acc[i] ^= r64(sec, 192-64+8*i)
			acc[i] *= prime32_1
		}
	}
	for s := range ((n - 1) - blockLen*blocks) / 64 {
		stripe(blocks*blockLen+64*s, 8*s)
	}
	stripe(n-64, 192-64-7)
	result := uint64(n) * prime64_1
	for i := range 4 {
		result += fold(acc[2*i]^r64(sec, 11+16*i), acc[2*i+1]^r64(sec, 11+16*i+8))
	}
	return avalanche(result)
}

// TestVerifyZeroView checks that the zero View, which holds no keys and no
// bytes, verifies: it has no header to check, and no sections.
func TestVerifyZeroView(t *testing.T) {
	var zero index.View
	if err := zero.Verify(); err != nil {
		t.Errorf("Verify of the zero View: %v", err)
	}
}

// TestVerifyTablesWidths damages the length and key tables of files
// written from format.md's rules at each offset and length width (§5), and
// checks that Verify reports the entry of the key it names at that key's
// place in its table, and refuses a key equal to the one before it: keys
// are strictly ascending.
func TestVerifyTablesWidths(t *testing.T) {
	up := func(x uint64) uint64 { return (x + 63) / 64 * 64 }
	for _, w := range [][2]uint8{{4, 1}, {8, 1}, {4, 2}, {8, 2}} {
		ow, lw := uint64(w[0]), uint64(w[1])
		// §1's layout for 4 keys in one bucket.
		offsets := uint64(128 + 64)
		lengths := offsets + up(4*ow)
		keys := lengths + up(4*lw)
		for _, c := range []struct {
			name    string
			keys    []string
			change  func([]byte) []byte
			section string
			off     uint64
			msg     string
		}{
			{"length of key 2 over the longest", goldenKeys, put(int(lengths+2*lw), int(lw), 7),
				"lengths", lengths + 2*lw, "key 2 is 7 bytes: longer than the longest key (6)"},
			{"length of key 3 past the key data", goldenKeys, both(put(68, 4, 7), put(int(lengths+3*lw), int(lw), 7)),
				"lengths", lengths + 3*lw, "key 3 is 7 bytes"},
			{"key 2 equal to key 1", []string{"", "a", "a", "b"}, func(f []byte) []byte { return f },
				"keys", keys + 1, "key 2 is not greater than key 1: keys must be strictly ascending"},
			{"key 1 equal to key 0, both empty", []string{"", "", "a", "b"}, func(f []byte) []byte { return f },
				"keys", keys, "key 1 is not greater than key 0"},
			{"key 3 less than key 2", []string{"", "a", "c", "b"}, func(f []byte) []byte { return f },
				"keys", keys + 2, "key 3 is not greater than key 2"},
		} {
			t.Run(fmt.Sprintf("widths %d,%d/%s", ow, lw, c.name), func(t *testing.T) {
				f := writeFromSpec(c.keys, sipRefKey, 1, 1, w[0], w[1])
				if f == nil {
					t.Fatal("writeFromSpec failed")
				}
				f = c.change(f)
				resealSections(t, f)
				checkVerifyFails(t, f, c.section, int64(c.off), c.msg)
			})
		}
	}
}

// TestVerifyHoleInEachBucket makes, in each bucket of a file of several
// buckets that is neither empty nor full, a hole before the bucket's last
// used slot, and checks that Verify reports the used slot after the hole,
// in that bucket (format.md §4: a bucket fills from its first slot).
func TestVerifyHoleInEachBucket(t *testing.T) {
	f := buildFile(t, manyKeys(40), 0.5) // 10 buckets, none full
	v, err := index.NewView(f, "")
	if err != nil {
		t.Fatal(err)
	}
	base := v.Layout[index.SectionBuckets].Off
	holes := 0
	for b := range v.Header.Buckets {
		n := uint64(0) // the bucket's used slots
		for n < 8 && le.Uint64(f[base+64*b+8*n:]) != 0 {
			n++
		}
		if n == 0 || n == 8 {
			continue
		}
		holes++
		// Move the last used slot one further: slot n-1 is now empty.
		last := int(base + 64*b + 8*(n-1))
		d := moveEntry(last, last+8, 8)(bytes.Clone(f))
		resealSections(t, d)
		checkVerifyFails(t, d, "buckets", int64(last+8), fmt.Sprintf("used slot after an empty slot in bucket %d", b))
	}
	if holes < 2 {
		t.Fatalf("%d buckets neither empty nor full, want several", holes)
	}
}

// TestFilterMissingBit clears, one at a time, each bit of the golden
// file's filter block that a key sets, with the checksum recomputed, and
// checks that Verify reports the bit, at its byte, and the first key
// that sets it (format.md §3.1, §10.2), computed here from xxh3FromSpec.
func TestFilterMissingBit(t *testing.T) {
	good := readGolden(t)
	v, err := index.NewView(good, "")
	if err != nil {
		t.Fatal(err)
	}
	fe := v.Layout[index.SectionFilter]
	setBy := filterSetBy(goldenKeys, 1)
	if len(setBy) != 16 {
		t.Fatalf("the golden keys set %d distinct bits, format.md §10.2 says 16", len(setBy))
	}
	for b, ord := range setBy {
		at := fe.Off + b.p/8
		f := bytes.Clone(good)
		f[at] &^= 1 << (b.p % 8)
		resealSections(t, f)
		checkVerifyFails(t, f, "filter", int64(at), fmt.Sprintf("bit %d of block 0 is 0, but key %d sets it", b.p, ord))
	}
}

// A filterBit is a bit of a filter: its block, and its number in the
// block (format.md §3.1).
type filterBit struct{ block, p uint64 }

// filterSetBy returns the bits that keys set in a filter of fb blocks
// (format.md §3.1, with xxh3FromSpec), each with the first ordinal that
// sets it.
func filterSetBy(keys []string, fb uint64) map[filterBit]int {
	setBy := map[filterBit]int{}
	for ord, k := range keys {
		h := xxh3FromSpec([]byte(k))
		block, _ := bits.Mul64(h, fb)
		for j := range 4 {
			b := filterBit{block, h >> (9 * j) & 511}
			if _, ok := setBy[b]; !ok {
				setBy[b] = ord
			}
		}
	}
	return setBy
}

// TestVerifyFilterPieces checks full verification of a filter larger than
// the 64 MiB Verify rebuilds at once (verifyFilterPiece), so that it
// rebuilds it in two pieces: a file of a few keys written from format.md's
// rules with 1.25 × 2^20 filter blocks (80 MiB) verifies, and a bit a key
// in the second piece sets, cleared, and a bit no key sets there, set, are
// reported at their byte, block and bit.
func TestVerifyFilterPieces(t *testing.T) {
	const per = 64 << 20 / index.FilterBlockSize // blocks Verify rebuilds at once
	const fb = per + per/4
	keys := slices.Sorted(slices.Values(manyKeys(64)))
	f := writeFromSpec(keys, sipRefKey, 32, fb, 4, 1)
	if f == nil {
		t.Fatal("writeFromSpec failed")
	}
	v, err := index.NewView(f, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(); err != nil {
		t.Fatalf("Verify of the intact file: %v", err)
	}
	base := v.Layout[index.SectionFilter].Off
	setBy := filterSetBy(keys, fb)
	var inSecond []int // ordinals of keys whose block is in the second piece
	for ord, k := range keys {
		if block, _ := bits.Mul64(xxh3FromSpec([]byte(k)), fb); block >= per {
			inSecond = append(inSecond, ord)
		}
	}
	if len(inSecond) == 0 {
		t.Fatal("no key's block is in the second piece")
	}
	// flip flips the bits mask of the byte at, reseals the file, checks
	// that Verify reports msg at that byte, and restores the file.
	flip := func(at uint64, mask byte, msg string) {
		t.Helper()
		f[at] ^= mask
		resealSections(t, f)
		checkVerifyFails(t, f, "filter", int64(at), msg)
		f[at] ^= mask
		resealSections(t, f)
	}
	ord := inSecond[len(inSecond)-1]
	h := xxh3FromSpec([]byte(keys[ord]))
	block, _ := bits.Mul64(h, fb)
	missing := filterBit{block, h & 511}
	flip(base+64*block+missing.p/8, 1<<(missing.p%8),
		fmt.Sprintf("bit %d of block %d is 0, but key %d sets it", missing.p, block, setBy[missing]))
	extra := filterBit{fb - 1, 0}
	for {
		if _, ok := setBy[extra]; !ok {
			break
		}
		extra.p++
	}
	flip(base+64*extra.block+extra.p/8, 1<<(extra.p%8),
		fmt.Sprintf("bit %d of block %d is 1, but no key sets it", extra.p, extra.block))
}
