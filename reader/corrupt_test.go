package reader_test

// Tests of files that are not valid STRU files: empty, truncated, with
// trailing data, with a damaged header or damaged sections, and hostile
// files whose checksums all match but whose sections are garbage. Open must
// return the right sentinel, or Verify must fail; nothing may panic.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// Offsets of the header fields (format.md §2).
const (
	hdrMagic        = 0
	hdrVersion      = 4
	hdrHeaderSize   = 6
	hdrIncompat     = 8
	hdrCompat       = 12
	hdrFileSize     = 16
	hdrKeys         = 24
	hdrBuckets      = 32
	hdrKeyBytes     = 40
	hdrHashKey      = 48
	hdrOffsetWidth  = 64
	hdrLengthWidth  = 65
	hdrReserved1    = 66 // 2 bytes
	hdrMaxKeyLen    = 68
	hdrSectionCRC   = 72 // 5 × u32: buckets, offsets, lengths, keys, filter
	hdrFilterBlocks = 96
	hdrReserved2    = 92  // 4 bytes, to the filter block count
	hdrReserved3    = 104 // 20 bytes, to the header checksum
	hdrCRC          = 124
)

var le = binary.LittleEndian

// fixtureKeys is the set of the small files the damage tests start from:
// the empty key, NUL, invalid UTF-8, keys that are prefixes of others, and
// a key of index.LongKey bytes, whose slot's length field says only that
// it is long, so that its lookups find its ordinal in the offset table and
// compare it with the key that ordinal's table entries give.
var fixtureKeys = [][]byte{
	{}, []byte("a"), []byte("apple"), []byte("apples"), []byte("banana"), []byte("cherry"),
	{0}, {0, 0}, {0xff}, []byte("\xc3\x28"), []byte("date"), []byte("elderberry"), []byte("fig"),
	[]byte("grape"), []byte("honeydew"), []byte("kiwi"), []byte("lemon"), []byte("mango"),
	[]byte("nectarine"), []byte("orange"), longFixtureKey,
}

// longFixtureKey is the key of index.LongKey bytes in fixtureKeys.
var longFixtureKey = []byte("quince" + strings.Repeat("-", index.LongKey-len("quince")))

// fixtureProbes are the keys the damage tests look up: every member and
// some non-members, among them near misses of the long keys, one byte
// shorter (a short key's lookup) or longer, or with the last byte changed.
func fixtureProbes(keys [][]byte) [][]byte {
	probes := slices.Clone(keys)
	for _, s := range []string{"b", "ap", "apple\x00", "zzz", "\xff\xff", "\x00\x00\x00", "orangey", "\xc3"} {
		probes = append(probes, []byte(s))
	}
	for _, k := range keys {
		if len(k) >= index.LongKey {
			changed := slices.Clone(k)
			changed[len(k)-1] ^= 1
			probes = append(probes, k[:len(k)-1:len(k)-1], append(slices.Clone(k), 'x'), changed)
		}
	}
	return probes
}

// fixture returns a valid file of fixtureKeys with a fixed hash key.
func fixture(t testing.TB) []byte {
	t.Helper()
	return buildIndex(t, fixtureKeys, builder.Options{HashKey: &fixedKey})
}

// tinyKeys is format.md's example set, for the tests that try every bit.
var tinyKeys = [][]byte{{}, []byte("a"), []byte("apple"), []byte("banana")}

// resealHeader recomputes the header checksum of the file b.
func resealHeader(b []byte) {
	le.PutUint32(b[hdrCRC:], index.Checksum(b[:hdrCRC]))
}

// resealSection recomputes section s's checksum, and then the header's,
// in the file b, whose header must be valid apart from its checksums.
func resealSection(t testing.TB, b []byte, s index.Section) {
	t.Helper()
	resealHeader(b)
	h, err := index.ParseHeader(b, "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Layout(uint64(len(b)), "")
	if err != nil {
		t.Fatal(err)
	}
	le.PutUint32(b[hdrSectionCRC+4*int(s-index.SectionBuckets):], index.Checksum(b[l[s].Off:l[s].End]))
	resealHeader(b)
}

// layoutOf returns the sections of the valid file b.
func layoutOf(t testing.TB, b []byte) index.Layout {
	t.Helper()
	r, err := reader.FromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return r.Layout()
}

// checkFileErr checks that err, from opening the file at path (or from
// FromBytes when path is ""), wraps want and names the file.
func checkFileErr(t testing.TB, path string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	for _, s := range []error{index.ErrNotIndex, index.ErrVersion, index.ErrCorrupt} {
		if s != want && errors.Is(err, s) {
			t.Fatalf("error %v wraps both %v and %v", err, want, s)
		}
	}
	var fe *index.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *index.FormatError", err)
	}
	if fe.File != path || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q does not name the file %q", err, path)
	}
}

// exercise runs every query of r over probes and every ordinal. On a
// damaged file the answers may be wrong, but nothing may panic, and a
// positive answer must come from the file: a key Contains finds is bytes
// of the key data section; Lookup finds only keys Contains finds, at an
// ordinal below Len whose offset table entry is where the key was found,
// so that Key of that ordinal, if its span is in the key data, starts with
// the key or is a prefix of it (the empty key is ordinal 0, wherever it
// was found); and ContainsBatch answers as Contains does. A lookup does
// not check the ordinal's span, so in a damaged file Key(ordinal) may
// differ from the key: Verify catches that.
func exercise(t testing.TB, r *reader.Reader, probes [][]byte) {
	t.Helper()
	n := r.Len()
	l := r.Layout()
	keyData := r.View().Data()[l[index.SectionKeys].Off : l[index.SectionKeys].Off+l[index.SectionKeys].Size]
	contains := make([]bool, len(probes))
	for i, k := range probes {
		ord, ok := r.Lookup(k)
		sord, sok := r.LookupString(string(k))
		c, cs := r.Contains(k), r.ContainsString(string(k))
		if c != cs || sok != ok || sord != ord || (ok && !c) {
			t.Fatalf("%q: Contains %v, ContainsString %v, Lookup %d, %v, LookupString %d, %v disagree", k, c, cs, ord, ok, sord, sok)
		}
		if ok && (ord < 0 || ord >= n) {
			t.Fatalf("Lookup(%q) = %d, true, with Len %d", k, ord, n)
		}
		if kk := r.Key(ord); ok && len(k) > 0 && kk != nil && !bytes.HasPrefix(kk, k) && !bytes.HasPrefix(k, kk) {
			t.Fatalf("Lookup(%q) = %d, true, but Key(%d) = %q starts elsewhere", k, ord, ord, kk)
		}
		if ok && len(k) == 0 && ord != 0 {
			t.Fatalf("Lookup of the empty key = %d, true, want ordinal 0", ord)
		}
		if c && !bytes.Contains(keyData, k) {
			t.Fatalf("Contains(%q) = true, but the key data does not hold it", k)
		}
		contains[i] = c
		for j := 0; j <= len(k); j++ {
			if j > 8 && j < len(k)-1 {
				continue // a long probe's prefixes: the first few and the last two
			}
			for got := range r.Prefix(k[:j]) {
				if !bytes.HasPrefix(got, k[:j]) {
					t.Fatalf("Prefix(%q) yielded %q", k[:j], got)
				}
			}
			if s, e := r.PrefixRange(k[:j]); s < 0 || s > e || e > n {
				t.Fatalf("PrefixRange(%q) = [%d, %d) with Len %d", k[:j], s, e, n)
			}
		}
	}
	batch := make([]bool, len(probes))
	r.ContainsBatch(probes, batch)
	for i, k := range probes {
		if batch[i] != contains[i] {
			t.Fatalf("%q: ContainsBatch %v, Contains %v", k, batch[i], contains[i])
		}
	}
	for i := -1; i <= n; i++ {
		r.Key(i)
	}
	count := 0
	for range r.All() {
		count++
	}
	if count != n {
		t.Fatalf("All() yielded %d keys, Len() is %d", count, n)
	}
}

// checkVerifyFails checks that Verify of r reports corruption, naming the
// file path and, unless it is empty, the section.
func checkVerifyFails(t testing.TB, r *reader.Reader, path, section string) {
	t.Helper()
	err := r.Verify()
	if !errors.Is(err, index.ErrCorrupt) {
		t.Fatalf("Verify: %v, want ErrCorrupt", err)
	}
	var fe *index.FormatError
	if !errors.As(err, &fe) || fe.File != path || !strings.Contains(err.Error(), path) {
		t.Fatalf("Verify error %q does not name the file %q", err, path)
	}
	if section != "" && fe.Section != section {
		t.Fatalf("Verify error %q names section %q, want %q", err, fe.Section, section)
	}
}

func TestEmptyFile(t *testing.T) {
	path := writeTemp(t, "empty.stru", nil)
	_, err := reader.Open(path)
	checkFileErr(t, path, err, index.ErrNotIndex)
	for _, b := range [][]byte{nil, {}} {
		_, err := reader.FromBytes(b)
		checkFileErr(t, "", err, index.ErrNotIndex)
	}
}

// TestTruncated opens the fixture cut short at every length: shorter than
// the magic it is not a STRU file; longer, it is a corrupt one.
func TestTruncated(t *testing.T) {
	data := fixture(t)
	path := filepath.Join(t.TempDir(), "cut.stru")
	for n := range len(data) {
		want := index.ErrCorrupt
		if n < len(index.Magic) {
			want = index.ErrNotIndex
		}
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := reader.Open(path)
		if err == nil {
			r.Close()
			t.Fatalf("Open of the file cut to %d of %d bytes succeeded", n, len(data))
		}
		checkFileErr(t, path, err, want)
		_, err = reader.FromBytes(data[:n])
		checkFileErr(t, "", err, want)
	}
	// A larger file, through FromBytes.
	rng := rand.New(rand.NewPCG(11, 12))
	big := buildIndex(t, genSet(rng, 1000), builder.Options{})
	for n := range len(big) {
		if _, err := reader.FromBytes(big[:n]); n >= len(index.Magic) && !errors.Is(err, index.ErrCorrupt) {
			t.Fatalf("FromBytes of the file cut to %d of %d bytes: %v", n, len(big), err)
		}
	}
}

func TestTrailingData(t *testing.T) {
	data := fixture(t)
	for _, extra := range [][]byte{{0}, {1}, make([]byte, 63), make([]byte, 64), bytes.Repeat([]byte{0xa5}, 4096), data} {
		path := writeTemp(t, "long.stru", append(slices.Clone(data), extra...))
		_, err := reader.Open(path)
		checkFileErr(t, path, err, index.ErrCorrupt)
	}
	// Trailing data to 5 GiB (a sparse file, which takes no disk space
	// on unix): a 32-bit process cannot map the file, and where the
	// reader reads files instead of mapping them it must not read this
	// one, so Open tells from the file's size alone that the header does
	// not describe it.
	path := writeTemp(t, "huge.stru", data)
	if err := os.Truncate(path, 5<<30); err != nil {
		t.Fatal(err)
	}
	_, err := reader.Open(path)
	checkFileErr(t, path, err, index.ErrCorrupt)
}

func TestNotIndex(t *testing.T) {
	data := fixture(t)
	with := func(prefix string) []byte { return append([]byte(prefix), data[len(prefix):]...) }
	cases := []struct {
		name string
		data []byte
	}{
		{"one byte", []byte("S")},
		{"three bytes", []byte("STR")},
		{"lower case", with("stru")},
		{"STRV", with("STRV")},
		{"zeros", make([]byte, len(data))},
		{"text", []byte("apple\nbanana\ncherry\n")},
		{"gzip", append([]byte{0x1f, 0x8b, 8, 0}, data[4:]...)},
		{"shifted", append([]byte{0}, data...)},
		{"magic at the end", append(make([]byte, 128), "STRU"...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "bad.stru", tc.data)
			_, err := reader.Open(path)
			checkFileErr(t, path, err, index.ErrNotIndex)
		})
	}
}

// TestVersion1File opens a file of format version 1: ../testdata/version1.stru
// is version 1's worked example (its format.md §10: {"", "a", "apple",
// "banana"} under the hash key 00 01 … 0f), as the version 1 builder wrote
// it. Open and FromBytes must reject it with ErrVersion, naming the
// version. Relabelled as version 2, its header checksum recomputed, it
// opens, since the sections of the two versions are laid out alike; but
// its slots hold version 1's 24-bit tag and ordinal, not a version 2
// slot's tag, length and offset, and Verify must reject them.
func TestVersion1File(t *testing.T) {
	path := filepath.Join("..", "testdata", "version1.stru")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// It is a version 1 file with a good header checksum, so that
	// nothing but its version can be what Open rejects.
	if len(data) < index.HeaderSize || string(data[:4]) != index.Magic || le.Uint16(data[hdrVersion:]) != 1 ||
		le.Uint32(data[hdrCRC:]) != index.Checksum(data[:hdrCRC]) {
		t.Fatalf("%s is not a version 1 STRU file with a valid header checksum", path)
	}
	r, err := reader.Open(path)
	if err == nil {
		r.Close()
		t.Fatal("Open of a version 1 file succeeded")
	}
	checkFileErr(t, path, err, index.ErrVersion)
	if !strings.Contains(err.Error(), "version 1") {
		t.Errorf("Open: %q does not name version 1", err)
	}
	_, err = reader.FromBytes(data)
	checkFileErr(t, "", err, index.ErrVersion)

	relabelled := slices.Clone(data)
	le.PutUint16(relabelled[hdrVersion:], index.Version)
	resealHeader(relabelled)
	probes := fixtureProbes(tinyKeys)
	for _, nr := range openReaders(t, relabelled) {
		exercise(t, nr.r, probes)
		err := nr.r.Verify()
		var fe *index.FormatError
		if !errors.Is(err, index.ErrCorrupt) || !errors.As(err, &fe) || fe.Section != "buckets" {
			t.Errorf("%s: Verify of the version 1 file relabelled as version %d: %v, want ErrCorrupt in the buckets", nr.how, index.Version, err)
		}
	}
}

// TestHeaderFieldOffsets checks the header offsets the damage tests use
// (format.md §2) against Header.Encode and ParseHeader: each field, set to
// a distinct value, is at its offset, the four section checksums follow
// each other from byte 72 in file order, and the reserved bytes are zero.
func TestHeaderFieldOffsets(t *testing.T) {
	h := index.Header{
		Version: index.Version, IncompatFlags: 0x01020304, CompatFlags: 0x05060708, FileSize: 0x1112131415161718,
		Keys: 0x2122232425262728, Buckets: 0x3132333435363738, KeyBytes: 0x4142434445464748,
		HashKey:     index.HashKey{0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60},
		OffsetWidth: 0x61, LengthWidth: 0x62, MaxKeyLen: 0x63646566,
		SectionCRC: [5]uint32{0x71727374, 0x81828384, 0x91929394, 0xa1a2a3a4, 0xb1b2b3b4}, FilterBlocks: 0xc1c2c3c4c5c6c7c8,
	}
	b := make([]byte, index.HeaderSize)
	h.Encode(b)
	fields := []struct {
		name      string
		at, width int
		want      uint64
	}{
		{"version", hdrVersion, 2, uint64(h.Version)},
		{"header size", hdrHeaderSize, 2, index.HeaderSize},
		{"incompatible flags", hdrIncompat, 4, uint64(h.IncompatFlags)},
		{"compatible flags", hdrCompat, 4, uint64(h.CompatFlags)},
		{"file size", hdrFileSize, 8, h.FileSize},
		{"keys", hdrKeys, 8, h.Keys},
		{"buckets", hdrBuckets, 8, h.Buckets},
		{"key bytes", hdrKeyBytes, 8, h.KeyBytes},
		{"hash key k0", hdrHashKey, 8, le.Uint64(h.HashKey[:8])},
		{"hash key k1", hdrHashKey + 8, 8, le.Uint64(h.HashKey[8:])},
		{"offset width", hdrOffsetWidth, 1, uint64(h.OffsetWidth)},
		{"length width", hdrLengthWidth, 1, uint64(h.LengthWidth)},
		{"longest key", hdrMaxKeyLen, 4, uint64(h.MaxKeyLen)},
		{"filter blocks", hdrFilterBlocks, 8, h.FilterBlocks},
		{"header checksum", hdrCRC, 4, uint64(index.Checksum(b[:hdrCRC]))},
	}
	for s := index.SectionBuckets; s < index.NumSections; s++ {
		i := int(s - index.SectionBuckets)
		fields = append(fields, struct {
			name      string
			at, width int
			want      uint64
		}{s.String() + " checksum", hdrSectionCRC + 4*i, 4, uint64(h.SectionCRC[i])})
	}
	covered := make([]bool, index.HeaderSize)
	for i := range len(index.Magic) {
		covered[hdrMagic+i] = true
	}
	for _, f := range fields {
		var got uint64
		for i := f.width - 1; i >= 0; i-- {
			got = got<<8 | uint64(b[f.at+i])
		}
		if got != f.want {
			t.Errorf("%s at [%d:%d) is %#x, want %#x", f.name, f.at, f.at+f.width, got, f.want)
		}
		for i := f.at; i < f.at+f.width; i++ {
			covered[i] = true
		}
	}
	if string(b[:4]) != index.Magic {
		t.Errorf("magic %q", b[:4])
	}
	if c := hdrSectionCRC + 4*int(index.NumSections-index.SectionBuckets); c != hdrReserved2 {
		t.Errorf("the section checksums end at %d, the reserved bytes start at %d", c, hdrReserved2)
	}
	for i, c := range covered {
		if !c && b[i] != 0 {
			t.Errorf("byte %d, in no field, is %#x, want 0 (reserved)", i, b[i])
		}
		if !c && i != hdrReserved1 && i != hdrReserved1+1 && (i < hdrReserved2 || i >= hdrFilterBlocks) && (i < hdrReserved3 || i >= hdrCRC) {
			t.Errorf("byte %d is in no field and not reserved", i)
		}
	}
	// Bit by bit it is the header ParseHeader reads back, once the
	// reserved bytes pass and only the incompatible flags are unknown.
	h.IncompatFlags = 0
	h.Encode(b)
	got, err := index.ParseHeader(b, "")
	if err != nil || got != h {
		t.Errorf("ParseHeader(Encode(h)) = %+v, %v; want %+v", got, err, h)
	}
}

// A headerDamage changes the header of a valid file.
type headerDamage struct {
	name   string
	mutate func(b []byte)
	reseal bool // recompute the header checksum afterwards
	// What must happen: Open fails with openErr; or, when openErr is nil,
	// Open succeeds and Verify fails (valid: Verify succeeds); or, when
	// either is set, Open or Verify fails with ErrCorrupt.
	openErr error
	valid   bool
	either  bool
	section string // when Verify must fail: the section it must name, if not ""
}

func set8(at int, v byte) func([]byte)    { return func(b []byte) { b[at] = v } }
func set16(at int, v uint16) func([]byte) { return func(b []byte) { le.PutUint16(b[at:], v) } }
func set32(at int, v uint32) func([]byte) { return func(b []byte) { le.PutUint32(b[at:], v) } }
func set64(at int, v uint64) func([]byte) { return func(b []byte) { le.PutUint64(b[at:], v) } }
func add64(at int, d int64) func([]byte) {
	return func(b []byte) { le.PutUint64(b[at:], le.Uint64(b[at:])+uint64(d)) }
}
func add32(at int, d int32) func([]byte) {
	return func(b []byte) { le.PutUint32(b[at:], le.Uint32(b[at:])+uint32(d)) }
}
func both(fs ...func([]byte)) func([]byte) {
	return func(b []byte) {
		for _, f := range fs {
			f(b)
		}
	}
}

func headerDamages() []headerDamage {
	cs := []headerDamage{
		{name: "version 1", mutate: set16(hdrVersion, 1), openErr: index.ErrVersion},
		{name: "version 1 resealed", mutate: set16(hdrVersion, 1), reseal: true, openErr: index.ErrVersion},
		{name: "version 4", mutate: set16(hdrVersion, 4), openErr: index.ErrVersion},
		{name: "version 4 resealed", mutate: set16(hdrVersion, 4), reseal: true, openErr: index.ErrVersion},
		// Version 2 had no filter: its filter fields are reserved bytes.
		{name: "version 2 with a filter, resealed", mutate: set16(hdrVersion, 2), reseal: true, openErr: index.ErrCorrupt},
		{name: "version 0", mutate: set16(hdrVersion, 0), openErr: index.ErrVersion},
		{name: "version 0xffff", mutate: set16(hdrVersion, 0xffff), openErr: index.ErrVersion},
		{name: "version 257", mutate: set16(hdrVersion, 257), reseal: true, openErr: index.ErrVersion},
		{name: "header size 64", mutate: set16(hdrHeaderSize, 64), reseal: true, openErr: index.ErrCorrupt},
		{name: "header size 256", mutate: set16(hdrHeaderSize, 256), reseal: true, openErr: index.ErrCorrupt},
		{name: "header size 0", mutate: set16(hdrHeaderSize, 0), openErr: index.ErrCorrupt},
		{name: "unknown incompatible flag", mutate: set32(hdrIncompat, 1), reseal: true, openErr: index.ErrVersion},
		{name: "unknown incompatible flag 31", mutate: set32(hdrIncompat, 1<<31), reseal: true, openErr: index.ErrVersion},
		{name: "incompatible flag, stale checksum", mutate: set32(hdrIncompat, 1), openErr: index.ErrCorrupt},
		{name: "unknown compatible flag", mutate: set32(hdrCompat, 1), reseal: true, valid: true},
		{name: "compatible flag claims reserved bytes", mutate: both(set32(hdrCompat, 4), set8(hdrReserved1, 7), set8(hdrReserved2+1, 9), set8(hdrReserved3+5, 9)), reseal: true, valid: true},
		{name: "compatible flag, stale checksum", mutate: set32(hdrCompat, 1), openErr: index.ErrCorrupt},
		{name: "header checksum", mutate: add32(hdrCRC, 1), openErr: index.ErrCorrupt},

		{name: "file size +1", mutate: add64(hdrFileSize, 1), reseal: true, openErr: index.ErrCorrupt},
		{name: "file size +64", mutate: add64(hdrFileSize, 64), reseal: true, openErr: index.ErrCorrupt},
		{name: "file size -64", mutate: add64(hdrFileSize, -64), reseal: true, openErr: index.ErrCorrupt},
		{name: "file size 0", mutate: set64(hdrFileSize, 0), reseal: true, openErr: index.ErrCorrupt},
		{name: "file size max", mutate: set64(hdrFileSize, 1<<64-1), reseal: true, openErr: index.ErrCorrupt},
		{name: "file size, stale checksum", mutate: add64(hdrFileSize, 64), openErr: index.ErrCorrupt},

		{name: "keys 0", mutate: set64(hdrKeys, 0), reseal: true, openErr: index.ErrCorrupt},
		{name: "keys +1", mutate: add64(hdrKeys, 1), reseal: true, either: true},
		{name: "keys -1", mutate: add64(hdrKeys, -1), reseal: true, either: true},
		{name: "keys ×4", mutate: func(b []byte) { le.PutUint64(b[hdrKeys:], 4*le.Uint64(b[hdrKeys:])) }, reseal: true, either: true},
		{name: "keys above MaxKeys", mutate: set64(hdrKeys, index.MaxKeys+1), reseal: true, openErr: index.ErrCorrupt},
		{name: "keys 2^63", mutate: set64(hdrKeys, 1<<63), reseal: true, openErr: index.ErrCorrupt},
		{name: "keys max", mutate: set64(hdrKeys, 1<<64-1), reseal: true, openErr: index.ErrCorrupt},
		{name: "keys, stale checksum", mutate: add64(hdrKeys, 1), openErr: index.ErrCorrupt},

		{name: "buckets 0", mutate: set64(hdrBuckets, 0), reseal: true, openErr: index.ErrCorrupt},
		{name: "buckets 1: too few for the keys", mutate: set64(hdrBuckets, 1), reseal: true, openErr: index.ErrCorrupt},
		{name: "buckets +1", mutate: add64(hdrBuckets, 1), reseal: true, openErr: index.ErrCorrupt},
		{name: "buckets -1", mutate: add64(hdrBuckets, -1), reseal: true, openErr: index.ErrCorrupt},
		{name: "buckets 2^58", mutate: set64(hdrBuckets, 1<<58), reseal: true, openErr: index.ErrCorrupt},
		{name: "buckets 2^61", mutate: set64(hdrBuckets, 1<<61), reseal: true, openErr: index.ErrCorrupt},
		{name: "buckets max", mutate: set64(hdrBuckets, 1<<64-1), reseal: true, openErr: index.ErrCorrupt},
		{name: "buckets, stale checksum", mutate: add64(hdrBuckets, 1), openErr: index.ErrCorrupt},

		{name: "key bytes +1", mutate: add64(hdrKeyBytes, 1), reseal: true, either: true},
		{name: "key bytes -1", mutate: add64(hdrKeyBytes, -1), reseal: true, either: true},
		{name: "key bytes 2^32+1 with 4-byte offsets", mutate: set64(hdrKeyBytes, 1<<32+1), reseal: true, openErr: index.ErrCorrupt},
		{name: "key bytes 2^40", mutate: set64(hdrKeyBytes, 1<<40), reseal: true, openErr: index.ErrCorrupt},
		{name: "key bytes above MaxKeyBytes with 8-byte offsets", mutate: both(set64(hdrKeyBytes, index.MaxKeyBytes+1), set8(hdrOffsetWidth, 8)), reseal: true, openErr: index.ErrCorrupt},
		{name: "key bytes max", mutate: set64(hdrKeyBytes, 1<<64-1), reseal: true, openErr: index.ErrCorrupt},
		{name: "key bytes, stale checksum", mutate: add64(hdrKeyBytes, 1), openErr: index.ErrCorrupt},

		{name: "hash key", mutate: func(b []byte) { b[hdrHashKey+3] ^= 0x10 }, reseal: true},
		{name: "hash key k1", mutate: func(b []byte) { b[hdrHashKey+15] ^= 0x80 }, reseal: true},
		{name: "hash key, stale checksum", mutate: func(b []byte) { b[hdrHashKey] ^= 1 }, openErr: index.ErrCorrupt},

		{name: "offset width 8", mutate: set8(hdrOffsetWidth, 8), reseal: true, either: true},
		{name: "length width 2", mutate: set8(hdrLengthWidth, 2), reseal: true, either: true},
		{name: "longest key +1", mutate: add32(hdrMaxKeyLen, 1), reseal: true, either: true},
		{name: "longest key -1", mutate: add32(hdrMaxKeyLen, -1), reseal: true, either: true},
		{name: "longest key 0", mutate: set32(hdrMaxKeyLen, 0), reseal: true, openErr: index.ErrCorrupt},
		{name: "longest key 256 with 1-byte lengths", mutate: set32(hdrMaxKeyLen, 256), reseal: true, openErr: index.ErrCorrupt},
		{name: "longest key 65536", mutate: both(set32(hdrMaxKeyLen, 65536), set8(hdrLengthWidth, 2)), reseal: true, openErr: index.ErrCorrupt},
		{name: "longest key max", mutate: set32(hdrMaxKeyLen, 1<<32-1), reseal: true, openErr: index.ErrCorrupt},
		{name: "longest key, stale checksum", mutate: add32(hdrMaxKeyLen, 1), openErr: index.ErrCorrupt},
	}
	for _, w := range []byte{0, 1, 2, 3, 5, 7, 16, 255} {
		cs = append(cs, headerDamage{name: fmt.Sprintf("offset width %d", w), mutate: set8(hdrOffsetWidth, w), reseal: true, openErr: index.ErrCorrupt})
	}
	for _, w := range []byte{0, 3, 4, 8, 255} {
		cs = append(cs, headerDamage{name: fmt.Sprintf("length width %d", w), mutate: set8(hdrLengthWidth, w), reseal: true, openErr: index.ErrCorrupt})
	}
	for i := range len(index.Magic) {
		cs = append(cs, headerDamage{name: fmt.Sprintf("magic byte %d", i), mutate: func(b []byte) { b[hdrMagic+i] ^= 0x20 }, openErr: index.ErrNotIndex})
	}
	for _, at := range []int{hdrReserved1, hdrReserved1 + 1, hdrReserved2, hdrReserved2 + 17, hdrCRC - 1} {
		cs = append(cs, headerDamage{name: fmt.Sprintf("reserved byte %d", at), mutate: set8(at, 1), reseal: true, openErr: index.ErrCorrupt})
	}
	// The section checksums, in file order from byte 72: Verify must
	// report the section whose checksum no longer matches.
	for s := index.SectionBuckets; s < index.NumSections; s++ {
		at := hdrSectionCRC + 4*int(s-index.SectionBuckets)
		cs = append(cs,
			headerDamage{name: s.String() + " checksum", mutate: add32(at, 1), reseal: true, section: s.String()},
			headerDamage{name: s.String() + " checksum, high byte", mutate: func(b []byte) { b[at+3] ^= 0x80 }, reseal: true, section: s.String()},
		)
	}
	return cs
}

// TestHeaderDamage damages each header field of a valid file in turn, with
// and without recomputing the header checksum, so that the checks at Open
// are exercised and not only the checksum.
func TestHeaderDamage(t *testing.T) {
	good := fixture(t)
	probes := fixtureProbes(fixtureKeys)
	for _, tc := range headerDamages() {
		t.Run(tc.name, func(t *testing.T) {
			data := slices.Clone(good)
			tc.mutate(data)
			if tc.reseal {
				resealHeader(data)
			}
			if bytes.Equal(data, good) {
				t.Fatal("the damage changed nothing")
			}
			path := writeTemp(t, "damaged.stru", data)
			r, err := reader.Open(path)
			switch {
			case tc.openErr != nil:
				if err == nil {
					r.Close()
					t.Fatalf("Open succeeded, want %v", tc.openErr)
				}
				checkFileErr(t, path, err, tc.openErr)
				_, err = reader.FromBytes(data)
				checkFileErr(t, "", err, tc.openErr)
				return
			case tc.either && err != nil:
				t.Logf("Open: %v", err)
				checkFileErr(t, path, err, index.ErrCorrupt)
				return
			case err != nil:
				t.Fatalf("Open: %v, want success", err)
			}
			defer r.Close()
			exercise(t, r, probes)
			if tc.valid {
				if err := r.Verify(); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				checkSet(t, r, sortedCopy(fixtureKeys), nil, nil)
				return
			}
			checkVerifyFails(t, r, path, tc.section)
		})
	}
}

func sortedCopy(keys [][]byte) [][]byte {
	s := slices.Clone(keys)
	slices.SortFunc(s, bytes.Compare)
	return s
}

// sectionPositions returns byte offsets to damage in each section: its
// first, middle and last byte, and the first and last byte of its padding.
func sectionPositions(l index.Layout) map[index.Section][]uint64 {
	pos := map[index.Section][]uint64{}
	for s := index.SectionBuckets; s < index.NumSections; s++ {
		e := l[s]
		if e.Size > 0 {
			pos[s] = append(pos[s], e.Off, e.Off+e.Size/2, e.Off+e.Size-1)
		}
		if e.End > e.Off+e.Size {
			pos[s] = append(pos[s], e.Off+e.Size, e.End-1)
		}
	}
	return pos
}

// TestSectionDamage damages bytes of each section, and of its padding: Open
// still succeeds, since it reads only the header, but Verify names the
// section, and lookups stay safe. With the section's checksum recomputed,
// Verify's structural checks must catch the damage instead.
func TestSectionDamage(t *testing.T) {
	good := fixture(t)
	probes := fixtureProbes(fixtureKeys)
	l := layoutOf(t, good)
	for s, positions := range sectionPositions(l) {
		for _, at := range positions {
			for _, reseal := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/byte %d/reseal=%v", s, at, reseal), func(t *testing.T) {
					data := slices.Clone(good)
					data[at] ^= 0xff
					want := s.String()
					if reseal {
						resealSection(t, data, s)
						want = "" // the structural check that fails may be in any section
					}
					path := writeTemp(t, "damaged.stru", data)
					r, err := reader.Open(path)
					if err != nil {
						t.Fatalf("Open: %v (the header is intact)", err)
					}
					defer r.Close()
					exercise(t, r, probes)
					checkVerifyFails(t, r, path, want)
				})
			}
		}
	}
	// Every section has been damaged, and every padding region.
	if n := len(sectionPositions(l)); n != int(index.NumSections-index.SectionBuckets) {
		t.Errorf("damaged %d sections", n)
	}
}

// TestEveryBitFlip flips every bit of small files: each flip is caught by
// Open or by Verify, and lookups never panic. A second pass recomputes the
// checksums after each flip in the sections, so that Verify's structural
// checks alone must catch it.
func TestEveryBitFlip(t *testing.T) {
	for _, keys := range [][][]byte{tinyKeys, fixtureKeys} {
		good := buildIndex(t, keys, builder.Options{HashKey: &fixedKey})
		l := layoutOf(t, good)
		probes := fixtureProbes(keys)
		dir := t.TempDir()
		for at := range len(good) {
			for bit := range 8 {
				data := slices.Clone(good)
				data[at] ^= 1 << bit
				var r *reader.Reader
				var err error
				path := ""
				if bit == 0 {
					// Once per byte through a real file.
					path = filepath.Join(dir, fmt.Sprintf("flip%d.stru", at))
					if err := os.WriteFile(path, data, 0o644); err != nil {
						t.Fatal(err)
					}
					r, err = reader.Open(path)
				} else {
					r, err = reader.FromBytes(data)
				}
				if err != nil {
					if !errors.Is(err, index.ErrNotIndex) && !errors.Is(err, index.ErrVersion) && !errors.Is(err, index.ErrCorrupt) {
						t.Fatalf("byte %d bit %d: Open: %v", at, bit, err)
					}
					continue
				}
				if at < index.HeaderSize {
					t.Fatalf("byte %d bit %d: header damage passed Open", at, bit)
				}
				exercise(t, r, probes)
				if err := r.Verify(); !errors.Is(err, index.ErrCorrupt) {
					t.Fatalf("byte %d bit %d: Verify: %v, want ErrCorrupt", at, bit, err)
				}
				r.Close()
			}
		}
		// Sections, with checksums recomputed.
		for s := index.SectionBuckets; s < index.NumSections; s++ {
			for at := l[s].Off; at < l[s].End; at++ {
				for bit := range 8 {
					data := slices.Clone(good)
					data[at] ^= 1 << bit
					resealSection(t, data, s)
					r, err := reader.FromBytes(data)
					if err != nil {
						t.Fatalf("%s byte %d bit %d, resealed: FromBytes: %v", s, at, bit, err)
					}
					exercise(t, r, probes)
					if err := r.Verify(); !errors.Is(err, index.ErrCorrupt) {
						t.Fatalf("%s byte %d bit %d, checksum recomputed: Verify: %v, want ErrCorrupt", s, at, bit, err)
					}
				}
			}
		}
	}
}

// assemble returns a file with header h, whose counts and widths must be
// consistent, and the given contents of the buckets, offsets, lengths and
// keys sections (each exactly its section's size), with the file size,
// version, and every checksum filled in to match: a file that passes Open
// whatever its sections hold.
func assemble(t testing.TB, h index.Header, sections [4][]byte) []byte {
	t.Helper()
	l, ok := index.ComputeLayout(h.Keys, h.Buckets, h.KeyBytes, 0, h.OffsetWidth, h.LengthWidth)
	if !ok {
		t.Fatalf("no layout for %+v", h)
	}
	data := make([]byte, l.FileSize())
	for i, sec := range sections {
		s := index.SectionBuckets + index.Section(i)
		e := l[s]
		if uint64(len(sec)) != e.Size {
			t.Fatalf("section %v: %d bytes, the layout says %d", s, len(sec), e.Size)
		}
		copy(data[e.Off:], sec)
		h.SectionCRC[i] = index.Checksum(data[e.Off:e.End])
	}
	h.Version = index.Version
	h.FileSize = l.FileSize()
	h.Encode(data)
	return data
}

// A placement chooses the bucket and slot of the key with ordinal ord,
// whose buckets are b1 and b2, given the used slots of each bucket.
type placement func(ord int, b1, b2 uint64, fill []int) (bucket uint64, slot int)

// prescribed is the placement format.md §4 prescribes: the first free slot
// of the first bucket if it has room, else of the second.
func prescribed(ord int, b1, b2 uint64, fill []int) (uint64, int) {
	if fill[b1] < index.BucketSlots {
		return b1, fill[b1]
	}
	return b2, fill[b2]
}

// crafted is a file craft is writing, section by section, before assemble
// computes its checksums: an edit may change any of it.
type crafted struct {
	h                                index.Header
	slots, offsets, lengths, keyData []byte
	hashes, starts                   []uint64 // of each ordinal's key: its hash and offset in keyData
	slotOf                           []uint64 // of each ordinal's key: its slot number, bucket × 8 + position
}

// setSlot sets slot number j to s.
func (c *crafted) setSlot(j, s uint64) { le.PutUint64(c.slots[j*index.SlotSize:], s) }

// craft returns a file holding keys as ordinals 0, 1, …, in the order given
// (which need not be sorted), their slots placed by place.
func craft(t testing.TB, keys [][]byte, buckets uint64, hk index.HashKey, place placement) []byte {
	t.Helper()
	return craftEdited(t, keys, buckets, hk, place, nil)
}

// craftEdited is craft, with edit (if not nil) applied to the sections
// before the checksums are computed. Each slot is written as format.md §4
// says: the key's tag, length field and offset+1.
func craftEdited(t testing.TB, keys [][]byte, buckets uint64, hk index.HashKey, place placement, edit func(c *crafted)) []byte {
	t.Helper()
	c := &crafted{h: index.Header{Keys: uint64(len(keys)), Buckets: buckets, HashKey: hk}}
	h := &c.h
	for _, k := range keys {
		h.KeyBytes += uint64(len(k))
		h.MaxKeyLen = max(h.MaxKeyLen, uint32(len(k)))
	}
	h.OffsetWidth, h.LengthWidth = index.OffsetWidth(h.KeyBytes), index.LengthWidth(h.MaxKeyLen)
	c.slots = make([]byte, buckets*index.BucketSize)
	fill := make([]int, buckets)
	k0, k1 := hk.Halves()
	for ord, k := range keys {
		hash := index.Hash(k0, k1, k)
		b1, b2 := index.Buckets(hash, buckets)
		b, i := place(ord, b1, b2, fill)
		if i >= index.BucketSlots {
			t.Fatalf("key %q: no room in bucket %d", k, b)
		}
		j := b*index.BucketSlots + uint64(i)
		start := uint64(len(c.keyData))
		c.setSlot(j, index.MakeSlot(hash, uint64(len(k)), start))
		fill[b] = max(fill[b], i+1)
		c.hashes, c.starts, c.slotOf = append(c.hashes, hash), append(c.starts, start), append(c.slotOf, j)
		c.offsets = le.AppendUint32(c.offsets, uint32(start))
		if h.LengthWidth == 1 {
			c.lengths = append(c.lengths, byte(len(k)))
		} else {
			c.lengths = le.AppendUint16(c.lengths, uint16(len(k)))
		}
		c.keyData = append(c.keyData, k...)
	}
	if edit != nil {
		edit(c)
	}
	return assemble(t, c.h, [4][]byte{c.slots, c.offsets, c.lengths, c.keyData})
}

// TestCrafted checks files written by craft, an independent writer of the
// format: sorted keys give a valid file identical to the builder's, while
// keys out of order, or repeated, are found by their hash but fail Verify.
func TestCrafted(t *testing.T) {
	sorted := sortedCopy(fixtureKeys)
	buckets := index.BucketCount(uint64(len(sorted)), builder.MinLoadFactor)

	t.Run("sorted", func(t *testing.T) {
		data := craft(t, sorted, buckets, fixedKey, prescribed)
		// craft writes no filter.
		built := buildIndex(t, fixtureKeys, builder.Options{HashKey: &fixedKey, LoadFactor: builder.MinLoadFactor, FilterBitsPerKey: -1})
		if !bytes.Equal(data, built) {
			t.Errorf("crafted file (%d bytes) differs from the builder's (%d bytes)", len(data), len(built))
		}
		for _, nr := range openReaders(t, data) {
			checkSet(t, nr.r, sorted, [][]byte{[]byte("zz")}, [][]byte{[]byte("ap")})
		}
	})
	bad := map[string][][]byte{
		"reversed":          reversed(sorted),
		"two swapped":       swapped(sorted, 3, 4),
		"duplicate key":     append(slices.Clone(sorted[:5]), sorted[4:]...),
		"duplicate at head": append([][]byte{sorted[0]}, sorted...),
	}
	for name, keys := range bad {
		t.Run(name, func(t *testing.T) {
			data := craft(t, keys, buckets, fixedKey, prescribed)
			for _, nr := range openReaders(t, data) {
				r := nr.r
				exercise(t, r, fixtureProbes(keys))
				// Lookups go through the hash: each key is found, at
				// the ordinal whose offset is the key's (craft writes
				// ascending offsets whatever the order of the keys):
				// its ordinal in this file or, when repeated, the first
				// of its ordinals. The empty key is always ordinal 0,
				// where a sorted file has it.
				for ord, k := range keys {
					got, ok := r.Lookup(k)
					want := slices.IndexFunc(keys, func(x []byte) bool { return bytes.Equal(x, k) })
					if len(k) == 0 {
						want = 0
					}
					if !ok || got != want {
						t.Fatalf("%s: Lookup(%q) = %d, %v; want %d (key %d)", nr.how, k, got, ok, want, ord)
					}
				}
				if err := r.Verify(); !errors.Is(err, index.ErrCorrupt) {
					t.Fatalf("%s: Verify: %v, want ErrCorrupt", nr.how, err)
				}
			}
		})
	}
}

// TestMisplaced checks that Verify catches slots that break the placement
// rule Find relies on, in files that are otherwise valid.
func TestMisplaced(t *testing.T) {
	sorted := sortedCopy(fixtureKeys)
	buckets := index.BucketCount(uint64(len(sorted)), builder.MinLoadFactor)
	// victim is the first key whose two buckets differ.
	victim := -1
	k0, k1 := fixedKey.Halves()
	for i, k := range sorted {
		if b1, b2 := index.Buckets(index.Hash(k0, k1, k), buckets); b1 != b2 {
			victim = i
			break
		}
	}
	if victim < 0 {
		t.Fatal("every key has equal buckets")
	}
	cases := map[string]placement{
		"second bucket while the first has room": func(ord int, b1, b2 uint64, fill []int) (uint64, int) {
			if ord == victim {
				return b2, fill[b2]
			}
			return prescribed(ord, b1, b2, fill)
		},
		"slot after an empty slot": func(ord int, b1, b2 uint64, fill []int) (uint64, int) {
			if ord == victim {
				return b1, fill[b1] + 1
			}
			return prescribed(ord, b1, b2, fill)
		},
		"in neither bucket": func(ord int, b1, b2 uint64, fill []int) (uint64, int) {
			if ord == victim {
				b := b1
				for b == b1 || b == b2 {
					b = (b + 1) % buckets
				}
				return b, fill[b]
			}
			return prescribed(ord, b1, b2, fill)
		},
	}
	for name, place := range cases {
		t.Run(name, func(t *testing.T) {
			data := craft(t, sorted, buckets, fixedKey, place)
			for _, nr := range openReaders(t, data) {
				exercise(t, nr.r, fixtureProbes(sorted))
				err := nr.r.Verify()
				var fe *index.FormatError
				if !errors.Is(err, index.ErrCorrupt) || !errors.As(err, &fe) || fe.Section != "buckets" {
					t.Fatalf("%s: Verify: %v, want ErrCorrupt in the buckets", nr.how, err)
				}
			}
		})
	}
}

// TestCraftedSlots damages one slot, offset table entry or length table
// entry of a crafted file at a time, checksums recomputed: Verify must
// name the section at fault, and the lookups give the answers format.md
// §4 and §5 say a lookup of that file gives. A key shorter than
// index.LongKey bytes is found through its slot's tag, length field and
// offset alone, and its ordinal is the one whose offset table entry is
// that offset; a longer key is compared with the key of that ordinal. The
// length table is read by neither.
func TestCraftedSlots(t *testing.T) {
	keys := sortedCopy(fixtureKeys)
	buckets := index.BucketCount(uint64(len(keys)), builder.MinLoadFactor)
	ordOf := func(k string) int {
		i, ok := slices.BinarySearchFunc(keys, []byte(k), bytes.Compare)
		if !ok {
			t.Fatalf("the fixture lacks %q", k)
		}
		return i
	}
	empty, one, apple, banana := ordOf(""), ordOf("a"), ordOf("apple"), ordOf("banana")
	// a and w are two keys of the same length, at least 2 bytes and
	// short; long is the long key.
	a, w, long := -1, -1, slices.IndexFunc(keys, func(k []byte) bool { return len(k) >= index.LongKey })
	for i := range keys {
		for j := range keys {
			if a < 0 && i != j && len(keys[i]) >= 2 && len(keys[i]) < index.LongKey && len(keys[i]) == len(keys[j]) {
				a, w = i, j
			}
		}
	}
	if a < 0 || long < 0 || !bytes.HasPrefix(keys[apple], keys[one]) || keys[banana][1] != keys[one][0] {
		t.Fatal("the fixture lacks the keys this test needs")
	}
	t.Logf("short keys %q and %q, long key of %d bytes", keys[a], keys[w], len(keys[long]))
	// wants checks what Contains and Lookup answer for key k.
	wants := func(t *testing.T, r *reader.Reader, k int, contains bool, ord int, lookup bool) {
		t.Helper()
		if got := r.Contains(keys[k]); got != contains {
			t.Errorf("Contains(key %d %.20q) = %v, want %v", k, keys[k], got, contains)
		}
		if got, ok := r.Lookup(keys[k]); ok != lookup || (ok && got != ord) {
			t.Errorf("Lookup(key %d %.20q) = %d, %v; want %d, %v", k, keys[k], got, ok, ord, lookup)
		}
	}
	// others checks that every key but those listed is found at its ordinal.
	others := func(t *testing.T, r *reader.Reader, except ...int) {
		t.Helper()
		for i := range keys {
			if !slices.Contains(except, i) {
				wants(t, r, i, true, i, true)
			}
		}
	}
	// hidden is the check of a damage that hides key k and nothing else.
	hidden := func(k int) func(t *testing.T, r *reader.Reader) {
		return func(t *testing.T, r *reader.Reader) {
			wants(t, r, k, false, 0, false)
			others(t, r, k)
		}
	}
	size := func(i int) uint64 { return uint64(len(keys[i])) }
	cases := []struct {
		name    string
		edit    func(c *crafted)
		section []string // the sections Verify may name
		check   func(t *testing.T, r *reader.Reader)
	}{
		{
			name:    "slot points at another key of the same length",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[a], index.MakeSlot(c.hashes[a], size(a), c.starts[w])) },
			section: []string{"buckets"},
			check:   hidden(a),
		},
		{
			name:    "slot's length field one more",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[a], index.MakeSlot(c.hashes[a], size(a)+1, c.starts[a])) },
			section: []string{"buckets"},
			check:   hidden(a),
		},
		{
			name:    "slot's length field LongKey",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[a], index.MakeSlot(c.hashes[a], index.LongKey, c.starts[a])) },
			section: []string{"buckets"},
			check:   hidden(a),
		},
		{
			name:    "slot's tag differs in its lowest bit",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[a], index.MakeSlot(c.hashes[a]^1, size(a), c.starts[a])) },
			section: []string{"buckets"},
			check:   hidden(a),
		},
		{
			name: "slot's tag differs in its highest bit",
			edit: func(c *crafted) {
				c.setSlot(c.slotOf[a], index.MakeSlot(c.hashes[a]^(1<<(index.TagBits-1)), size(a), c.starts[a]))
			},
			section: []string{"buckets"},
			check:   hidden(a),
		},
		{
			// The key's tag and length with offset+1 = 0: offset 2^64-1,
			// and offset+length wraps to a small number.
			name:    "slot's offset field 0",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[a], index.Match(c.hashes[a], size(a))<<index.OffsetBits) },
			section: []string{"buckets"},
			check:   hidden(a),
		},
		{
			name:    "slot's key ends one byte past the key data",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[a], index.MakeSlot(c.hashes[a], size(a), c.h.KeyBytes-size(a)+1)) },
			section: []string{"buckets"},
			check:   hidden(a),
		},
		{
			name:    "slot's offset MaxKeyBytes",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[a], index.MakeSlot(c.hashes[a], size(a), index.MaxKeyBytes)) },
			section: []string{"buckets"},
			check:   hidden(a),
		},
		{
			name:    "another key's slot in place of a key's",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[w], index.MakeSlot(c.hashes[a], size(a), c.starts[a])) },
			section: []string{"buckets"},
			check:   hidden(w),
		},
		{
			// "a" is the first byte of "apple": found, at apple's ordinal.
			name:    "slot points at the first byte of a longer key",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[one], index.MakeSlot(c.hashes[one], size(one), c.starts[apple])) },
			section: []string{"buckets"},
			check: func(t *testing.T, r *reader.Reader) {
				wants(t, r, one, true, apple, true)
				others(t, r, one)
			},
		},
		{
			// "a" is the second byte of "banana": found, but no key starts there.
			name: "slot points inside another key",
			edit: func(c *crafted) {
				c.setSlot(c.slotOf[one], index.MakeSlot(c.hashes[one], size(one), c.starts[banana]+1))
			},
			section: []string{"buckets"},
			check: func(t *testing.T, r *reader.Reader) {
				wants(t, r, one, true, 0, false)
				others(t, r, one)
			},
		},
		{
			// The empty key is at every offset, and its ordinal is 0.
			name:    "empty key's slot offset changed",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[empty], index.MakeSlot(c.hashes[empty], 0, c.starts[banana])) },
			section: []string{"buckets"},
			check:   func(t *testing.T, r *reader.Reader) { others(t, r) },
		},
		{
			// A long key is compared with the key whose offset is the
			// slot's: here another key's.
			name:    "long key's slot points at another key",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[long], index.MakeSlot(c.hashes[long], size(long), c.starts[a])) },
			section: []string{"buckets"},
			check:   hidden(long),
		},
		{
			name:    "long key's slot offset field 0",
			edit:    func(c *crafted) { c.setSlot(c.slotOf[long], index.Match(c.hashes[long], size(long))<<index.OffsetBits) },
			section: []string{"buckets"},
			check:   hidden(long),
		},
		{
			// The table stays ascending, but no ordinal has the offset of
			// the long key, whose lookup needs one.
			name:    "long key's offset table entry one more",
			edit:    func(c *crafted) { le.PutUint32(c.offsets[4*long:], uint32(c.starts[long]+1)) },
			section: []string{"offsets"},
			check:   hidden(long),
		},
		{
			// The short key is present, but has no ordinal.
			name:    "short key's offset table entry one more",
			edit:    func(c *crafted) { le.PutUint32(c.offsets[4*a:], uint32(c.starts[a]+1)) },
			section: []string{"offsets"},
			check: func(t *testing.T, r *reader.Reader) {
				wants(t, r, a, true, 0, false)
				others(t, r, a)
			},
		},
		{
			name: "short key's length table entry one more",
			edit: func(c *crafted) { c.lengths[a]++ },
			// The next key's offset no longer follows, which Verify may see first.
			section: []string{"lengths", "offsets"},
			check:   func(t *testing.T, r *reader.Reader) { others(t, r) },
		},
		{
			name: "long key's length table entry one less",
			edit: func(c *crafted) { c.lengths[long]-- },
			// The next key's offset no longer follows, which Verify may see first.
			section: []string{"lengths", "offsets"},
			check:   func(t *testing.T, r *reader.Reader) { others(t, r) },
		},
	}
	good := craft(t, keys, buckets, fixedKey, prescribed)
	for _, nr := range openReaders(t, good) {
		if err := nr.r.Verify(); err != nil {
			t.Fatalf("%s: the undamaged crafted file: Verify: %v", nr.how, err)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := craftEdited(t, keys, buckets, fixedKey, prescribed, tc.edit)
			if bytes.Equal(data, good) {
				t.Fatal("the edit changed nothing")
			}
			for _, nr := range openReaders(t, data) {
				t.Run(nr.how, func(t *testing.T) {
					exercise(t, nr.r, fixtureProbes(keys))
					tc.check(t, nr.r)
					err := nr.r.Verify()
					var fe *index.FormatError
					if !errors.Is(err, index.ErrCorrupt) || !errors.As(err, &fe) || !slices.Contains(tc.section, fe.Section) {
						t.Fatalf("Verify: %v, want ErrCorrupt in the %s", err, strings.Join(tc.section, " or "))
					}
				})
			}
		})
	}
}

func reversed(keys [][]byte) [][]byte {
	s := slices.Clone(keys)
	slices.Reverse(s)
	return s
}

func swapped(keys [][]byte, i, j int) [][]byte {
	s := slices.Clone(keys)
	s[i], s[j] = s[j], s[i]
	return s
}

// A hostileShape is the header of a hostile file: counts and widths that
// pass Open.
type hostileShape struct {
	keys, buckets, keyBytes  uint64
	offsetWidth, lengthWidth uint8
	maxKeyLen                uint32
}

var hostileShapes = []hostileShape{
	{keys: 20, buckets: 4, keyBytes: 100, offsetWidth: 4, lengthWidth: 1, maxKeyLen: 255},
	{keys: 20, buckets: 3, keyBytes: 300, offsetWidth: 8, lengthWidth: 2, maxKeyLen: 65535},
	{keys: 1, buckets: 1, keyBytes: 0, offsetWidth: 4, lengthWidth: 1, maxKeyLen: 0},
	{keys: 0, buckets: 2, keyBytes: 0, offsetWidth: 8, lengthWidth: 2, maxKeyLen: 0},
	{keys: 64, buckets: 8, keyBytes: 1000, offsetWidth: 4, lengthWidth: 2, maxKeyLen: 300},
}

// header returns a header of the shape with hash key hk.
func (s hostileShape) header(hk index.HashKey) index.Header {
	return index.Header{Keys: s.keys, Buckets: s.buckets, KeyBytes: s.keyBytes,
		OffsetWidth: s.offsetWidth, LengthWidth: s.lengthWidth, MaxKeyLen: s.maxKeyLen, HashKey: hk}
}

// sizes returns the sizes of the shape's four sections.
func (s hostileShape) sizes() [4]int {
	return [4]int{int(s.buckets * index.BucketSize), int(s.keys) * int(s.offsetWidth), int(s.keys) * int(s.lengthWidth), int(s.keyBytes)}
}

// TestHostileFiles opens files whose header and checksums are all
// consistent but whose sections are garbage chosen to mislead: Open
// succeeds, Verify fails, and lookups neither panic nor read outside the
// file.
func TestHostileFiles(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 99))
	probes := fixtureProbes(fixtureKeys)
	for si, shape := range hostileShapes {
		hk := index.HashKey{byte(si), 1, 2, 3}
		h := shape.header(hk)
		sz := shape.sizes()
		k0, k1 := hk.Halves()
		fill := func(b []byte, v byte) []byte {
			for i := range b {
				b[i] = v
			}
			return b
		}
		// extreme returns offsets and lengths at and near the largest
		// values their widths hold, so that offset+length overflows.
		extreme := func() (offsets, lengths []byte) {
			offsets, lengths = make([]byte, sz[1]), make([]byte, sz[2])
			for i := range int(shape.keys) {
				switch w := shape.offsetWidth; {
				case w == 4:
					le.PutUint32(offsets[4*i:], []uint32{1<<32 - 1, 1<<32 - 255, uint32(shape.keyBytes), 0}[i%4])
				default:
					le.PutUint64(offsets[8*i:], []uint64{1<<64 - 1, 1<<64 - 255, 1<<64 - 65535, shape.keyBytes, 1 << 63}[i%5])
				}
				// Lengths of the probes, so that lookups get past the
				// length comparison to the bounds checks, and the largest.
				n := uint16(i % 12)
				if i%12 == 11 {
					n = 1<<(8*shape.lengthWidth) - 1
				}
				if shape.lengthWidth == 1 {
					lengths[i] = byte(n)
				} else {
					le.PutUint16(lengths[2*i:], n)
				}
			}
			return offsets, lengths
		}
		// ascending returns an offset table of random offsets in the key
		// data, in ascending order, so that the searches for a
		// key's ordinal find some.
		ascending := func() []byte {
			offs := make([]uint64, shape.keys)
			for i := range offs {
				offs[i] = rng.Uint64N(shape.keyBytes + 1)
			}
			slices.Sort(offs)
			b := make([]byte, sz[1])
			for i, o := range offs {
				if shape.offsetWidth == 4 {
					le.PutUint32(b[4*i:], uint32(o))
				} else {
					le.PutUint64(b[8*i:], o)
				}
			}
			return b
		}
		// aimed returns buckets in which both buckets of every probe are
		// full of slots with the probe's tag and length field, and an
		// offset+1 field that is 0 (offset 2^64-1), in the key data, at
		// its end, or past it.
		aimed := func() []byte {
			b := make([]byte, sz[0])
			for _, p := range probes {
				hash := index.Hash(k0, k1, p)
				b1, b2 := index.Buckets(hash, shape.buckets)
				n := uint64(len(p))
				fields := []uint64{0, 1, shape.keyBytes + 1, shape.keyBytes + 2, 1<<index.OffsetBits - 1, 1 + rng.Uint64N(shape.keyBytes+1)}
				if n <= shape.keyBytes {
					fields = append(fields, shape.keyBytes-n+1, shape.keyBytes-n+2)
				}
				for _, bk := range []uint64{b1, b2} {
					for i := range index.BucketSlots {
						slot := index.Match(hash, n)<<index.OffsetBits | fields[rng.IntN(len(fields))]
						le.PutUint64(b[bk*index.BucketSize+uint64(i)*index.SlotSize:], slot)
					}
				}
			}
			return b
		}
		// probeData returns key data made of the probes, so that slots
		// aimed into it can find them.
		probeData := func() []byte {
			b := make([]byte, 0, sz[3])
			for len(b) < sz[3] {
				p := probes[rng.IntN(len(probes))]
				b = append(b, p[:min(len(p), sz[3]-len(b))]...)
			}
			return b
		}
		random := func(n int) []byte { return randBytes(rng, n) }
		zero := func(n int) []byte { return make([]byte, n) }
		cases := map[string]func() [4][]byte{
			"random": func() [4][]byte { return [4][]byte{random(sz[0]), random(sz[1]), random(sz[2]), random(sz[3])} },
			"all 0xff": func() [4][]byte {
				return [4][]byte{fill(random(sz[0]), 0xff), fill(random(sz[1]), 0xff), fill(random(sz[2]), 0xff), fill(random(sz[3]), 0xff)}
			},
			"aimed slots, extreme offsets": func() [4][]byte {
				o, l := extreme()
				return [4][]byte{aimed(), o, l, random(sz[3])}
			},
			"aimed slots, extreme offsets, key data of the probes": func() [4][]byte {
				o, l := extreme()
				return [4][]byte{aimed(), o, l, probeData()}
			},
			"aimed slots, ascending offsets, key data of the probes": func() [4][]byte {
				return [4][]byte{aimed(), ascending(), random(sz[2]), probeData()}
			},
			"aimed slots, random tables": func() [4][]byte {
				return [4][]byte{aimed(), random(sz[1]), random(sz[2]), random(sz[3])}
			},
			"aimed slots, zero tables": func() [4][]byte {
				return [4][]byte{aimed(), zero(sz[1]), zero(sz[2]), zero(sz[3])}
			},
			"empty slots, random tables": func() [4][]byte {
				return [4][]byte{zero(sz[0]), random(sz[1]), random(sz[2]), random(sz[3])}
			},
		}
		if shape.keys == 0 {
			delete(cases, "empty slots, random tables") // no keys, no slots: a valid file
		}
		for name, gen := range cases {
			t.Run(fmt.Sprintf("shape %d/%s", si, name), func(t *testing.T) {
				for range 20 {
					data := assemble(t, h, gen())
					for _, nr := range openReaders(t, data) {
						exercise(t, nr.r, probes)
						if err := nr.r.Verify(); !errors.Is(err, index.ErrCorrupt) {
							t.Fatalf("%s: Verify: %v, want ErrCorrupt", nr.how, err)
						}
					}
				}
			})
		}
	}
}

// TestWrappingOffsets opens hostile files in which every position a
// lookup reads wraps past 2^64 to a small number, with a span of exactly
// the probe's length, so that a bounds check on the span's end alone, or
// on its length alone, would pass. Every probe finds slots with its tag
// and length field whose offset+1 field is 0: offset 2^64-1, which for a
// short probe wraps to offset+length = length-1, inside the key data. A
// long probe's ordinal is then the last one whose offset table entry is at
// most 2^64-1: the last ordinal, whose entry is 2^64-1 and whose key runs
// to the end of the key data, one byte shorter than the probe, so that the
// span's length wraps to the probe's length. The other 8-byte entries come
// in pairs 2^64-x, n-x: spans of n bytes that wrap. No key can be read:
// every lookup is false and every Key nil.
func TestWrappingOffsets(t *testing.T) {
	for _, longLen := range []int{index.LongKey, 300, 1000} {
		t.Run(fmt.Sprintf("long probe of %d bytes", longLen), func(t *testing.T) {
			probes := append(fixtureProbes(fixtureKeys), bytes.Repeat([]byte{'w'}, longLen))
			pairs := len(probes)
			shape := hostileShape{keys: uint64(2*pairs + 1), buckets: 64, keyBytes: uint64(longLen - 1), offsetWidth: 8, lengthWidth: 2, maxKeyLen: 1000}
			hk := index.HashKey{9, 9, 9}
			k0, k1 := hk.Halves()
			sz := shape.sizes()
			slots, offsets, lengths := make([]byte, sz[0]), make([]byte, sz[1]), make([]byte, sz[2])
			for i, p := range probes {
				n := uint64(len(p))
				x := 1 + uint64(i)%max(n, 1) // the span [2^64-x, n-x) ends inside the key data
				le.PutUint64(offsets[16*i:], -x)
				le.PutUint64(offsets[16*i+8:], n-x)
				le.PutUint16(lengths[4*i:], uint16(n))
			}
			le.PutUint64(offsets[sz[1]-8:], 1<<64-1)
			for _, p := range probes {
				hash := index.Hash(k0, k1, p)
				b1, b2 := index.Buckets(hash, shape.buckets)
				placed := 0
				for _, b := range []uint64{b1, b2} {
					for i := range uint64(index.BucketSlots) {
						at := b*index.BucketSize + i*index.SlotSize
						if le.Uint64(slots[at:]) == 0 && placed < 2 {
							le.PutUint64(slots[at:], index.Match(hash, uint64(len(p)))<<index.OffsetBits)
							placed++
						}
					}
				}
			}
			data := assemble(t, shape.header(hk), [4][]byte{slots, offsets, lengths, randBytes(rand.New(rand.NewPCG(1, 1)), sz[3])})
			for _, nr := range openReaders(t, data) {
				r := nr.r
				exercise(t, r, probes)
				for _, k := range probes {
					if ord, ok := r.Lookup(k); ok || r.Contains(k) {
						t.Errorf("%s: Lookup(%.20q) = %d, %v, Contains %v, from a position outside the key data", nr.how, k, ord, ok, r.Contains(k))
					}
				}
				for i := range r.Len() {
					if k := r.Key(i); k != nil {
						t.Errorf("%s: Key(%d) = %.20q, from an entry outside the key data", nr.how, i, k)
					}
				}
				if err := r.Verify(); !errors.Is(err, index.ErrCorrupt) {
					t.Errorf("%s: Verify: %v, want ErrCorrupt", nr.how, err)
				}
			}
		})
	}
}

// TestLongSpans checks that Key returns nil for an ordinal whose offset
// table entries, in the key data, span more bytes than the header's
// longest key: Key takes a key's end from the next offset (as lookups do),
// and a damaged table could otherwise make it return a "key" of up to the
// whole key data, longer than any key of the file, or than any key at all.
func TestLongSpans(t *testing.T) {
	shape := hostileShape{keys: 100, buckets: 13, keyBytes: 70000, offsetWidth: 4, lengthWidth: 2, maxKeyLen: 1000}
	for _, span := range []uint64{1001, index.MaxKeyLen + 1, 70000} {
		t.Run(fmt.Sprint(span), func(t *testing.T) {
			sz := shape.sizes()
			offsets := make([]byte, sz[1])
			for i := 1; i < int(shape.keys); i++ {
				le.PutUint32(offsets[4*i:], uint32(span)) // key 0 spans [0, span); the last, [span, keyBytes)
			}
			keys := randBytes(rand.New(rand.NewPCG(2, 2)), sz[3])
			data := assemble(t, shape.header(index.HashKey{}), [4][]byte{make([]byte, sz[0]), offsets, make([]byte, sz[2]), keys})
			for _, nr := range openReaders(t, data) {
				r := nr.r
				for i := range r.Len() {
					if k := r.Key(i); len(k) > int(shape.maxKeyLen) {
						t.Errorf("%s: Key(%d) is %d bytes, longer than the header's longest key, %d", nr.how, i, len(k), shape.maxKeyLen)
					}
				}
				exercise(t, r, fixtureProbes(fixtureKeys))
				if err := r.Verify(); !errors.Is(err, index.ErrCorrupt) {
					t.Errorf("%s: Verify: %v, want ErrCorrupt", nr.how, err)
				}
			}
		})
	}
}

// TestPrefixDamagedKey damages a key in the middle of a prefix's range,
// its bytes only, so that it no longer begins with the prefix: Prefix,
// which yields the keys of PrefixRange that begin with the prefix, must
// skip that key and go on to the ones after it, not stop at it.
func TestPrefixDamagedKey(t *testing.T) {
	prefix := []byte("p-")
	var keys [][]byte
	for i := range 100 {
		keys = append(keys, fmt.Appendf(nil, "p-%03d", i))
	}
	keys = append(keys, []byte("a"), []byte("z")) // a key below the range, one above
	good := buildIndex(t, keys, builder.Options{HashKey: &fixedKey})
	sorted := sortedCopy(keys)
	first := slices.IndexFunc(sorted, func(k []byte) bool { return bytes.HasPrefix(k, prefix) })
	for _, tt := range []struct {
		name   string
		victim int  // its ordinal among the keys
		at     int  // the byte of it that is damaged
		to     byte // what that byte becomes
	}{
		{"first byte lower", first + 40, 0, 'o'},
		{"first byte higher", first + 40, 0, 'q'},
		{"second byte", first + 60, 1, '+'},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := slices.Clone(good)
			l := layoutOf(t, data)
			keyData := data[l[index.SectionKeys].Off : l[index.SectionKeys].Off+l[index.SectionKeys].Size]
			at := bytes.Index(keyData, sorted[tt.victim])
			if at < 0 {
				t.Fatalf("key %q not in the key data", sorted[tt.victim])
			}
			keyData[at+tt.at] = tt.to
			// What Prefix yields: the keys it had, but the damaged one,
			// which no longer begins with the prefix.
			var want [][]byte
			for i, k := range sorted {
				if i != tt.victim && bytes.HasPrefix(k, prefix) {
					want = append(want, k)
				}
			}
			for _, nr := range openReaders(t, data) {
				if s, e := nr.r.PrefixRange(prefix); s > tt.victim || e <= tt.victim+1 {
					t.Fatalf("%s: PrefixRange(%q) = [%d, %d), not around the damaged key %d and the next: the test cannot tell", nr.how, prefix, s, e, tt.victim)
				}
				if got := slices.Collect(nr.r.Prefix(prefix)); !slices.EqualFunc(got, want, bytes.Equal) {
					t.Errorf("%s: Prefix(%q) yielded %d keys %q, want the %d undamaged ones", nr.how, prefix, len(got), got, len(want))
				}
			}
		})
	}
}
