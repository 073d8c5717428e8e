package builder_test

// The golden file testdata/example.stru is format.md §10's worked example:
// the set {"", "a", "apple", "banana"} built with the hash key
// 000102030405060708090a0b0c0d0e0f. After an intended change to the format
// or to the builder's output, regenerate it with
//
//	go test ./builder -run Golden -update
//
// and update the hex dump and the key table in format.md to match (the
// tests below fail until they do).

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
// buckets and slot against the index package and the golden file.
func TestGoldenKeyTable(t *testing.T) {
	data := readGolden(t)
	v, err := index.NewView(data, goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	k0, k1 := goldenHashKey().Halves()
	rows := 0
	for _, line := range markedLines(t, "KEY TABLE") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 9 {
			t.Fatalf("format.md key table: row %q has %d cells, want 9", line, len(cells))
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
		h := index.Hash(k0, k1, []byte(key))
		b1, b2 := index.Buckets(h, v.Header.Buckets)
		bucket, slot := findSlot(t, data, v, ord)
		want := []string{
			cells[0], cells[1],
			hex.EncodeToString([]byte(key)),
			fmt.Sprintf("0x%016x", h),
			fmt.Sprintf("0x%06x", index.Tag(h)),
			fmt.Sprint(b1), fmt.Sprint(b2),
			fmt.Sprintf("%d / %d", bucket, slot),
			fmt.Sprintf("0x%016x", index.MakeSlot(index.Tag(h), ord)),
		}
		if key == "" {
			want[2] = "(none)"
		}
		for i := range want {
			if cells[i] != want[i] {
				t.Errorf("format.md key table: key %q: column %d is %q, want %q", key, i+1, cells[i], want[i])
			}
		}
		if k, _ := v.Key(ord); string(k) != key {
			t.Errorf("format.md key table: ordinal %d is key %q in the file, the table says %q", ord, k, key)
		}
	}
	if rows != int(v.Len()) {
		t.Errorf("format.md key table has %d keys, the file %d", rows, v.Len())
	}
}

// findSlot returns the bucket and slot index holding ordinal ord.
func findSlot(t *testing.T, data []byte, v index.View, ord uint64) (bucket, slot uint64) {
	t.Helper()
	sec := v.Layout[index.SectionBuckets]
	for i := uint64(0); i < sec.Size/8; i++ {
		s := binary.LittleEndian.Uint64(data[sec.Off+8*i:])
		if o, used := index.SlotOrdinal(s); used && o == ord {
			return i / 8, i % 8
		}
	}
	t.Fatalf("no slot holds ordinal %d", ord)
	return 0, 0
}

// TestGoldenByHand decodes the golden file with nothing but encoding/binary,
// hash/crc32, math/bits and SipHash, following format.md alone, and looks
// keys up in it: a second, independent reading of the format.
func TestGoldenByHand(t *testing.T) {
	f := readGolden(t)
	le := binary.LittleEndian
	if len(f) < 128 {
		t.Fatalf("golden file is %d bytes, shorter than a header", len(f))
	}

	// §2: the header.
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	var (
		magic       = string(f[0:4])
		version     = le.Uint16(f[4:6])
		headerSize  = le.Uint16(f[6:8])
		incompat    = le.Uint32(f[8:12])
		compat      = le.Uint32(f[12:16])
		fileSize    = le.Uint64(f[16:24])
		nkeys       = le.Uint64(f[24:32])
		nbuckets    = le.Uint64(f[32:40])
		keyBytes    = le.Uint64(f[40:48])
		k0          = le.Uint64(f[48:56])
		k1          = le.Uint64(f[56:64])
		offsetWidth = f[64]
		lengthWidth = f[65]
		longest     = le.Uint32(f[68:72])
		headerCRC   = le.Uint32(f[124:128])
	)
	var sectionCRC [4]uint32
	for i := range sectionCRC {
		sectionCRC[i] = le.Uint32(f[72+4*i:])
	}
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"magic", magic, "STRU"},
		{"version", version, uint16(1)},
		{"header size", headerSize, uint16(128)},
		{"incompatible flags", incompat, uint32(0)},
		{"compatible flags", compat, uint32(0)},
		{"file size", fileSize, uint64(len(f))},
		{"key count", nkeys, uint64(4)},
		{"bucket count", nbuckets, uint64(1)}, // ⌈4 / (8 × 0.8)⌉
		{"key data bytes", keyBytes, uint64(len("") + len("a") + len("apple") + len("banana"))},
		{"k0", k0, uint64(0x0706050403020100)},
		{"k1", k1, uint64(0x0f0e0d0c0b0a0908)},
		{"offset width", offsetWidth, uint8(4)},
		{"length width", lengthWidth, uint8(1)},
		{"longest key", longest, uint32(len("banana"))},
		{"reserved [66:68]", string(f[66:68]), "\x00\x00"},
		{"reserved [88:124]", string(f[88:124]), strings.Repeat("\x00", 36)},
		{"header checksum", headerCRC, crc32.Checksum(f[0:124], castagnoli)},
	} {
		if c.got != c.want {
			t.Errorf("header %s = %#v, want %#v", c.field, c.got, c.want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// §1: the sections follow the header, each at the next multiple of 64.
	up := func(n uint64) uint64 { return (n + 63) / 64 * 64 }
	type extent struct{ off, size, end uint64 }
	var ext [4]extent
	at := uint64(128)
	for i, size := range []uint64{64 * nbuckets, nkeys * uint64(offsetWidth), nkeys * uint64(lengthWidth), keyBytes} {
		ext[i] = extent{at, size, up(at + size)}
		at = ext[i].end
	}
	if at != fileSize {
		t.Fatalf("sections end at %d, file size is %d", at, fileSize)
	}
	want := [4]extent{{128, 64, 192}, {192, 16, 256}, {256, 4, 320}, {320, 12, 384}}
	if ext != want {
		t.Errorf("section extents = %v, want %v", ext, want)
	}
	// §6: each section's checksum covers its bytes and its padding.
	for i, e := range ext {
		if got := crc32.Checksum(f[e.off:e.end], castagnoli); got != sectionCRC[i] {
			t.Errorf("section %d checksum: header says %#08x, computed %#08x", i, sectionCRC[i], got)
		}
	}

	// §5: the key of ordinal i is keys[offset[i] : offset[i]+length[i]].
	key := func(i uint64) []byte {
		off := uint64(le.Uint32(f[ext[1].off+4*i:]))
		n := uint64(f[ext[2].off+i])
		return f[ext[3].off+off : ext[3].off+off+n]
	}
	for i, want := range []string{"", "a", "apple", "banana"} {
		if got := string(key(uint64(i))); got != want {
			t.Errorf("key %d = %q, want %q", i, got, want)
		}
	}

	// §3 and §4: look a key up by its hash.
	lookup := func(k string) (uint64, bool) {
		h := siphash.Hash(k0, k1, []byte(k))
		blocks := (nbuckets + 65535) / 65536 // 1 here
		per := nbuckets / blocks
		block, _ := bits.Mul64(h, blocks)
		o1, _ := bits.Mul64(h*0x9E3779B97F4A7C15, per)
		o2, _ := bits.Mul64(h*0xC2B2AE3D27D4EB4F, per)
		b1, b2 := block*per+o1, block*per+o2
		tag := h & 0xFFFFFF
		for probe, b := range []uint64{b1, b2} {
			if probe == 1 && b2 == b1 {
				break
			}
			for i := range uint64(8) {
				s := le.Uint64(f[ext[0].off+64*b+8*i:])
				if s == 0 {
					return 0, false
				}
				if s>>40 == tag && string(key(s&(1<<40-1)-1)) == k {
					return s&(1<<40-1) - 1, true
				}
			}
		}
		return 0, false
	}
	for i, k := range []string{"", "a", "apple", "banana"} {
		if ord, ok := lookup(k); !ok || ord != uint64(i) {
			t.Errorf("lookup(%q) = %d, %v; want %d, true", k, ord, ok, i)
		}
	}
	for _, k := range []string{"b", "A", "app", "apples", "banan", "\x00", "cherry"} {
		if ord, ok := lookup(k); ok {
			t.Errorf("lookup(%q) = %d, true; want absent", k, ord)
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

// TestFormatDocLookups checks the hashes and answers of format.md §10.5's
// lookup walkthroughs.
func TestFormatDocLookups(t *testing.T) {
	doc, err := os.ReadFile(formatPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := index.NewView(readGolden(t), goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	k0, k1 := goldenHashKey().Halves()
	re := regexp.MustCompile(`\*\*"(\w*)" \((present|absent)\)\.\*\* h = (0x[0-9a-f]{16}), tag = (0x[0-9a-f]{6}), b1 = b2 = 0\.`)
	found := re.FindAllStringSubmatch(string(doc), -1)
	if len(found) != 2 {
		t.Fatalf("format.md: found %d lookup walkthroughs, want 2", len(found))
	}
	for _, m := range found {
		key, present := m[1], m[2] == "present"
		h := index.Hash(k0, k1, []byte(key))
		if got := fmt.Sprintf("0x%016x", h); got != m[3] {
			t.Errorf("format.md §10.5: %q has h = %s, want %s", key, m[3], got)
		}
		if got := fmt.Sprintf("0x%06x", index.Tag(h)); got != m[4] {
			t.Errorf("format.md §10.5: %q has tag = %s, want %s", key, m[4], got)
		}
		if _, ok := v.Find([]byte(key)); ok != present {
			t.Errorf("format.md §10.5: %q is %s, Find says present = %v", key, m[2], ok)
		}
	}
}
