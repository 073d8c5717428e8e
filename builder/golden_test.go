package builder_test

// The golden file testdata/example.stru is format.md §10's worked example:
// the set {"", "a", "apple", "banana"} built with the hash key
// 000102030405060708090a0b0c0d0e0f. After an intended change to the format
// or to the builder's output, regenerate it with
//
//	go test ./builder -run Golden -update
//
// and update format.md §10 to match: the layout table, the key table, the
// hex dump and the lookup walkthroughs, which the tests below check
// against the committed file (they fail until format.md agrees with it).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"hash/crc32"
	"math/big"
	"math/bits"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dchest/siphash"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
)

var update = flag.Bool("update", false, "rewrite testdata/example.stru from the builder's output")

const (
	goldenPath = "../testdata/example.stru"
	formatPath = "../format.md"
)

// goldenKeys is the worked example's set, in an order that is neither
// sorted nor free of duplicates: the output must not depend on either.
var goldenKeys = []string{"banana", "apple", "", "a", "apple"}

// goldenHashKey is 00 01 02 ... 0f.
func goldenHashKey() *index.HashKey {
	var k index.HashKey
	for i := range k {
		k[i] = byte(i)
	}
	return &k
}

// buildGolden builds the example set with keys added in the given order.
func buildGolden(t *testing.T, keys []string) []byte {
	t.Helper()
	b, err := builder.New(builder.Options{HashKey: goldenHashKey()})
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

func readGolden(t *testing.T) []byte {
	t.Helper()
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run `go test ./builder -run Golden -update` to create it)", err)
	}
	return want
}

// TestGolden rebuilds the worked example and compares it byte for byte
// with testdata/example.stru.
func TestGolden(t *testing.T) {
	got := buildGolden(t, goldenKeys)
	if *update {
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", goldenPath, len(got))
	}
	want := readGolden(t)
	if msg := diffBytes(got, want); msg != "" {
		t.Fatalf("builder output differs from %s (if the change is intended, run `go test ./builder -run Golden -update` and update format.md §10):\n%s", goldenPath, msg)
	}

	// Any insertion order gives the same bytes.
	for _, order := range [][]string{
		{"", "a", "apple", "banana"},
		{"banana", "apple", "a", ""},
		{"a", "a", "a", "banana", "", "apple", "", "banana"},
	} {
		if msg := diffBytes(buildGolden(t, order), want); msg != "" {
			t.Errorf("keys added as %q: output differs from %s:\n%s", order, goldenPath, msg)
		}
	}
}

// diffBytes returns "" if got equals want, else the first differing offset
// and a hex dump of both around it.
func diffBytes(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	at := 0
	for at < len(got) && at < len(want) && got[at] == want[at] {
		at++
	}
	from := max(at&^15-32, 0)
	window := func(b []byte) string {
		if from >= len(b) {
			return "\t(nothing: the file ends before)\n"
		}
		end := min(from+80, len(b))
		// hex.Dump numbers lines from 0; renumber them from the file offset.
		var s strings.Builder
		for i, line := range strings.Split(strings.TrimSuffix(hex.Dump(b[from:end]), "\n"), "\n") {
			fmt.Fprintf(&s, "\t%08x%s\n", from+16*i, line[8:])
		}
		return s.String()
	}
	return fmt.Sprintf("first difference at offset %#x (got %d bytes, want %d)\ngot:\n%swant:\n%s",
		at, len(got), len(want), window(got), window(want))
}

// TestDiffBytes checks the report TestGolden gives on a mismatch.
func TestDiffBytes(t *testing.T) {
	a := bytes.Repeat([]byte{0xaa}, 100)
	b := bytes.Clone(a)
	b[70] = 0xbb
	msg := diffBytes(a, b)
	for _, want := range []string{"offset 0x46", "00000040  aa aa aa aa aa aa bb aa", "00000040  aa aa aa aa aa aa aa aa"} {
		if !strings.Contains(msg, want) {
			t.Errorf("diffBytes report lacks %q:\n%s", want, msg)
		}
	}
	if msg := diffBytes(a, a[:50]); !strings.Contains(msg, "offset 0x32") || !strings.Contains(msg, "got 100 bytes, want 50") {
		t.Errorf("diffBytes of a truncated file:\n%s", msg)
	}
	if msg := diffBytes(a, a); msg != "" {
		t.Errorf("diffBytes of equal files = %q, want \"\"", msg)
	}
}

// markedLines returns the lines of format.md strictly between the line
// "<!-- BEGIN name -->" and the line "<!-- END name -->".
func markedLines(t *testing.T, name string) []string {
	t.Helper()
	doc, err := os.ReadFile(formatPath)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- BEGIN "+name+" -->", "<!-- END "+name+" -->"
	var lines []string
	inside, found := false, false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		switch {
		case line == begin:
			if inside || found {
				t.Fatalf("%s:%d: a second %q", formatPath, n, begin)
			}
			inside = true
		case line == end:
			if !inside {
				t.Fatalf("%s:%d: %q without %q", formatPath, n, end, begin)
			}
			inside, found = false, true
		case inside:
			lines = append(lines, line)
		}
	}
	if !found {
		t.Fatalf("%s has no lines between %q and %q", formatPath, begin, end)
	}
	return lines
}

// TestGoldenFormatDoc checks that the hex dump in format.md §10 is exactly
// testdata/example.stru: every byte, every offset, nothing left out.
func TestGoldenFormatDoc(t *testing.T) {
	want := readGolden(t)
	var dump []byte
	for _, line := range markedLines(t, "HEX DUMP testdata/example.stru") {
		// A dump line is "OOOOOOOO  xx xx xx xx xx xx xx xx  xx xx xx xx xx xx xx xx  note".
		// Fences, blank lines and "-- section" headings separate them.
		if line == "" || strings.HasPrefix(line, "```") || strings.HasPrefix(line, "-- ") {
			continue
		}
		if len(line) < 58 || line[8:10] != "  " || line[33] != ' ' || (len(line) > 58 && line[58:60] != "  ") {
			t.Fatalf("format.md hex dump: malformed line %q", line)
		}
		off, err := strconv.ParseUint(line[:8], 16, 64)
		if err != nil || off != uint64(len(dump)) {
			t.Fatalf("format.md hex dump: line %q: offset %q, want %08x", line, line[:8], len(dump))
		}
		b, err := hex.DecodeString(strings.ReplaceAll(line[10:58], " ", ""))
		if err != nil || len(b) != 16 {
			t.Fatalf("format.md hex dump: line %q: want 16 hex bytes in columns 11-58: %v", line, err)
		}
		dump = append(dump, b...)
	}
	if msg := diffBytes(dump, want); msg != "" {
		t.Fatalf("the hex dump in format.md (got) differs from %s (want):\n%s", goldenPath, msg)
	}
}

// TestGoldenKeyTable checks format.md §10's table of each key's hash, tag,
// length field, offset, buckets and slot against the index package and the
// golden file: the slot value in the table must be the one computed from
// the key and the one the file holds where the table says.
func TestGoldenKeyTable(t *testing.T) {
	data := readGolden(t)
	v, err := index.NewView(data, goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	k0, k1 := goldenHashKey().Halves()
	const cols = 11
	rows := 0
	for _, line := range markedLines(t, "KEY TABLE") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != cols {
			t.Fatalf("format.md key table: row %q has %d cells, want %d", line, len(cells), cols)
		}
		if cells[0] == "ordinal" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows++
		ord, err := strconv.ParseUint(cells[0], 10, 64)
		if err != nil {
			t.Fatalf("format.md key table: row %q: ordinal: %v", line, err)
		}
		key, err := strconv.Unquote(strings.Trim(cells[1], "`"))
		if err != nil {
			t.Fatalf("format.md key table: row %q: key: %v", line, err)
		}
		k, ok := v.Key(ord)
		if !ok || string(k) != key {
			t.Errorf("format.md key table: ordinal %d is key %q in the file, the table says %q", ord, k, key)
			continue
		}
		if got, ok := v.Find([]byte(key)); !ok || got != ord {
			t.Errorf("Find(%q) = %d, %v; the key table says ordinal %d", key, got, ok, ord)
		}
		h := index.Hash(k0, k1, []byte(key))
		n := uint64(len(key))
		off := keyOffset(t, data, v, ord)
		b1, b2 := index.Buckets(h, v.Header.Buckets)
		bucket, slot, stored := findSlot(t, data, v, off, n)
		want := []string{
			cells[0], cells[1],
			hex.EncodeToString([]byte(key)),
			fmt.Sprintf("0x%016x", h),
			fmt.Sprintf("0x%04x", index.Tag(h)),
			fmt.Sprint(index.LenField(n)),
			fmt.Sprint(off),
			fmt.Sprint(b1), fmt.Sprint(b2),
			fmt.Sprintf("%d / %d", bucket, slot),
			fmt.Sprintf("0x%016x", index.MakeSlot(h, n, off)),
		}
		if key == "" {
			want[2] = "(none)"
		}
		for i := range want {
			if cells[i] != want[i] {
				t.Errorf("format.md key table: key %q: column %d is %q, want %q", key, i+1, cells[i], want[i])
			}
		}
		// §4 by hand: tag << 48 | length field << 40 | (offset + 1).
		if byHand := (h&0xFFFF)<<48 | min(n, 255)<<40 | (off + 1); stored != byHand || index.MakeSlot(h, n, off) != byHand {
			t.Errorf("key %q: the file's slot is %#016x, MakeSlot gives %#016x, format.md §4 gives %#016x",
				key, stored, index.MakeSlot(h, n, off), byHand)
		}
		if got, used := index.SlotOffset(stored); !used || got != off {
			t.Errorf("key %q: SlotOffset(%#016x) = %d, %v; want %d, true", key, stored, got, used, off)
		}
	}
	if rows != int(v.Len()) {
		t.Errorf("format.md key table has %d keys, the file %d", rows, v.Len())
	}
}

// keyOffset returns the offset table entry of ordinal ord.
func keyOffset(t *testing.T, data []byte, v index.View, ord uint64) uint64 {
	t.Helper()
	sec := v.Layout[index.SectionOffsets]
	w := uint64(v.Header.OffsetWidth)
	if (ord+1)*w > sec.Size {
		t.Fatalf("no offset table entry for ordinal %d", ord)
	}
	if w == 4 {
		return uint64(binary.LittleEndian.Uint32(data[sec.Off+4*ord:]))
	}
	return binary.LittleEndian.Uint64(data[sec.Off+8*ord:])
}

// findSlot returns the bucket and slot index of the used slot whose
// offset field is off + 1 and whose length field is that of an n-byte key,
// and the slot's value. Exactly one slot must match: in a valid file no two
// keys have the same offset and length field (only the empty key can share
// its offset, 0, with another key, and its length field is 0).
func findSlot(t *testing.T, data []byte, v index.View, off, n uint64) (bucket, slot, value uint64) {
	t.Helper()
	buckets := v.Layout[index.SectionBuckets]
	found := 0
	for j := uint64(0); j < buckets.Size/8; j++ {
		s := binary.LittleEndian.Uint64(data[buckets.Off+8*j:])
		if o, used := index.SlotOffset(s); used && o == off && index.SlotLen(s) == index.LenField(n) {
			bucket, slot, value = j/8, j%8, s
			found++
		}
	}
	if found != 1 {
		t.Fatalf("%d used slots have offset %d and the length field of %d bytes, want 1", found, off, n)
	}
	return bucket, slot, value
}

// A handFile is a STRU file decoded with nothing but encoding/binary,
// hash/crc32, math/bits and SipHash, following format.md alone: a second,
// independent reading of the format, which shares no code with package
// index.
type handFile struct {
	f                               []byte
	k0, k1                          uint64
	nkeys, nbuckets, keyBytes       uint64
	offWidth, lenWidth              uint64
	longest                         uint32
	sectionCRC                      [4]uint32 // buckets, offsets, lengths, keys
	ext                             [4]handExtent
	buckets, offsets, lengths, keys handExtent
}

// A handExtent is a section's content [off, off+size) and its padded end.
type handExtent struct{ off, size, end uint64 }

// readByHand decodes f's header (§2), checks its checksum and version,
// computes the layout (§1) and checks every section's checksum (§6).
func readByHand(t *testing.T, f []byte) *handFile {
	t.Helper()
	le := binary.LittleEndian
	if len(f) < 128 {
		t.Fatalf("file is %d bytes, shorter than a header", len(f))
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	if string(f[0:4]) != "STRU" || le.Uint16(f[4:6]) != 2 || le.Uint16(f[6:8]) != 128 {
		t.Fatalf("header starts %x, want magic STRU, version 2, header size 128", f[:8])
	}
	if got, want := crc32.Checksum(f[0:124], castagnoli), le.Uint32(f[124:128]); got != want {
		t.Fatalf("header checksum: stored %#08x, computed %#08x", want, got)
	}
	hf := &handFile{
		f:        f,
		nkeys:    le.Uint64(f[24:32]),
		nbuckets: le.Uint64(f[32:40]),
		keyBytes: le.Uint64(f[40:48]),
		k0:       le.Uint64(f[48:56]),
		k1:       le.Uint64(f[56:64]),
		offWidth: uint64(f[64]),
		lenWidth: uint64(f[65]),
		longest:  le.Uint32(f[68:72]),
	}
	for i := range hf.sectionCRC {
		hf.sectionCRC[i] = le.Uint32(f[72+4*i:])
	}
	// §1: the sections follow the header, each at the next multiple of 64.
	up := func(n uint64) uint64 { return (n + 63) / 64 * 64 }
	at := uint64(128)
	for i, size := range []uint64{64 * hf.nbuckets, hf.nkeys * hf.offWidth, hf.nkeys * hf.lenWidth, hf.keyBytes} {
		hf.ext[i] = handExtent{at, size, up(at + size)}
		at = hf.ext[i].end
	}
	hf.buckets, hf.offsets, hf.lengths, hf.keys = hf.ext[0], hf.ext[1], hf.ext[2], hf.ext[3]
	if fileSize := le.Uint64(f[16:24]); at != fileSize || uint64(len(f)) != fileSize {
		t.Fatalf("sections end at %d, the file size field is %d, the file %d bytes", at, fileSize, len(f))
	}
	// §6: each section's checksum covers its bytes and its padding.
	for i, e := range hf.ext {
		if got := crc32.Checksum(f[e.off:e.end], castagnoli); got != hf.sectionCRC[i] {
			t.Errorf("section %d checksum: header says %#08x, computed %#08x", i+1, hf.sectionCRC[i], got)
		}
	}
	return hf
}

// uint reads the little-endian integer of width bytes at off.
func (hf *handFile) uint(off, width uint64) uint64 {
	var v uint64
	for i := range width {
		v |= uint64(hf.f[off+i]) << (8 * i)
	}
	return v
}

// offset returns the offset table entry of ordinal i (§5).
func (hf *handFile) offset(i uint64) uint64 {
	return hf.uint(hf.offsets.off+hf.offWidth*i, hf.offWidth)
}

// key returns the key of ordinal i (§5): keys[offset[i] : offset[i]+length[i]].
func (hf *handFile) key(i uint64) []byte {
	off := hf.offset(i)
	n := hf.uint(hf.lengths.off+hf.lenWidth*i, hf.lenWidth)
	return hf.f[hf.keys.off+off : hf.keys.off+off+n]
}

// ordinal returns the ordinal of the key of n bytes at offset off (§4):
// 0 for the empty key, else the largest i with offset[i] ≤ off, found by
// binary search, whose offset must be off.
func (hf *handFile) ordinal(off, n uint64) (uint64, bool) {
	if n == 0 {
		return 0, hf.nkeys > 0
	}
	lo, hi := uint64(0), hf.nkeys // the first i with offset[i] > off is in [lo, hi]
	for lo < hi {
		mid := (lo + hi) / 2
		if hf.offset(mid) <= off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 || hf.offset(lo-1) != off {
		return 0, false
	}
	return lo - 1, true
}

// lookup finds key k as §3 and §4 say, and returns its ordinal.
func (hf *handFile) lookup(k string) (uint64, bool) {
	h := siphash.Hash(hf.k0, hf.k1, []byte(k))
	blocks := (hf.nbuckets + 65535) / 65536
	per := hf.nbuckets / blocks
	block, _ := bits.Mul64(h, blocks)
	o1, _ := bits.Mul64(h*0x9E3779B97F4A7C15, per)
	o2, _ := bits.Mul64(h*0xC2B2AE3D27D4EB4F, per)
	b1, b2 := block*per+o1, block*per+o2
	n := uint64(len(k))
	match := (h&0xFFFF)<<8 | min(n, 255)
	for probe, b := range []uint64{b1, b2} {
		if probe == 1 && b2 == b1 {
			break
		}
		for i := range uint64(8) {
			s := hf.uint(hf.buckets.off+64*b+8*i, 8)
			if s == 0 {
				return 0, false
			}
			if s>>40 != match {
				continue
			}
			off := s&(1<<40-1) - 1
			if n < 255 {
				// The slot's length field is the key's length: compare
				// at the slot's offset, then find the ordinal.
				if string(hf.f[hf.keys.off+off:hf.keys.off+off+n]) == k {
					return hf.ordinal(off, n)
				}
				continue
			}
			// 255 bytes or more: the ordinal first, then its key.
			if ord, ok := hf.ordinal(off, n); ok && string(hf.key(ord)) == k {
				return ord, true
			}
		}
	}
	return 0, false
}

// TestGoldenByHand decodes the golden file by hand (handFile), checks
// every header field and the layout, and looks keys up in it.
func TestGoldenByHand(t *testing.T) {
	f := readGolden(t)
	le := binary.LittleEndian
	hf := readByHand(t, f)
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"incompatible flags", le.Uint32(f[8:12]), uint32(0)},
		{"compatible flags", le.Uint32(f[12:16]), uint32(0)},
		{"key count", hf.nkeys, uint64(4)},
		{"bucket count", hf.nbuckets, uint64(1)}, // ⌈4 / (8 × 0.8)⌉
		{"key data bytes", hf.keyBytes, uint64(len("") + len("a") + len("apple") + len("banana"))},
		{"k0", hf.k0, uint64(0x0706050403020100)},
		{"k1", hf.k1, uint64(0x0f0e0d0c0b0a0908)},
		{"offset width", hf.offWidth, uint64(4)},
		{"length width", hf.lenWidth, uint64(1)},
		{"longest key", hf.longest, uint32(len("banana"))},
		{"reserved [66:68]", string(f[66:68]), "\x00\x00"},
		{"reserved [88:124]", string(f[88:124]), strings.Repeat("\x00", 36)},
	} {
		if c.got != c.want {
			t.Errorf("header %s = %#v, want %#v", c.field, c.got, c.want)
		}
	}
	want := [4]handExtent{{128, 64, 192}, {192, 16, 256}, {256, 4, 320}, {320, 12, 384}}
	if hf.ext != want {
		t.Errorf("section extents = %v, want %v", hf.ext, want)
	}
	if t.Failed() {
		t.FailNow()
	}

	for i, want := range []string{"", "a", "apple", "banana"} {
		if got := string(hf.key(uint64(i))); got != want {
			t.Errorf("key %d = %q, want %q", i, got, want)
		}
	}
	for i, k := range []string{"", "a", "apple", "banana"} {
		if ord, ok := hf.lookup(k); !ok || ord != uint64(i) {
			t.Errorf("lookup(%q) = %d, %v; want %d, true", k, ord, ok, i)
		}
	}
	for _, k := range []string{"b", "A", "app", "apples", "banan", "\x00", "cherry", "pple", "ppl"} {
		if ord, ok := hf.lookup(k); ok {
			t.Errorf("lookup(%q) = %d, true; want absent", k, ord)
		}
	}
}

// TestGoldenByHandLongKeys builds a set with keys on both sides of 255
// bytes, which the golden file lacks, and looks them up by hand: keys
// shorter than 255 bytes are compared at the slot's offset, longer ones
// through their ordinal, found from the slot's offset, and the offset and
// length tables (§4).
func TestGoldenByHandLongKeys(t *testing.T) {
	long := func(n int, c byte) string { return strings.Repeat(string(c), n) }
	keys := []string{"", "a", long(254, 'x'), long(255, 'x'), long(256, 'x'), long(300, 'x'), long(255, 'y'), long(1000, 'z'), "zz"}
	f := buildGolden(t, keys)
	v, err := index.NewView(f, "long keys")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(); err != nil {
		t.Fatal(err)
	}
	hf := readByHand(t, f)
	if hf.lenWidth != 2 {
		t.Errorf("length width %d, want 2 for a 1000-byte key", hf.lenWidth)
	}
	for i := range hf.nkeys {
		k := string(hf.key(i))
		ord, ok := hf.lookup(k)
		if !ok || ord != i {
			t.Errorf("lookup of the %d-byte key %d = %d, %v; want %d, true", len(k), i, ord, ok, i)
		}
		if vOrd, vOK := v.Find([]byte(k)); vOrd != ord || vOK != ok {
			t.Errorf("Find of the %d-byte key %d = %d, %v; by hand %d, %v", len(k), i, vOrd, vOK, ord, ok)
		}
	}
	for _, k := range []string{long(253, 'x'), long(257, 'x'), long(255, 'z'), long(999, 'z'), long(255, 'x') + "y", "b"} {
		if ord, ok := hf.lookup(k); ok {
			t.Errorf("lookup of an absent %d-byte key = %d, true", len(k), ord)
		}
		if v.Has([]byte(k)) {
			t.Errorf("Has of an absent %d-byte key = true", len(k))
		}
	}
}

// TestFormatDocBucketVectors checks format.md §10.3's bucket choice vectors
// against index.Blocks and index.Buckets and against the formulas of §3
// computed with math/big.
func TestFormatDocBucketVectors(t *testing.T) {
	const cols = 9 // h, B, blocks, per, k, h·c1, h·c2, b1, b2
	rows, multiBlock := 0, 0
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	for _, line := range markedLines(t, "BUCKET VECTORS") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != cols {
			t.Fatalf("format.md bucket vectors: row %q has %d cells, want %d", line, len(cells), cols)
		}
		var v [cols]uint64
		ok := true
		for i, c := range cells {
			n, err := strconv.ParseUint(strings.TrimSpace(c), 0, 64)
			v[i], ok = n, ok && err == nil
		}
		if first := strings.TrimSpace(cells[0]); first == "h" || strings.HasPrefix(first, "---") {
			continue // the heading and the rule under it
		}
		if !ok {
			t.Fatalf("format.md bucket vectors: row %q: cannot parse the numbers", line)
		}
		rows++
		h, nb := v[0], v[1]
		b1, b2 := index.Buckets(h, nb)
		blocks := index.Blocks(nb)
		if blocks > 1 {
			multiBlock++
		}
		// §3 by big integers: blocks = ⌈B / 65536⌉, per = B / blocks,
		// k = ⌊h·blocks / 2^64⌋, b = k·per + ⌊((h·c) mod 2^64)·per / 2^64⌋.
		bh, bnb := new(big.Int).SetUint64(h), new(big.Int).SetUint64(nb)
		bigBlocks := new(big.Int).Div(new(big.Int).Add(bnb, big.NewInt(65535)), big.NewInt(65536))
		per, perRem := new(big.Int).DivMod(bnb, bigBlocks, new(big.Int))
		if perRem.Sign() != 0 {
			t.Errorf("format.md bucket vectors: B = %d is not a multiple of its %v blocks: not a valid bucket count", nb, bigBlocks)
		}
		bigK := new(big.Int).Div(new(big.Int).Mul(bh, bigBlocks), two64)
		mixed := func(c uint64) *big.Int {
			m := new(big.Int).Mul(bh, new(big.Int).SetUint64(c))
			return m.Mod(m, two64)
		}
		mixed1, mixed2 := mixed(0x9E3779B97F4A7C15), mixed(0xC2B2AE3D27D4EB4F)
		choice := func(m *big.Int) *big.Int {
			b := new(big.Int).Div(new(big.Int).Mul(m, per), two64)
			return b.Add(b, new(big.Int).Mul(bigK, per))
		}
		for _, c := range []struct {
			what      string
			doc, code uint64
			big       *big.Int
		}{
			{"blocks", v[2], blocks, bigBlocks},
			{"per", v[3], nb / blocks, per},
			{"k", v[4], b1 / (nb / blocks), bigK},
			{"h·0x9E3779B97F4A7C15 mod 2^64", v[5], h * 0x9E3779B97F4A7C15, mixed1},
			{"h·0xC2B2AE3D27D4EB4F mod 2^64", v[6], h * 0xC2B2AE3D27D4EB4F, mixed2},
			{"b1", v[7], b1, choice(mixed1)},
			{"b2", v[8], b2, choice(mixed2)},
		} {
			if c.doc != c.code || !c.big.IsUint64() || c.big.Uint64() != c.doc {
				t.Errorf("format.md bucket vectors, h=%#x B=%d: %s is %d in format.md, %d by package index, %v by math/big",
					h, nb, c.what, c.doc, c.code, c.big)
			}
		}
	}
	if rows < 5 || multiBlock < 3 {
		t.Errorf("format.md bucket vectors: %d rows, %d of them with more than one block; want at least 5 and 3", rows, multiBlock)
	}
}

// TestGoldenLookups checks the hashes, tags, length fields and answers
// of format.md §10.5's lookup walkthroughs.
func TestGoldenLookups(t *testing.T) {
	doc, err := os.ReadFile(formatPath)
	if err != nil {
		t.Fatal(err)
	}
	data := readGolden(t)
	v, err := index.NewView(data, goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	k0, k1 := goldenHashKey().Halves()
	re := regexp.MustCompile(`(?s)\*\*"(\w*)" \((present|absent)\)\.\*\* h = (0x[0-9a-f]{16}), tag = (0x[0-9a-f]{4}), ` +
		`length field = (\d+), match = (0x[0-9a-f]{6}), b1 = b2 = 0\.(.*?)(?:\n\n|\z)`)
	found := re.FindAllStringSubmatch(string(doc), -1)
	if len(found) != 2 {
		t.Fatalf("format.md: found %d lookup walkthroughs, want 2", len(found))
	}
	bucket := v.Layout[index.SectionBuckets]
	for _, m := range found {
		key, present, text := m[1], m[2] == "present", m[7]
		h := index.Hash(k0, k1, []byte(key))
		n := uint64(len(key))
		for _, c := range []struct{ what, doc, want string }{
			{"h", m[3], fmt.Sprintf("0x%016x", h)},
			{"tag", m[4], fmt.Sprintf("0x%04x", index.Tag(h))},
			{"length field", m[5], fmt.Sprint(index.LenField(n))},
			{"match", m[6], fmt.Sprintf("0x%06x", index.Match(h, n))},
		} {
			if c.doc != c.want {
				t.Errorf("format.md §10.5: %q has %s = %s, want %s", key, c.what, c.doc, c.want)
			}
		}
		ord, ok := v.Find([]byte(key))
		if ok != present {
			t.Errorf("format.md §10.5: %q is %s, Find says present = %v", key, m[2], ok)
		}
		// The candidates: the slots of bucket 0 up to the first empty one
		// whose top 24 bits are the match.
		var cands []string
		for i := range uint64(8) {
			s := binary.LittleEndian.Uint64(data[bucket.Off+8*i:])
			if s == 0 {
				break
			}
			if s>>40 == index.Match(h, n) {
				cands = append(cands, fmt.Sprint(i))
			}
		}
		if present {
			want := fmt.Sprintf("found, ordinal %d.", ord)
			if !strings.HasSuffix(strings.TrimSpace(text), want) {
				t.Errorf("format.md §10.5: the walkthrough of %q does not end %q", key, want)
			}
			if len(cands) != 1 {
				t.Errorf("format.md §10.5: %q has %d candidate slots, the walkthrough describes one", key, len(cands))
			}
		} else if len(cands) != 0 {
			t.Errorf("format.md §10.5: %q has candidate slots %v, the walkthrough describes none", key, cands)
		}
	}
}

// TestGoldenLayoutTable checks format.md §10.1's table of the example's
// sections, their padding and checksums, and the file sizes it states,
// against the golden file.
func TestGoldenLayoutTable(t *testing.T) {
	data := readGolden(t)
	v, err := index.NewView(data, goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	rng := `\[(0x[0-9a-f]{3}), (0x[0-9a-f]{3})\)`
	contentRE := regexp.MustCompile("^`" + rng + "` (\\d+) bytes")
	paddingRE := regexp.MustCompile("^(none|`" + rng + "`)$")
	crcRE := regexp.MustCompile("^`(0x[0-9a-f]{8})` over `" + rng + "`$")
	num := func(s string) uint64 {
		n, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("format.md layout table: %q: %v", s, err)
		}
		return n
	}
	var sections []string
	for _, line := range markedLines(t, "LAYOUT TABLE") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 4 {
			t.Fatalf("format.md layout table: row %q has %d cells, want 4", line, len(cells))
		}
		if cells[0] == "Section" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		s := index.Section(len(sections))
		sections = append(sections, cells[0])
		if s >= index.NumSections || cells[0] != s.String() {
			t.Errorf("format.md layout table: row %d is section %q, want %q", len(sections), cells[0], s)
			continue
		}
		e := v.Layout[s]
		c := contentRE.FindStringSubmatch(cells[1])
		p := paddingRE.FindStringSubmatch(cells[2])
		k := crcRE.FindStringSubmatch(cells[3])
		if c == nil || p == nil || k == nil {
			t.Errorf("format.md layout table: row %q: cannot parse", line)
			continue
		}
		if num(c[1]) != e.Off || num(c[2]) != e.Off+e.Size || num(c[3]) != e.Size {
			t.Errorf("format.md layout table: %s content is %s, want [%#03x, %#03x) %d bytes", s, cells[1], e.Off, e.Off+e.Size, e.Size)
		}
		if pad := e.End - e.Off - e.Size; (pad == 0) != (p[1] == "none") || pad != 0 && (num(p[2]) != e.Off+e.Size || num(p[3]) != e.End) {
			t.Errorf("format.md layout table: %s padding is %s, want [%#03x, %#03x)", s, cells[2], e.Off+e.Size, e.End)
		}
		// The header's own checksum covers [0, 124); each section's, the
		// section and its padding.
		from, to, stored := e.Off, e.End, uint32(0)
		if s == index.SectionHeader {
			to = index.HeaderSize - 4
			stored = binary.LittleEndian.Uint32(data[to:])
		} else {
			stored = v.Header.SectionCRC[s-index.SectionBuckets]
		}
		if got := index.Checksum(data[from:to]); got != stored || k[1] != fmt.Sprintf("0x%08x", got) || num(k[2]) != from || num(k[3]) != to {
			t.Errorf("format.md layout table: %s checksum is %s; the file stores %#08x, and %#08x is the checksum of [%#03x, %#03x)",
				s, cells[3], stored, got, from, to)
		}
	}
	if len(sections) != int(index.NumSections) {
		t.Errorf("format.md layout table has %d sections, want %d", len(sections), index.NumSections)
	}
	doc, err := os.ReadFile(formatPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("File size: %#x = %d bytes.", len(data), len(data)),
		fmt.Sprintf("committed as `testdata/example.stru` (%d bytes)", len(data)),
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("format.md §10.1 does not say %q", want)
		}
	}
}
