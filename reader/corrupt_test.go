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
	hdrMagic       = 0
	hdrVersion     = 4
	hdrHeaderSize  = 6
	hdrIncompat    = 8
	hdrCompat      = 12
	hdrFileSize    = 16
	hdrKeys        = 24
	hdrBuckets     = 32
	hdrKeyBytes    = 40
	hdrHashKey     = 48
	hdrOffsetWidth = 64
	hdrLengthWidth = 65
	hdrReserved1   = 66 // 2 bytes
	hdrMaxKeyLen   = 68
	hdrSectionCRC  = 72 // 4 × u32: buckets, offsets, lengths, keys
	hdrReserved2   = 88 // 36 bytes
	hdrCRC         = 124
)

var le = binary.LittleEndian

// fixtureKeys is the set of the small files the damage tests start from:
// the empty key, NUL, invalid UTF-8, keys that are prefixes of others.
var fixtureKeys = [][]byte{
	{}, []byte("a"), []byte("apple"), []byte("apples"), []byte("banana"), []byte("cherry"),
	{0}, {0, 0}, {0xff}, []byte("\xc3\x28"), []byte("date"), []byte("elderberry"), []byte("fig"),
	[]byte("grape"), []byte("honeydew"), []byte("kiwi"), []byte("lemon"), []byte("mango"),
	[]byte("nectarine"), []byte("orange"),
}

// fixtureProbes are the keys the damage tests look up: every member and
// some non-members.
func fixtureProbes(keys [][]byte) [][]byte {
	probes := slices.Clone(keys)
	for _, s := range []string{"b", "ap", "apple\x00", "zzz", "\xff\xff", "\x00\x00\x00", "orangey", "\xc3"} {
		probes = append(probes, []byte(s))
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
// positive answer must be backed by the file: Lookup(k) = i, true only if
// Key(i) is k.
func exercise(t testing.TB, r *reader.Reader, probes [][]byte) {
	t.Helper()
	n := r.Len()
	for _, k := range probes {
		ord, ok := r.Lookup(k)
		if c, cs := r.Contains(k), r.ContainsString(string(k)); c != ok || cs != ok {
			t.Fatalf("%q: Contains %v, ContainsString %v, Lookup %v disagree", k, c, cs, ok)
		}
		if ok && (ord < 0 || ord >= n || !bytes.Equal(r.Key(ord), k)) {
			t.Fatalf("Lookup(%q) = %d, true, but Key(%d) = %q (Len %d)", k, ord, ord, r.Key(ord), n)
		}
		for i := 0; i <= len(k); i++ {
			for got := range r.Prefix(k[:i]) {
				if !bytes.HasPrefix(got, k[:i]) {
					t.Fatalf("Prefix(%q) yielded %q", k[:i], got)
				}
			}
			if s, e := r.PrefixRange(k[:i]); s < 0 || s > e || e > n {
				t.Fatalf("PrefixRange(%q) = [%d, %d) with Len %d", k[:i], s, e, n)
			}
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
		{name: "version 2", mutate: set16(hdrVersion, 2), openErr: index.ErrVersion},
		{name: "version 2 resealed", mutate: set16(hdrVersion, 2), reseal: true, openErr: index.ErrVersion},
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
		{name: "compatible flag claims reserved bytes", mutate: both(set32(hdrCompat, 4), set8(hdrReserved1, 7), set8(hdrReserved2+5, 9)), reseal: true, valid: true},
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
	for s := index.SectionBuckets; s < index.NumSections; s++ {
		cs = append(cs, headerDamage{name: s.String() + " checksum", mutate: add32(hdrSectionCRC+4*int(s-1), 1), reseal: true})
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
			checkVerifyFails(t, r, path, "")
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
	l, ok := index.ComputeLayout(h.Keys, h.Buckets, h.KeyBytes, h.OffsetWidth, h.LengthWidth)
	if !ok {
		t.Fatalf("no layout for %+v", h)
	}
	data := make([]byte, l.FileSize())
	for i, sec := range sections {
		e := l[index.SectionBuckets+index.Section(i)]
		if uint64(len(sec)) != e.Size {
			t.Fatalf("section %d: %d bytes, the layout says %d", i, len(sec), e.Size)
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

// craft returns a file holding keys as ordinals 0, 1, …, in the order given
// (which need not be sorted), their slots placed by place.
func craft(t testing.TB, keys [][]byte, buckets uint64, hk index.HashKey, place placement) []byte {
	t.Helper()
	h := index.Header{Keys: uint64(len(keys)), Buckets: buckets, HashKey: hk}
	for _, k := range keys {
		h.KeyBytes += uint64(len(k))
		h.MaxKeyLen = max(h.MaxKeyLen, uint32(len(k)))
	}
	h.OffsetWidth, h.LengthWidth = index.OffsetWidth(h.KeyBytes), index.LengthWidth(h.MaxKeyLen)
	slots := make([]byte, buckets*index.BucketSize)
	fill := make([]int, buckets)
	var offsets, lengths, keyData []byte
	k0, k1 := hk.Halves()
	for ord, k := range keys {
		hash := index.Hash(k0, k1, k)
		b1, b2 := index.Buckets(hash, buckets)
		b, i := place(ord, b1, b2, fill)
		if i >= index.BucketSlots {
			t.Fatalf("key %q: no room in bucket %d", k, b)
		}
		le.PutUint64(slots[b*index.BucketSize+uint64(i)*index.SlotSize:], index.MakeSlot(index.Tag(hash), uint64(ord)))
		fill[b] = max(fill[b], i+1)
		offsets = le.AppendUint32(offsets, uint32(len(keyData)))
		if h.LengthWidth == 1 {
			lengths = append(lengths, byte(len(k)))
		} else {
			lengths = le.AppendUint16(lengths, uint16(len(k)))
		}
		keyData = append(keyData, k...)
	}
	return assemble(t, h, [4][]byte{slots, offsets, lengths, keyData})
}

// TestCrafted checks files written by craft, an independent writer of the
// format: sorted keys give a valid file identical to the builder's, while
// keys out of order, or repeated, are found by their hash but fail Verify.
func TestCrafted(t *testing.T) {
	sorted := sortedCopy(fixtureKeys)
	buckets := index.BucketCount(uint64(len(sorted)), builder.MinLoadFactor)

	t.Run("sorted", func(t *testing.T) {
		data := craft(t, sorted, buckets, fixedKey, prescribed)
		built := buildIndex(t, fixtureKeys, builder.Options{HashKey: &fixedKey, LoadFactor: builder.MinLoadFactor})
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
				// its ordinal in this file or, when repeated, at the
				// first of its ordinals.
				for ord, k := range keys {
					got, ok := r.Lookup(k)
					if !ok || !bytes.Equal(keys[got], k) || got > ord {
						t.Fatalf("%s: Lookup(%q) = %d, %v; want %d", nr.how, k, got, ok, ord)
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
		// aimed returns buckets in which both buckets of every probe are
		// full of slots with the probe's tag and random ordinals, in range
		// or just or far past its end.
		aimed := func() []byte {
			b := make([]byte, sz[0])
			ords := []uint64{shape.keys, shape.keys + 1, index.MaxKeys, rng.Uint64N(index.MaxKeys)}
			for i := range shape.keys {
				ords = append(ords, i)
			}
			for _, p := range probes {
				hash := index.Hash(k0, k1, p)
				b1, b2 := index.Buckets(hash, shape.buckets)
				for _, bk := range []uint64{b1, b2} {
					for i := range index.BucketSlots {
						slot := index.MakeSlot(index.Tag(hash), ords[rng.IntN(len(ords))])
						le.PutUint64(b[bk*index.BucketSize+uint64(i)*index.SlotSize:], slot)
					}
				}
			}
			return b
		}
		random := func(n int) []byte { return randBytes(rng, n) }
		cases := map[string]func() [4][]byte{
			"random": func() [4][]byte { return [4][]byte{random(sz[0]), random(sz[1]), random(sz[2]), random(sz[3])} },
			"all 0xff": func() [4][]byte {
				return [4][]byte{fill(random(sz[0]), 0xff), fill(random(sz[1]), 0xff), fill(random(sz[2]), 0xff), fill(random(sz[3]), 0xff)}
			},
			"aimed slots, extreme offsets": func() [4][]byte {
				o, l := extreme()
				return [4][]byte{aimed(), o, l, random(sz[3])}
			},
			"aimed slots, random tables": func() [4][]byte {
				return [4][]byte{aimed(), random(sz[1]), random(sz[2]), random(sz[3])}
			},
			"aimed slots, zero tables": func() [4][]byte {
				return [4][]byte{aimed(), make([]byte, sz[1]), make([]byte, sz[2]), make([]byte, sz[3])}
			},
			"empty slots, random tables": func() [4][]byte {
				return [4][]byte{make([]byte, sz[0]), random(sz[1]), random(sz[2]), random(sz[3])}
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

// TestWrappingOffsets opens a hostile file whose 8-byte offsets are so
// large that offset+length wraps past 2^64 to a small number, and whose
// slots send every probe to such entries, with the probe's tag and length
// so that lookups reach the bounds checks: no key can be read, so every
// lookup is false and every Key nil.
func TestWrappingOffsets(t *testing.T) {
	probes := fixtureProbes(fixtureKeys)
	p := len(probes)
	shape := hostileShape{keys: uint64(2 * p), buckets: 64, keyBytes: 500, offsetWidth: 8, lengthWidth: 2, maxKeyLen: 1000}
	hk := index.HashKey{9, 9, 9}
	k0, k1 := hk.Halves()
	sz := shape.sizes()
	slots, offsets, lengths := make([]byte, sz[0]), make([]byte, sz[1]), make([]byte, sz[2])
	for i := range int(shape.keys) {
		n := len(probes[i%p])
		le.PutUint16(lengths[2*i:], uint16(n))
		// offset = 2^64 - x, so offset+n = n-x: inside the key data.
		x := uint64(1 + i%max(n, 1))
		le.PutUint64(offsets[8*i:], -x)
	}
	for j, k := range probes {
		hash := index.Hash(k0, k1, k)
		b1, b2 := index.Buckets(hash, shape.buckets)
		ords := []uint64{uint64(j), uint64(j + p)}
		for _, b := range []uint64{b1, b2} {
			for i := range index.BucketSlots {
				at := b*index.BucketSize + uint64(i)*index.SlotSize
				if le.Uint64(slots[at:]) == 0 && len(ords) > 0 {
					le.PutUint64(slots[at:], index.MakeSlot(index.Tag(hash), ords[0]))
					ords = ords[1:]
				}
			}
		}
	}
	data := assemble(t, shape.header(hk), [4][]byte{slots, offsets, lengths, randBytes(rand.New(rand.NewPCG(1, 1)), sz[3])})
	for _, nr := range openReaders(t, data) {
		r := nr.r
		exercise(t, r, probes)
		for _, k := range probes {
			if ord, ok := r.Lookup(k); ok {
				t.Errorf("%s: Lookup(%q) = %d, true, from an entry outside the key data", nr.how, k, ord)
			}
		}
		for i := range r.Len() {
			if k := r.Key(i); k != nil {
				t.Errorf("%s: Key(%d) = %q, from an entry outside the key data", nr.how, i, k)
			}
		}
		if err := r.Verify(); !errors.Is(err, index.ErrCorrupt) {
			t.Errorf("%s: Verify: %v, want ErrCorrupt", nr.how, err)
		}
	}
}
