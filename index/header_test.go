package index_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/stru-index/stru/index"
)

// goldenPath is format.md §10's worked example, built by builder's golden
// test: {"", "a", "apple", "banana"} with the hash key 00 01 … 0f.
const goldenPath = "../testdata/example.stru"

// readGolden returns a fresh copy of the golden file's bytes.
func readGolden(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var le = binary.LittleEndian

// resealHeader recomputes the header checksum of the file f (format.md §2),
// so that damage to a header field reaches the checks after the checksum.
func resealHeader(f []byte) {
	le.PutUint32(f[124:], index.Checksum(f[:124]))
}

// resealSections recomputes the four section checksums (format.md §2: the
// checksum of section s at 72 + 4·(s−1), buckets first) and then the header
// checksum, so that damage to a section reaches the structural checks of
// full verification. The header must be intact enough to give a layout.
func resealSections(t testing.TB, f []byte) {
	t.Helper()
	resealHeader(f)
	h, err := index.ParseHeader(f, "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Layout(uint64(len(f)), "")
	if err != nil {
		t.Fatal(err)
	}
	for s := index.SectionBuckets; s < index.NumSections; s++ {
		le.PutUint32(f[72+4*int(s-index.SectionBuckets):], index.Checksum(f[l[s].Off:l[s].End]))
	}
	resealHeader(f)
}

func TestHeaderRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 1000 {
		want := index.Header{
			Version:      uint16(r.Uint32()),
			FileSize:     r.Uint64(),
			Keys:         r.Uint64(),
			Buckets:      r.Uint64(),
			KeyBytes:     r.Uint64(),
			OffsetWidth:  uint8(r.Uint32()),
			LengthWidth:  uint8(r.Uint32()),
			MaxKeyLen:    r.Uint32(),
			FilterBlocks: r.Uint64(),
		}
		for j := range want.HashKey {
			want.HashKey[j] = byte(r.Uint32())
		}
		for j := range want.SectionCRC {
			want.SectionCRC[j] = r.Uint32()
		}
		if i%2 == 0 {
			want.Version = index.Version // else ParseHeader stops at the version
		}
		buf := bytes.Repeat([]byte{0xa5}, index.HeaderSize+10) // Encode must overwrite garbage
		want.Encode(buf)
		if !bytes.Equal(buf[index.HeaderSize:], bytes.Repeat([]byte{0xa5}, 10)) {
			t.Fatal("Encode wrote past HeaderSize")
		}
		b := buf[:index.HeaderSize]
		if string(b[:4]) != "STRU" || le.Uint16(b[6:]) != 128 || le.Uint32(b[124:]) != index.Checksum(b[:124]) {
			t.Fatalf("Encode: magic %q, header size %d, checksum %#x (want %#x)", b[:4], le.Uint16(b[6:]), le.Uint32(b[124:]), index.Checksum(b[:124]))
		}
		if !bytes.Equal(b[66:68], make([]byte, 2)) || !bytes.Equal(b[92:96], make([]byte, 4)) || !bytes.Equal(b[104:124], make([]byte, 20)) {
			t.Fatalf("Encode left reserved bytes non-zero: %x %x %x", b[66:68], b[92:96], b[104:124])
		}
		got, err := index.ParseHeader(b, "")
		if want.Version != index.Version {
			if !errors.Is(err, index.ErrVersion) {
				t.Fatalf("ParseHeader of version %d: %v, want ErrVersion", want.Version, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ParseHeader(Encode(%+v)): %v", want, err)
		}
		if got != want {
			t.Fatalf("ParseHeader(Encode(h)) =\n%+v, want\n%+v", got, want)
		}
	}
}

// TestHeaderOffsets checks Encode's byte positions against format.md §2's
// table, field by field.
func TestHeaderOffsets(t *testing.T) {
	h := index.Header{
		Version: 3, IncompatFlags: 0x11121314, CompatFlags: 0x21222324,
		FileSize: 0x3132333435363738, Keys: 0x4142434445464748, Buckets: 0x5152535455565758,
		KeyBytes: 0x6162636465666768, HashKey: sipRefKey, OffsetWidth: 0x71, LengthWidth: 0x72,
		MaxKeyLen: 0x81828384, SectionCRC: [5]uint32{0x91929394, 0xa1a2a3a4, 0xb1b2b3b4, 0xc1c2c3c4, 0xd1d2d3d4},
		FilterBlocks: 0xe1e2e3e4e5e6e7e8,
	}
	var b [128]byte
	for i := range b {
		b[i] = 0xee // Encode must clear the reserved bytes
	}
	h.Encode(b[:])
	for _, f := range []struct {
		off, width int
		want       uint64
	}{
		{0, 4, 0x55525453}, {4, 2, 3}, {6, 2, 128}, {8, 4, 0x11121314}, {12, 4, 0x21222324},
		{16, 8, 0x3132333435363738}, {24, 8, 0x4142434445464748}, {32, 8, 0x5152535455565758},
		{40, 8, 0x6162636465666768}, {48, 8, 0x0706050403020100}, {56, 8, 0x0f0e0d0c0b0a0908},
		{64, 1, 0x71}, {65, 1, 0x72}, {66, 2, 0}, {68, 4, 0x81828384},
		{72, 4, 0x91929394}, {76, 4, 0xa1a2a3a4}, {80, 4, 0xb1b2b3b4}, {84, 4, 0xc1c2c3c4},
		{88, 4, 0xd1d2d3d4}, {92, 4, 0}, {96, 8, 0xe1e2e3e4e5e6e7e8},
		{104, 8, 0}, {112, 8, 0}, {120, 4, 0}, // reserved
		{124, 4, uint64(index.Checksum(b[:124]))},
	} {
		var got uint64
		for i := f.width - 1; i >= 0; i-- {
			got = got<<8 | uint64(b[f.off+i])
		}
		if got != f.want {
			t.Errorf("bytes [%d, %d) = %#x, want %#x little-endian", f.off, f.off+f.width, got, f.want)
		}
	}
}

// A damage is a change to the golden file and the error NewView must give.
type damage struct {
	name    string
	change  func(f []byte) []byte // returns the damaged file
	reseal  bool                  // recompute the header checksum afterwards
	want    error                 // the sentinel
	section string                // FormatError.Section
	off     int64                 // FormatError.Off
}

// put returns a change writing v, width bytes little-endian, at off.
func put(off, width int, v uint64) func([]byte) []byte {
	return func(f []byte) []byte {
		for i := range width {
			f[off+i] = byte(v >> (8 * i))
		}
		return f
	}
}

// both applies two changes.
func both(a, b func([]byte) []byte) func([]byte) []byte {
	return func(f []byte) []byte { return b(a(f)) }
}

// all applies changes in order.
func all(changes ...func([]byte) []byte) func([]byte) []byte {
	return func(f []byte) []byte {
		for _, c := range changes {
			f = c(f)
		}
		return f
	}
}

// TestOpenDamagedHeader damages the golden file's header, or its length,
// one way at a time and checks the exact sentinel, section and offset of
// the error (format.md §6.3).
func TestOpenDamagedHeader(t *testing.T) {
	const size = 448 // the golden file's size: format.md §10
	for _, d := range []damage{
		// Check 1: magic.
		{"empty file", func(f []byte) []byte { return nil }, false, index.ErrNotIndex, "header", 0},
		{"3 bytes", func(f []byte) []byte { return f[:3] }, false, index.ErrNotIndex, "header", 0},
		{"bad magic", put(3, 1, 'V'), false, index.ErrNotIndex, "header", 0},
		{"lower-case magic", func(f []byte) []byte { copy(f, "stru"); return f }, false, index.ErrNotIndex, "header", 0},
		{"text file", func(f []byte) []byte { return []byte("apple\nbanana\n") }, false, index.ErrNotIndex, "header", 0},
		// Check 2: length.
		{"magic only", func(f []byte) []byte { return f[:4] }, false, index.ErrCorrupt, "header", 0},
		{"short header", func(f []byte) []byte { return f[:127] }, false, index.ErrCorrupt, "header", 0},
		// Check 3: version, before the checksum.
		{"newer version", put(4, 2, 4), false, index.ErrVersion, "header", 4},
		{"newer version, resealed", put(4, 2, 4), true, index.ErrVersion, "header", 4},
		{"version 1", put(4, 2, 1), false, index.ErrVersion, "header", 4},
		{"version 1, resealed", put(4, 2, 1), true, index.ErrVersion, "header", 4},
		{"version 0", put(4, 2, 0), true, index.ErrVersion, "header", 4},
		{"version 0xffff", put(4, 2, 0xffff), false, index.ErrVersion, "header", 4},
		// Check 4: header size.
		{"header size 64", put(6, 2, 64), true, index.ErrCorrupt, "header", 6},
		{"header size 129", put(6, 2, 129), true, index.ErrCorrupt, "header", 6},
		// Check 5: checksum.
		{"key count changed", put(24, 8, 3), false, index.ErrCorrupt, "header", 124},
		{"hash key changed", put(50, 1, 0xff), false, index.ErrCorrupt, "header", 124},
		{"buckets checksum changed", put(72, 1, 0), false, index.ErrCorrupt, "header", 124},
		{"keys checksum changed", put(84, 1, 0), false, index.ErrCorrupt, "header", 124},
		{"filter checksum changed", put(88, 1, 0), false, index.ErrCorrupt, "header", 124},
		{"filter blocks changed", put(96, 1, 2), false, index.ErrCorrupt, "header", 124},
		{"reserved byte 92 changed", put(92, 1, 1), false, index.ErrCorrupt, "header", 124},
		{"header checksum changed", put(127, 1, 0), false, index.ErrCorrupt, "header", 124},
		{"unknown incompatible flag, not resealed", put(8, 4, 1), false, index.ErrCorrupt, "header", 124},
		// Check 6: incompatible flags.
		{"unknown incompatible flag", put(8, 4, 1), true, index.ErrVersion, "header", 8},
		{"incompatible flag bit 31", put(8, 4, 1<<31), true, index.ErrVersion, "header", 8},
		// Check 7: reserved bytes.
		{"reserved byte 66", put(66, 1, 1), true, index.ErrCorrupt, "header", 66},
		{"reserved byte 67", put(67, 1, 0x80), true, index.ErrCorrupt, "header", 67},
		{"reserved byte 92", put(92, 1, 0x40), true, index.ErrCorrupt, "header", 92},
		{"reserved byte 95", put(95, 1, 1), true, index.ErrCorrupt, "header", 95},
		{"reserved byte 104", put(104, 1, 1), true, index.ErrCorrupt, "header", 104},
		{"reserved byte 123", put(123, 1, 1), true, index.ErrCorrupt, "header", 123},
		// Checks 8 and 9: widths.
		{"offset width 0", put(64, 1, 0), true, index.ErrCorrupt, "header", 64},
		{"offset width 2", put(64, 1, 2), true, index.ErrCorrupt, "header", 64},
		{"offset width 16", put(64, 1, 16), true, index.ErrCorrupt, "header", 64},
		{"length width 0", put(65, 1, 0), true, index.ErrCorrupt, "header", 65},
		{"length width 4", put(65, 1, 4), true, index.ErrCorrupt, "header", 65},
		// Check 10: key count.
		{"key count above MaxKeys", put(24, 8, index.MaxKeys+1), true, index.ErrCorrupt, "header", 24},
		{"key count 2^64-1", put(24, 8, 1<<64-1), true, index.ErrCorrupt, "header", 24},
		// Checks 11 and 12: bucket count.
		{"bucket count 0", put(32, 8, 0), true, index.ErrCorrupt, "header", 32},
		{"key count too large for buckets", put(24, 8, 9), true, index.ErrCorrupt, "header", 32},
		{"bucket count 2^61", put(32, 8, 1<<61), true, index.ErrCorrupt, "header", 32},
		// Check 13: bucket count a multiple of its ⌈B / 65536⌉ blocks.
		{"bucket count 65537, 2 blocks", put(32, 8, 65537), true, index.ErrCorrupt, "header", 32},
		{"bucket count 131074, 3 blocks", put(32, 8, 131074), true, index.ErrCorrupt, "header", 32},
		{"bucket count 2^56-1, 2^40 blocks", put(32, 8, 1<<56-1), true, index.ErrCorrupt, "header", 32},
		// Checks 14 and 15: longest key.
		{"longest key 65536", both(put(65, 1, 2), put(68, 4, 65536)), true, index.ErrCorrupt, "header", 68},
		{"longest key 256 in 1-byte lengths", put(68, 4, 256), true, index.ErrCorrupt, "header", 68},
		// Check 16: 4-byte offsets over 4 GiB of keys.
		{"4-byte offsets, 2^32+1 key bytes", both(put(68, 4, 255), put(40, 8, 1<<32+1)), true, index.ErrCorrupt, "header", 40},
		// Key bytes within MaxKeyBytes, the most a slot's 40-bit offset+1
		// can address (format.md §8): with 8-byte offsets, and enough keys
		// and buckets that no other check applies.
		{"key bytes MaxKeyBytes+1", all(put(24, 8, index.MaxKeys), put(32, 8, 1<<37), put(64, 1, 8), put(40, 8, index.MaxKeyBytes+1)),
			true, index.ErrCorrupt, "header", 40},
		{"key bytes 2^40", all(put(24, 8, index.MaxKeys), put(32, 8, 1<<37), put(64, 1, 8), put(40, 8, 1<<40)),
			true, index.ErrCorrupt, "header", 40},
		{"key bytes MaxKeyBytes, the file too short", all(put(24, 8, index.MaxKeys), put(32, 8, 1<<37), put(64, 1, 8), put(40, 8, index.MaxKeyBytes)),
			true, index.ErrCorrupt, "header", 16},
		// Check 17: key bytes within count × longest.
		{"key bytes above count × longest", put(40, 8, 25), true, index.ErrCorrupt, "header", 40},
		// Check 18: no keys, no longest key.
		{"no keys but a longest key", both(put(24, 8, 0), put(40, 8, 0)), true, index.ErrCorrupt, "header", 68},
		// Check 19: the layout overflows.
		{"64 × buckets overflows", put(32, 8, 1<<58), true, index.ErrCorrupt, "header", 16},
		{"buckets section reaches 2^62", put(32, 8, 1<<56), true, index.ErrCorrupt, "header", 16},
		{"offsets section ends past 2^62", both(put(24, 8, index.MaxKeys), put(32, 8, 1<<56-1<<16)), true, index.ErrCorrupt, "header", 16},
		// Check 20: the file size field.
		{"file size field 448", put(16, 8, size+64), true, index.ErrCorrupt, "header", 16},
		{"file size field 383", put(16, 8, size-1), true, index.ErrCorrupt, "header", 16},
		{"more buckets than the file size says", put(32, 8, 2), true, index.ErrCorrupt, "header", 16},
		{"more filter blocks than the file size says", put(96, 8, 2), true, index.ErrCorrupt, "header", 16},
		{"no filter blocks, with the file size unchanged", put(96, 8, 0), true, index.ErrCorrupt, "header", 16},
		{"filter blocks 2^56: the filter section reaches 2^62", put(96, 8, 1<<56), true, index.ErrCorrupt, "header", 16},
		{"filter blocks 2^58: 64 × blocks overflows", put(96, 8, 1<<58), true, index.ErrCorrupt, "header", 16},
		{"largest bucket count below 2^56", put(32, 8, 1<<56-1<<16), true, index.ErrCorrupt, "header", 16},
		// Check 21: the file's length.
		{"truncated by 64", func(f []byte) []byte { return f[:size-64] }, false, index.ErrCorrupt, "file", size - 64},
		{"truncated by 1", func(f []byte) []byte { return f[:size-1] }, false, index.ErrCorrupt, "file", size - 1},
		{"trailing byte", func(f []byte) []byte { return append(f, 0) }, false, index.ErrCorrupt, "file", size + 1},
		{"trailing bucket", func(f []byte) []byte { return append(f, make([]byte, 64)...) }, false, index.ErrCorrupt, "file", size + 64},
	} {
		t.Run(d.name, func(t *testing.T) {
			f := d.change(readGolden(t))
			if d.reseal {
				resealHeader(f)
			}
			_, err := index.NewView(f, "golden.stru")
			var fe *index.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("NewView: %v, want a *FormatError wrapping %v", err, d.want)
			}
			if !errors.Is(err, d.want) || fe.Err != d.want {
				t.Errorf("NewView: %v\nwraps %v, want %v", err, fe.Err, d.want)
			}
			if fe.Section != d.section || fe.Off != d.off {
				t.Errorf("NewView: %v\nis about %s at offset %d, want %s at offset %d", err, fe.Section, fe.Off, d.section, d.off)
			}
			if fe.File != "golden.stru" || !strings.Contains(err.Error(), "golden.stru: "+d.section+" at offset "+fmt.Sprintf("%#x", d.off)) {
				t.Errorf("NewView: %q does not name the file, section and offset", err)
			}
			for _, other := range []error{index.ErrNotIndex, index.ErrVersion, index.ErrCorrupt} {
				if other != d.want && errors.Is(err, other) {
					t.Errorf("NewView: %v also matches %v", err, other)
				}
			}
		})
	}
}

// version1File is version 1's worked example: {"", "a", "apple",
// "banana"} under the hash key 00 01 … 0f, testdata/example.stru as
// version 1 of the format had it (git show 4b8c5c2:testdata/example.stru).
// Its sections are laid out as version 2's; its slots are not (a 24-bit tag
// and the key's ordinal+1).
const version1File = "../testdata/version1.stru"

// TestOpenVersion1 checks that an intact version 1 file is refused with
// ErrVersion at the version field, in a message naming both versions: this
// package reads versions 2 and 3 only. The version field is all that tells the
// two apart before full verification: with it changed to 2 the file opens,
// and only Verify notices that its slots are not version 2 slots.
func TestOpenVersion1(t *testing.T) {
	f, err := os.ReadFile(version1File)
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 384 || le.Uint16(f[4:]) != 1 || le.Uint32(f[124:]) != index.Checksum(f[:124]) {
		t.Fatalf("%s: %d bytes, not a version 1 file with a good header checksum", version1File, len(f))
	}
	_, err = index.NewView(f, "v1.stru")
	var fe *index.FormatError
	if !errors.As(err, &fe) || fe.Err != index.ErrVersion || fe.Section != "header" || fe.Off != 4 {
		t.Fatalf("NewView of a version 1 file: %v, want ErrVersion in the header at offset 4", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "version 1") || !strings.Contains(msg, "versions 2 to 3") {
		t.Errorf("NewView of a version 1 file: %q does not name version 1 and versions 2 to 3", msg)
	}
	if _, err := index.ParseHeader(f, ""); !errors.Is(err, index.ErrVersion) {
		t.Errorf("ParseHeader of a version 1 file: %v, want ErrVersion", err)
	}

	put(4, 2, 2)(f)
	resealHeader(f)
	v, err := index.NewView(f, "v1.stru")
	if err != nil {
		t.Fatalf("NewView of a version 1 file marked version 2: %v", err)
	}
	if err := v.Verify(); !errors.As(err, &fe) || fe.Err != index.ErrCorrupt || fe.Section != "buckets" {
		t.Errorf("Verify of a version 1 file marked version 2: %v, want ErrCorrupt in the buckets", err)
	}
}

// TestOpenAcceptsCompatible checks that what format.md §5 and §7 say a
// reader must accept opens: unknown compatible flags, with or without data
// in the reserved bytes.
func TestOpenAcceptsCompatible(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func([]byte) []byte
	}{
		{"unknown compatible flag", put(12, 4, 1)},
		{"unknown compatible flag and reserved data", all(put(12, 4, 1<<31), put(66, 2, 0xffff), put(92, 4, 0x01234567), put(104, 8, 0x0123456789abcdef))},
		{"reserved data at 123", both(put(12, 4, 4), put(123, 1, 9))},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.change(readGolden(t))
			resealHeader(f)
			v, err := index.NewView(f, "")
			if err != nil {
				t.Fatalf("NewView: %v", err)
			}
			if err := v.Verify(); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if ord, ok := v.Find([]byte("apple")); !ok || ord != 2 {
				t.Errorf(`Find("apple") = %d, %v; want 2, true`, ord, ok)
			}
		})
	}
}

// TestOpenTruncated opens the golden file cut at every length: Go's
// sentinel must be ErrNotIndex below 4 bytes and ErrCorrupt from there.
func TestOpenTruncated(t *testing.T) {
	f := readGolden(t)
	for n := range len(f) {
		_, err := index.NewView(f[:n], "")
		want := index.ErrCorrupt
		if n < 4 {
			want = index.ErrNotIndex
		}
		if !errors.Is(err, want) {
			t.Errorf("NewView of the first %d bytes: %v, want %v", n, err, want)
		}
	}
}

func TestFormatError(t *testing.T) {
	for _, c := range []struct {
		err  index.FormatError
		want string
	}{
		{index.FormatError{File: "/data/x.stru", Section: "buckets", Off: 0x88, Msg: "slot is bad", Err: index.ErrCorrupt},
			"stru: /data/x.stru: buckets at offset 0x88: slot is bad"},
		{index.FormatError{Section: "header", Off: 0, Msg: "missing magic", Err: index.ErrNotIndex},
			"stru: header at offset 0x0: missing magic"},
		{index.FormatError{File: "y", Section: "file", Off: -1, Msg: "gone", Err: index.ErrCorrupt},
			"stru: y: file: gone"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
		if err := error(&c.err); !errors.Is(err, c.err.Err) {
			t.Errorf("%v does not wrap %v", err, c.err.Err)
		}
	}

	// The example message of format.md §6.3, with the golden file's
	// header checksum.
	f := readGolden(t)
	computed := index.Checksum(f[:124])
	le.PutUint32(f[124:], 0x12345678)
	_, err := index.NewView(f, "x.stru")
	if want := fmt.Sprintf("stru: x.stru: header at offset 0x7c: header checksum mismatch: stored 0x12345678, computed %#08x", computed); err == nil || err.Error() != want {
		t.Errorf("NewView with a bad header checksum: %v, want %q", err, want)
	}
	if !strings.Contains(index.ErrKeyTooLong.Error(), "65535") {
		t.Errorf("ErrKeyTooLong = %q, does not give the limit", index.ErrKeyTooLong)
	}
}

// TestVersionMessage checks that a version error says which way the file's
// version is out of range: a version above the newest this package reads
// is newer than the reader (a newer reader may read it), one below the
// oldest is not supported.
func TestVersionMessage(t *testing.T) {
	for _, c := range []struct {
		version uint16
		newer   bool
	}{
		{0, false}, {index.MinVersion - 1, false}, {index.Version + 1, true}, {0xffff, true},
	} {
		f := put(4, 2, uint64(c.version))(readGolden(t))
		resealHeader(f)
		_, err := index.ParseHeader(f, "")
		if !errors.Is(err, index.ErrVersion) {
			t.Fatalf("version %d: %v, want ErrVersion", c.version, err)
		}
		msg := err.Error()
		want := fmt.Sprintf("format version %d is not supported", c.version)
		if c.newer {
			want = fmt.Sprintf("format version %d is newer than this reader", c.version)
		}
		if !strings.Contains(msg, want) || !strings.Contains(msg, fmt.Sprintf("versions %d to %d", index.MinVersion, index.Version)) {
			t.Errorf("version %d: %q, want a message containing %q and the versions read", c.version, msg, want)
		}
	}
}
