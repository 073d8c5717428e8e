package builder_test

// The golden file testdata/example.stru is format.md §10's worked example:
// the set {"", "a", "apple", "banana"} built with the hash key
// 000102030405060708090a0b0c0d0e0f. After an intended change to the format
// or to the builder's output, regenerate it with
//
//	go test ./builder -run Golden -update
//
// and update format.md §10 to match: the layout table, the key and filter
// tables, the hex dump and the lookup walkthroughs, which the tests below
// check against the committed file (they fail until format.md agrees with
// it).

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
	"math/rand/v2"
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
	return buildWith(t, builder.Options{HashKey: goldenHashKey()}, keys)
}

// buildWith builds keys, added in the given order, with opts.
func buildWith(t *testing.T, opts builder.Options, keys []string) []byte {
	t.Helper()
	b, err := builder.New(opts)
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

// tableRow splits line, a row of a markdown table of format.md, into its
// cols cells, trimmed, and reports whether it is a row of the table's
// body: false for the header row, whose first cell is header, and the
// separator row. A row of another number of cells fails the test, named
// by what.
func tableRow(t *testing.T, what, line string, cols int, header string) ([]string, bool) {
	t.Helper()
	cells := strings.Split(strings.Trim(line, "|"), "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	if len(cells) != cols {
		t.Fatalf("%s: row %q has %d cells, want %d", what, line, len(cells), cols)
	}
	return cells, cells[0] != header && !strings.HasPrefix(cells[0], "---")
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
		cells, ok := tableRow(t, "format.md key table", line, cols, "ordinal")
		if !ok {
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
// hash/crc32, math/bits, SipHash and xxh3 (XXH3 as format.md §3.1 spells
// it out), following format.md alone: a second, independent reading of
// the format, which shares no code with package index.
type handFile struct {
	f                                       []byte
	version                                 uint16
	k0, k1                                  uint64
	nkeys, nbuckets, keyBytes, filterBlocks uint64
	offWidth, lenWidth                      uint64
	longest                                 uint32
	sectionCRC                              [5]uint32 // buckets, offsets, lengths, keys, filter
	ext                                     [5]handExtent
	buckets, offsets, lengths, keys, filter handExtent
}

// A handExtent is a section's content [off, off+size) and its padded end.
type handExtent struct{ off, size, end uint64 }

// readByHand decodes f's header (§2), checks its checksum, version and
// reserved bytes, computes the layout (§1) and checks every section's
// checksum (§6). A version 2 file reads as a version 3 file without a
// filter (§7).
func readByHand(t *testing.T, f []byte) *handFile {
	t.Helper()
	le := binary.LittleEndian
	if len(f) < 128 {
		t.Fatalf("file is %d bytes, shorter than a header", len(f))
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	version := le.Uint16(f[4:6])
	if string(f[0:4]) != "STRU" || (version != 2 && version != 3) || le.Uint16(f[6:8]) != 128 {
		t.Fatalf("header starts %x, want magic STRU, version 2 or 3, header size 128", f[:8])
	}
	if got, want := crc32.Checksum(f[0:124], castagnoli), le.Uint32(f[124:128]); got != want {
		t.Fatalf("header checksum: stored %#08x, computed %#08x", want, got)
	}
	hf := &handFile{
		f:        f,
		version:  version,
		nkeys:    le.Uint64(f[24:32]),
		nbuckets: le.Uint64(f[32:40]),
		keyBytes: le.Uint64(f[40:48]),
		k0:       le.Uint64(f[48:56]),
		k1:       le.Uint64(f[56:64]),
		offWidth: uint64(f[64]),
		lenWidth: uint64(f[65]),
		longest:  le.Uint32(f[68:72]),
	}
	for i := range 4 {
		hf.sectionCRC[i] = le.Uint32(f[72+4*i:])
	}
	// §2, §7: version 3 keeps the filter's checksum at [88, 92) and its
	// block count at [96, 104); version 2 reserves [88, 124).
	reserved := [][2]int{{66, 68}, {88, 124}}
	if version == 3 {
		hf.sectionCRC[4] = le.Uint32(f[88:92])
		hf.filterBlocks = le.Uint64(f[96:104])
		reserved = [][2]int{{66, 68}, {92, 96}, {104, 124}}
	}
	if le.Uint32(f[12:16]) == 0 { // no compatible flag: reserved bytes are zero
		for _, r := range reserved {
			if z := f[r[0]:r[1]]; !bytes.Equal(z, make([]byte, len(z))) {
				t.Errorf("version %d: reserved bytes [%d, %d) are %x, want zero", version, r[0], r[1], z)
			}
		}
	}
	// §1: the sections follow the header, each at the next multiple of 64.
	up := func(n uint64) uint64 { return (n + 63) / 64 * 64 }
	at := uint64(128)
	for i, size := range []uint64{64 * hf.nbuckets, hf.nkeys * hf.offWidth, hf.nkeys * hf.lenWidth, hf.keyBytes, 64 * hf.filterBlocks} {
		hf.ext[i] = handExtent{at, size, up(at + size)}
		at = hf.ext[i].end
	}
	hf.buckets, hf.offsets, hf.lengths, hf.keys, hf.filter = hf.ext[0], hf.ext[1], hf.ext[2], hf.ext[3], hf.ext[4]
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

// filterBits returns the filter hash f of key k (§3.1), its block and the
// file offset and mask of each of its 4 bits. The file must have a filter.
func (hf *handFile) filterBits(k []byte) (f, block uint64, at [4]uint64, mask [4]byte) {
	f = xxh3(k)
	block, _ = bits.Mul64(f, hf.filterBlocks) // hi64(f · F)
	for j := range 4 {
		p := f >> (9 * j) & 511
		at[j] = hf.filter.off + 64*block + (p >> 3)
		mask[j] = 1 << (p & 7)
	}
	return f, block, at, mask
}

// passes reports whether key k passes the filter (§3.1): always when
// F = 0, else when its 4 bits are set in its block.
func (hf *handFile) passes(k []byte) bool {
	if hf.filterBlocks == 0 {
		return true
	}
	_, _, at, mask := hf.filterBits(k)
	for j := range 4 {
		if hf.f[at[j]]&mask[j] == 0 {
			return false
		}
	}
	return true
}

// lookup finds key k as §4 says, the filter first, and returns its
// ordinal.
func (hf *handFile) lookup(k string) (uint64, bool) {
	if !hf.passes([]byte(k)) {
		return 0, false
	}
	return hf.lookupBuckets(k)
}

// lookupBuckets finds key k as §3 and §4 say without testing the filter,
// as a reader that skips it does (§4), and returns its ordinal.
func (hf *handFile) lookupBuckets(k string) (uint64, bool) {
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
// every header field, the layout and the filter's bits, and looks keys up
// in it.
func TestGoldenByHand(t *testing.T) {
	f := readGolden(t)
	le := binary.LittleEndian
	hf := readByHand(t, f)
	if builder.DefaultFilterBitsPerKey != 6 {
		t.Errorf("DefaultFilterBitsPerKey = %d, format.md §9 says 6", builder.DefaultFilterBitsPerKey)
	}
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"version", hf.version, uint16(3)},
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
		{"filter blocks", hf.filterBlocks, uint64((4*6 + 511) / 512)}, // ⌈N × 6 / 512⌉
		{"reserved [66:68]", string(f[66:68]), "\x00\x00"},
		{"reserved [92:96]", string(f[92:96]), "\x00\x00\x00\x00"},
		{"reserved [104:124]", string(f[104:124]), strings.Repeat("\x00", 20)},
	} {
		if c.got != c.want {
			t.Errorf("header %s = %#v, want %#v", c.field, c.got, c.want)
		}
	}
	want := [5]handExtent{{128, 64, 192}, {192, 16, 256}, {256, 4, 320}, {320, 12, 384}, {384, 64, 448}}
	if hf.ext != want {
		t.Errorf("section extents = %v, want %v", hf.ext, want)
	}
	if t.Failed() {
		t.FailNow()
	}

	// §3.1, §6.4 check 4: the filter holds exactly the keys' bits.
	if msg := diffBytes(hf.f[hf.filter.off:hf.filter.end], filterByHand(hf)); msg != "" {
		t.Errorf("the filter section (got) is not the keys' bits (want):\n%s", msg)
	}

	for i, want := range []string{"", "a", "apple", "banana"} {
		if got := string(hf.key(uint64(i))); got != want {
			t.Errorf("key %d = %q, want %q", i, got, want)
		}
	}
	for i, k := range []string{"", "a", "apple", "banana"} {
		if !hf.passes([]byte(k)) {
			t.Errorf("%q does not pass the filter", k)
		}
		if ord, ok := hf.lookup(k); !ok || ord != uint64(i) {
			t.Errorf("lookup(%q) = %d, %v; want %d, true", k, ord, ok, i)
		}
	}
	rejected := 0
	for _, k := range []string{"b", "A", "app", "apples", "banan", "\x00", "cherry", "pple", "ppl"} {
		if !hf.passes([]byte(k)) {
			rejected++
		}
		// The filter never changes an answer (§4): with or without it.
		if ord, ok := hf.lookup(k); ok {
			t.Errorf("lookup(%q) = %d, true; want absent", k, ord)
		}
		if ord, ok := hf.lookupBuckets(k); ok {
			t.Errorf("lookup of %q in the buckets alone = %d, true; want absent", k, ord)
		}
	}
	if rejected == 0 {
		t.Errorf("the filter lets every absent key through")
	}
}

// filterByHand returns the filter section hf's keys give (§3.1): the 4
// bits of each key set in its block, and no others.
func filterByHand(hf *handFile) []byte {
	filter := make([]byte, 64*hf.filterBlocks)
	if hf.filterBlocks == 0 {
		return filter
	}
	for i := range hf.nkeys {
		_, _, at, mask := hf.filterBits(hf.key(i))
		for j := range 4 {
			filter[at[j]-hf.filter.off] |= mask[j]
		}
	}
	return filter
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
	if want := (hf.nkeys*6 + 511) / 512; hf.filterBlocks != want {
		t.Errorf("%d filter blocks, want ⌈%d × 6 / 512⌉ = %d", hf.filterBlocks, hf.nkeys, want)
	}
	if msg := diffBytes(hf.f[hf.filter.off:hf.filter.end], filterByHand(hf)); msg != "" {
		t.Errorf("the filter section (got) is not the keys' bits (want):\n%s", msg)
	}
	for i := range hf.nkeys {
		k := string(hf.key(i))
		if !hf.passes([]byte(k)) {
			t.Errorf("the %d-byte key %d does not pass the filter", len(k), i)
		}
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
		if ord, ok := hf.lookupBuckets(k); ok {
			t.Errorf("lookup of an absent %d-byte key in the buckets alone = %d, true", len(k), ord)
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

// TestGoldenLookups checks the filter hashes and bits, the hashes, tags,
// length fields and answers of format.md §10.5's lookup walkthroughs.
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
	hf := readByHand(t, data)
	k0, k1 := goldenHashKey().Halves()
	para := `((?:[^\n]|\n[^\n])*?)` // text within one paragraph
	re := regexp.MustCompile(`\*\*"(\w*)" \((present|absent)\)\.\*\* f = (0x[0-9a-f]{16}), block = (\d+), bits = (\d+), (\d+), (\d+) and (\d+)\.` +
		para + `h = (0x[0-9a-f]{16}), tag = (0x[0-9a-f]{4}), length field = (\d+), match = (0x[0-9a-f]{6}), b1 = b2 = 0\.` + para + `(?:\n\n|\z)`)
	found := re.FindAllStringSubmatch(string(doc), -1)
	if len(found) != 2 {
		t.Fatalf("format.md: found %d lookup walkthroughs, want 2", len(found))
	}
	bucket := v.Layout[index.SectionBuckets]
	sawRejected := false
	for _, m := range found {
		key, present, filterText, text := m[1], m[2] == "present", strings.Join(strings.Fields(m[9]), " "), m[14]
		// §3.1, by hand and by package index.
		f, block, _, _ := hf.filterBits([]byte(key))
		if f != index.FilterHash([]byte(key)) {
			t.Errorf("%q: XXH3 by hand %#016x, index.FilterHash %#016x", key, f, index.FilterHash([]byte(key)))
		}
		want := []string{fmt.Sprintf("0x%016x", f), fmt.Sprint(block)}
		for j := range 4 {
			want = append(want, fmt.Sprint(f>>(9*j)&511))
		}
		for i, what := range []string{"f", "block", "p0", "p1", "p2", "p3"} {
			if m[3+i] != want[i] {
				t.Errorf("format.md §10.5: %q has %s = %s, want %s", key, what, m[3+i], want[i])
			}
		}
		passes := hf.passes([]byte(key))
		if says := strings.Contains(filterText, "passes the filter"); says != passes || strings.Contains(filterText, "does not pass the filter") == passes {
			t.Errorf("format.md §10.5: %q passes the filter: %v; the walkthrough says %q", key, passes, filterText)
		}
		if !passes {
			sawRejected = true
			if present {
				t.Errorf("format.md §10.5: %q is present, but does not pass the filter", key)
			}
		}
		h := index.Hash(k0, k1, []byte(key))
		n := uint64(len(key))
		for _, c := range []struct{ what, doc, want string }{
			{"h", m[10], fmt.Sprintf("0x%016x", h)},
			{"tag", m[11], fmt.Sprintf("0x%04x", index.Tag(h))},
			{"length field", m[12], fmt.Sprint(index.LenField(n))},
			{"match", m[13], fmt.Sprintf("0x%06x", index.Match(h, n))},
		} {
			if c.doc != c.want {
				t.Errorf("format.md §10.5: %q has %s = %s, want %s", key, c.what, c.doc, c.want)
			}
		}
		ord, ok := v.Find([]byte(key))
		if ok != present {
			t.Errorf("format.md §10.5: %q is %s, Find says present = %v", key, m[2], ok)
		}
		if _, ok := hf.lookupBuckets(key); ok != present {
			t.Errorf("format.md §10.5: %q is %s, the buckets alone say present = %v", key, m[2], ok)
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
	if !sawRejected {
		t.Errorf("format.md §10.5: no walkthrough shows a key the filter turns away")
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
		cells, ok := tableRow(t, "format.md layout table", line, 4, "Section")
		if !ok {
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
	flat := strings.Join(strings.Fields(string(doc)), " ") // line breaks do not matter
	for _, want := range []string{
		fmt.Sprintf("File size: %#x = %d bytes.", len(data), len(data)),
		fmt.Sprintf("committed as `testdata/example.stru` (%d bytes)", len(data)),
		// §6.3's example error: the golden file with another header checksum.
		fmt.Sprintf("header checksum mismatch: stored 0x12345678, computed %#08x`", index.Checksum(data[:index.HeaderSize-4])),
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("format.md (§6.3, §10.1) does not say %q", want)
		}
	}
}

// XXH3's constants, named as format.md §3.1 names them.
const (
	xxhPrime32_1 = 0x9E3779B1
	xxhPrime32_2 = 0x85EBCA77
	xxhPrime32_3 = 0xC2B2AE3D
	xxhPrime64_1 = 0x9E3779B185EBCA87
	xxhPrime64_2 = 0xC2B2AE3D27D4EB4F
	xxhPrime64_3 = 0x165667B19E3779F9
	xxhPrime64_4 = 0x85EBCA77C2B2AE63
	xxhPrime64_5 = 0x27D4EB2F165667C5
	xxhPrimeMx1  = 0x165667919E3779F9
	xxhPrimeMx2  = 0x9FB21C651E98DF25
)

var xxh3Constants = map[string]uint64{
	"PRIME32_1": xxhPrime32_1, "PRIME32_2": xxhPrime32_2, "PRIME32_3": xxhPrime32_3,
	"PRIME64_1": xxhPrime64_1, "PRIME64_2": xxhPrime64_2, "PRIME64_3": xxhPrime64_3,
	"PRIME64_4": xxhPrime64_4, "PRIME64_5": xxhPrime64_5,
	"PRIME_MX1": xxhPrimeMx1, "PRIME_MX2": xxhPrimeMx2,
}

// xxh3Secret is XXH3's default secret, kSecret, 192 bytes (format.md
// §3.1; TestFormatDocXXH3 checks that the document's is this one).
var xxh3Secret = func() []byte {
	b, err := hex.DecodeString(
		"b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f" +
			"cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c" +
			"3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8" +
			"a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364" +
			"eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e" +
			"2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e")
	if err != nil || len(b) != 192 {
		panic(fmt.Sprint("xxh3Secret: ", len(b), " bytes, ", err))
	}
	return b
}()

// xxh3 is the filter hash, XXH3_64bits with seed 0 and the default secret.
func xxh3(m []byte) uint64 { return xxh3With(xxh3Secret, m) }

// xxh3With is XXH3_64bits with seed 0 and the 192-byte secret sec, written
// from format.md §3.1's pseudo-code, step for step: the filter hash
// without package index or an xxHash library. (It follows xxh3FromSpec of
// package index's tests, which this package cannot import.)
func xxh3With(sec, m []byte) uint64 {
	le := binary.LittleEndian
	m32 := func(i int) uint64 { return uint64(le.Uint32(m[i:])) }
	m64 := func(i int) uint64 { return le.Uint64(m[i:]) }
	s32 := func(i int) uint64 { return uint64(le.Uint32(sec[i:])) }
	s64 := func(i int) uint64 { return le.Uint64(sec[i:]) }
	fold := func(a, b uint64) uint64 { hi, lo := bits.Mul64(a, b); return lo ^ hi }
	mix16 := func(i, j int) uint64 { return fold(m64(i)^s64(j), m64(i+8)^s64(j+8)) }
	avalanche := func(x uint64) uint64 { x ^= x >> 37; x *= xxhPrimeMx1; return x ^ x>>32 }
	xxh64Avalanche := func(x uint64) uint64 {
		x ^= x >> 33
		x *= xxhPrime64_2
		x ^= x >> 29
		x *= xxhPrime64_3
		return x ^ x>>32
	}
	n := len(m)
	switch {
	case n == 0:
		return xxh64Avalanche(s64(56) ^ s64(64))
	case n <= 3:
		c := uint64(m[0])<<16 | uint64(m[n/2])<<24 | uint64(m[n-1]) | uint64(n)<<8
		return xxh64Avalanche(c ^ s32(0) ^ s32(4))
	case n <= 8:
		x := (m32(n-4) + m32(0)<<32) ^ s64(8) ^ s64(16)
		x = x ^ bits.RotateLeft64(x, 49) ^ bits.RotateLeft64(x, 24)
		x *= xxhPrimeMx2
		x ^= (x >> 35) + uint64(n)
		x *= xxhPrimeMx2
		return x ^ x>>28
	case n <= 16:
		lo := m64(0) ^ s64(24) ^ s64(32)
		hi := m64(n-8) ^ s64(40) ^ s64(48)
		return avalanche(uint64(n) + bits.ReverseBytes64(lo) + hi + fold(lo, hi))
	case n <= 128:
		acc := uint64(n)*xxhPrime64_1 + mix16(0, 0) + mix16(n-16, 16)
		if n > 32 {
			acc += mix16(16, 32) + mix16(n-32, 48)
		}
		if n > 64 {
			acc += mix16(32, 64) + mix16(n-48, 80)
		}
		if n > 96 {
			acc += mix16(48, 96) + mix16(n-64, 112)
		}
		return avalanche(acc)
	case n <= 240:
		acc := uint64(n) * xxhPrime64_1
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
	acc := [8]uint64{xxhPrime32_3, xxhPrime64_1, xxhPrime64_2, xxhPrime64_3, xxhPrime64_4, xxhPrime32_2, xxhPrime64_5, xxhPrime32_1}
	stripe := func(i, j int) {
		for k := range 8 {
			v := m64(i + 8*k)
			x := v ^ s64(j+8*k)
			acc[k^1] += v
			acc[k] += (x & 0xFFFFFFFF) * (x >> 32)
		}
	}
	scramble := func() {
		for k := range acc {
			acc[k] = (acc[k] ^ acc[k]>>47 ^ s64(192-64+8*k)) * xxhPrime32_1
		}
	}
	blocks := (n - 1) / 1024
	for b := range blocks {
		for t := range 16 {
			stripe(1024*b+64*t, 8*t)
		}
		scramble()
	}
	for t := range (n - 1 - 1024*blocks) / 64 {
		stripe(1024*blocks+64*t, 8*t)
	}
	stripe(n-64, 192-64-7)
	r := uint64(n) * xxhPrime64_1
	for k := range 4 {
		r += fold(acc[2*k]^s64(11+16*k), acc[2*k+1]^s64(11+16*k+8))
	}
	return avalanche(r)
}

// xxh3Class returns format.md §3.1's name of the length class of an n-byte
// message, the case of the pseudo-code that hashes it.
func xxh3Class(n int) string {
	switch {
	case n == 0:
		return "0"
	case n <= 3:
		return "1–3"
	case n <= 8:
		return "4–8"
	case n <= 16:
		return "9–16"
	case n <= 128:
		return "17–128"
	case n <= 240:
		return "129–240"
	}
	return "> 240"
}

// seq returns format.md §3.1's seq(n): the n bytes whose byte i is i mod 256.
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// TestFormatDocXXH3 checks format.md §3.1's XXH3: its constants and
// secret against xxh3With's, its pseudo-code (xxh3With, run with the
// document's secret) against answers published for XXH3_64bits and
// against package index's filter hash on every length through 2100 bytes,
// and the known answers it states against both.
func TestFormatDocXXH3(t *testing.T) {
	// The constants.
	constRE := regexp.MustCompile(`(PRIME\w*) = (0x[0-9A-Fa-f]+)`)
	seen := map[string]int{}
	for _, line := range markedLines(t, "XXH3 CONSTANTS") {
		for _, m := range constRE.FindAllStringSubmatch(line, -1) {
			v, err := strconv.ParseUint(m[2], 0, 64)
			want, known := xxh3Constants[m[1]]
			if err != nil || !known || v != want {
				t.Errorf("format.md §3.1: %s = %s; want 0x%X (known: %v, %v)", m[1], m[2], want, known, err)
			}
			seen[m[1]]++
		}
	}
	for name := range xxh3Constants {
		if seen[name] != 1 {
			t.Errorf("format.md §3.1 gives %s %d times, want once", name, seen[name])
		}
	}

	// The secret: "offset  16 hex bytes" lines, the offset in decimal.
	var secret []byte
	for _, line := range markedLines(t, "XXH3 SECRET") {
		if line == "" || strings.HasPrefix(line, "```") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 17 || f[0] != strconv.Itoa(len(secret)) {
			t.Fatalf("format.md §3.1 secret: line %q: want the offset %d and 16 bytes", line, len(secret))
		}
		b, err := hex.DecodeString(strings.Join(f[1:], ""))
		if err != nil || len(b) != 16 {
			t.Fatalf("format.md §3.1 secret: line %q: %v", line, err)
		}
		secret = append(secret, b...)
	}
	if !bytes.Equal(secret, xxh3Secret) {
		t.Fatalf("format.md §3.1's secret (got) is not XXH3's default secret (want):\n%s", diffBytes(secret, xxh3Secret))
	}
	hash := func(m []byte) uint64 { return xxh3With(secret, m) }

	// Answers published for XXH3_64bits with seed 0: the empty message's,
	// from xxHash's own sanity check, and LLVM's
	// (llvm/unittests/Support/xxhashTest.cpp), for prefixes of a
	// xorshift sequence, which take every path through two blocks.
	if got := hash(nil); got != 0x2D06800538D394C2 {
		t.Errorf("XXH3 of the empty message by format.md = %#016x, want 0x2d06800538d394c2", got)
	}
	xs := make([]byte, 2243)
	x := uint64(1)
	for i := range xs {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		xs[i] = byte(x)
	}
	for _, c := range []struct {
		n    int
		want uint64
	}{
		{0, 0x2d06800538d394c2}, {1, 0xd0d496e05c553485}, {2, 0x84d625edb7055eac},
		{3, 0x6ea2d59aca5c3778}, {4, 0xbf65290914e80242}, {5, 0xc01fd099ad4fc8e4},
		{6, 0x9e3ea8187399caa5}, {7, 0x9da8b60540644f5a}, {8, 0xabc1413da6cd0209},
		{9, 0x8bc89400bfed51f6}, {16, 0x7e46916754d7c9b8}, {17, 0xed4be912ba5f836d},
		{32, 0xf59b59b58c304fd1}, {33, 0x9013fb74ca603e0c}, {64, 0xfa5271fcce0db1c3},
		{65, 0x79c42431727f1012}, {96, 0x591ee0ddf9c9ccd1}, {97, 0x8ffc6a3111fe19da},
		{128, 0x06a146ee9a2da378}, {129, 0xbc7138129bf065da}, {403, 0xcefeb3ffa532ad8c},
		{512, 0xcdfa6b6268e3650f}, {513, 0x4bb5d42742f9765f}, {2048, 0x330ce110cbb79eae},
		{2049, 0x3ba6afa0249fef9a}, {2240, 0xd61d4d2a94e926a8}, {2243, 0x0979f786a24edde7},
	} {
		if got := hash(xs[:c.n]); got != c.want {
			t.Errorf("XXH3 of LLVM's %d-byte message by format.md = %#016x, want %#016x", c.n, got, c.want)
		}
		if got := index.FilterHash(xs[:c.n]); got != c.want {
			t.Errorf("index.FilterHash of LLVM's %d-byte message = %#016x, want %#016x", c.n, got, c.want)
		}
	}

	// Every length through 2100 bytes, past the second block: every case
	// and every branch of the pseudo-code, every stripe count.
	r := rand.New(rand.NewPCG(41, 42))
	for n := range 2101 {
		m := make([]byte, n)
		for i := range m {
			m[i] = byte(r.Uint32())
		}
		if got, want := hash(m), index.FilterHash(m); got != want {
			t.Errorf("XXH3 of %d random bytes by format.md = %#016x, index.FilterHash %#016x", n, got, want)
		}
	}

	// The known answers format.md states.
	seqRE := regexp.MustCompile(`^seq\((\d+)\)$`)
	classes := map[string]bool{}
	scrambled, unscrambled := false, false
	rows := 0
	for _, line := range markedLines(t, "XXH3 KNOWN ANSWERS") {
		cells, ok := tableRow(t, "format.md §3.1 known answers", line, 4, "message")
		if !ok {
			continue
		}
		rows++
		var m []byte
		if s := seqRE.FindStringSubmatch(cells[0]); s != nil {
			n, _ := strconv.Atoi(s[1])
			m = seq(n)
		} else if k, err := strconv.Unquote(strings.Trim(cells[0], "`")); err == nil && strings.HasPrefix(cells[0], "`") {
			m = []byte(k)
		} else {
			t.Fatalf("format.md §3.1 known answers: row %q: message %q is neither a quoted string nor seq(n)", line, cells[0])
		}
		n := len(m)
		want, err := strconv.ParseUint(strings.Trim(cells[3], "`"), 0, 64)
		if err != nil {
			t.Fatalf("format.md §3.1 known answers: row %q: %v", line, err)
		}
		if cells[1] != strconv.Itoa(n) || cells[2] != xxh3Class(n) {
			t.Errorf("format.md §3.1 known answers: %s has n = %s, class %s; want %d, %s", cells[0], cells[1], cells[2], n, xxh3Class(n))
		}
		if got := hash(m); got != want || index.FilterHash(m) != want {
			t.Errorf("format.md §3.1 says XXH3 of %s is %s; by its pseudo-code %#016x, by package index %#016x", cells[0], cells[3], got, index.FilterHash(m))
		}
		classes[xxh3Class(n)] = true
		scrambled = scrambled || n > 1024
		unscrambled = unscrambled || n > 240 && n <= 1024
	}
	if len(classes) != 7 || !scrambled || !unscrambled {
		t.Errorf("format.md §3.1 gives %d known answers in %d of the 7 length classes (%v); want every class, and for > 240 one message of 1024 bytes or less and one longer (scrambled)", rows, len(classes), classes)
	}
}

// TestGoldenFilterTable checks format.md §10.2's filter table against the
// golden file, decoded by hand: each key's filter hash, block and bits,
// and that the file has each of those bits set.
func TestGoldenFilterTable(t *testing.T) {
	hf := readByHand(t, readGolden(t))
	if hf.filterBlocks == 0 {
		t.Fatal("the golden file has no filter")
	}
	const cols = 6
	rows := 0
	keyBits := map[uint64]bool{} // the bits the keys set, as file offset × 8 + bit
	for _, line := range markedLines(t, "FILTER TABLE") {
		cells, ok := tableRow(t, "format.md filter table", line, cols, "ordinal")
		if !ok {
			continue
		}
		rows++
		ord, err := strconv.ParseUint(cells[0], 10, 64)
		if err != nil || ord >= hf.nkeys {
			t.Fatalf("format.md filter table: row %q: ordinal: %v", line, err)
		}
		key, err := strconv.Unquote(strings.Trim(cells[1], "`"))
		if err != nil || key != string(hf.key(ord)) {
			t.Errorf("format.md filter table: ordinal %d is key %q in the file, the table says %s (%v)", ord, hf.key(ord), cells[1], err)
			continue
		}
		f, block, at, mask := hf.filterBits([]byte(key))
		var ps, where []string
		for j := range 4 {
			ps = append(ps, fmt.Sprint(f>>(9*j)&511))
			where = append(where, fmt.Sprintf("%#03x:%d", at[j], bits.TrailingZeros8(mask[j])))
			keyBits[8*at[j]+uint64(bits.TrailingZeros8(mask[j]))] = true
			if hf.f[at[j]]&mask[j] == 0 {
				t.Errorf("key %q: bit %d of its filter block, bit %d of byte %#x, is not set", key, f>>(9*j)&511, bits.TrailingZeros8(mask[j]), at[j])
			}
		}
		want := []string{cells[0], cells[1], fmt.Sprintf("0x%016x", f), fmt.Sprint(block), strings.Join(ps, ", "), strings.Join(where, ", ")}
		for i := range want {
			if cells[i] != want[i] {
				t.Errorf("format.md filter table: key %q: column %d is %q, want %q", key, i+1, cells[i], want[i])
			}
		}
		if f != index.FilterHash([]byte(key)) {
			t.Errorf("key %q: XXH3 by hand %#016x, index.FilterHash %#016x", key, f, index.FilterHash([]byte(key)))
		}
	}
	if rows != int(hf.nkeys) {
		t.Errorf("format.md filter table has %d keys, the file %d", rows, hf.nkeys)
	}
	// §10.2 counts the bits set in the example's one block.
	set := 0
	for _, b := range hf.f[hf.filter.off:hf.filter.end] {
		set += bits.OnesCount8(b)
	}
	if set != len(keyBits) {
		t.Errorf("the filter has %d bits set, the keys set %d", set, len(keyBits))
	}
	doc, err := os.ReadFile(formatPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("block 0 has exactly %d bits set", set); !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), want) {
		t.Errorf("format.md §10.2 does not say %q", want)
	}
}

// TestGoldenByHandFilter builds sets large enough for several filter
// blocks, at the default and other filter sizes and with no filter, and
// checks by hand (§3.1, §9) that F is ⌈N × bits / 512⌉, that the filter
// section holds exactly the keys' bits, that every key passes and is found,
// and that absent keys are turned away at about the rate of a Bloom
// filter of that size, with the same answers with the filter and without.
func TestGoldenByHandFilter(t *testing.T) {
	keys := make([]string, 3000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key %d", i)
	}
	for _, c := range []struct {
		option, bits int     // Options.FilterBitsPerKey and the bits per key it means
		maxRate      float64 // most of the absent keys that may pass
	}{{0, 6, 0.10}, {6, 6, 0.10}, {16, 16, 0.01}, {1, 1, 0.95}, {-1, 0, 1}} {
		hf := readByHand(t, buildWith(t, builder.Options{HashKey: goldenHashKey(), FilterBitsPerKey: c.option}, keys))
		n := uint64(len(keys))
		if want := (n*uint64(c.bits) + 511) / 512; hf.filterBlocks != want || hf.filter.size != 64*want {
			t.Errorf("FilterBitsPerKey %d: %d filter blocks, a section of %d bytes; want ⌈%d × %d / 512⌉ = %d blocks", c.option, hf.filterBlocks, hf.filter.size, n, c.bits, want)
		}
		if msg := diffBytes(hf.f[hf.filter.off:hf.filter.end], filterByHand(hf)); msg != "" {
			t.Errorf("FilterBitsPerKey %d: the filter section (got) is not the keys' bits (want):\n%s", c.option, msg)
		}
		for i := range n {
			k := string(hf.key(i))
			if !hf.passes([]byte(k)) {
				t.Fatalf("FilterBitsPerKey %d: key %d, %q, does not pass the filter", c.option, i, k)
			}
			if ord, ok := hf.lookup(k); !ok || ord != i {
				t.Fatalf("FilterBitsPerKey %d: lookup(%q) = %d, %v; want %d, true", c.option, k, ord, ok, i)
			}
		}
		const absent = 5000
		passed := 0
		for i := range absent {
			k := fmt.Sprintf("absent %d", i)
			if hf.passes([]byte(k)) {
				passed++
			}
			_, withFilter := hf.lookup(k)
			_, without := hf.lookupBuckets(k)
			if withFilter || without {
				t.Fatalf("FilterBitsPerKey %d: %q found: %v with the filter, %v without", c.option, k, withFilter, without)
			}
		}
		rate := float64(passed) / absent
		t.Logf("FilterBitsPerKey %d: %d blocks; %.2f%% of absent keys pass", c.option, hf.filterBlocks, 100*rate)
		if rate > c.maxRate || c.bits > 0 && rate == 0 || c.bits == 0 && rate != 1 {
			t.Errorf("FilterBitsPerKey %d: %.2f%% of absent keys pass the filter, want at most %.0f%% (and none of them with no filter)", c.option, 100*rate, 100*c.maxRate)
		}
	}
}

// TestGoldenByHandVersion2 reads version 2's worked example by hand as
// format.md §7 says a version 3 reader does: as a file with F = 0, whose
// bytes [88, 124) are reserved and zero, and whose sections are version
// 3's.
func TestGoldenByHandVersion2(t *testing.T) {
	f, err := os.ReadFile("../testdata/version2.stru")
	if err != nil {
		t.Fatal(err)
	}
	hf := readByHand(t, f)
	if hf.version != 2 || hf.filterBlocks != 0 || hf.filter != (handExtent{384, 0, 384}) {
		t.Errorf("version 2 file: version %d, %d filter blocks, filter %v; want 2, 0, empty at 384", hf.version, hf.filterBlocks, hf.filter)
	}
	if golden := readGolden(t); !bytes.Equal(f[128:384], golden[128:min(384, len(golden))]) {
		t.Errorf("the buckets, offsets, lengths and keys of version 2's example differ from version 3's")
	}
	for i, k := range []string{"", "a", "apple", "banana"} {
		if ord, ok := hf.lookup(k); !ok || ord != uint64(i) {
			t.Errorf("lookup(%q) = %d, %v; want %d, true", k, ord, ok, i)
		}
	}
	for _, k := range []string{"b", "cherry", "\x00"} {
		if _, ok := hf.lookup(k); ok {
			t.Errorf("lookup(%q) = true, want absent", k)
		}
	}
}
