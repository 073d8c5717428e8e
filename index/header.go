package index

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Format constants. format.md §1–§5 and §8 define each of them.
const (
	Magic      = "STRU" // the first four bytes of every file
	Version    = 3      // the format version this package writes
	MinVersion = 2      // the oldest format version this package reads (format.md §7)
	HeaderSize = 128    // bytes in the header
	Align      = 64     // every section starts at a multiple of Align

	SlotSize    = 8                      // bytes per slot
	BucketSlots = 8                      // slots per bucket
	BucketSize  = SlotSize * BucketSlots // bytes per bucket: one 64-byte cache line
	TagBits     = 16                     // hash bits kept in a slot
	LenBits     = 8                      // bits of a slot holding the key's length, up to LongKey
	OffsetBits  = 40                     // bits of a slot holding offset+1
	LongKey     = 1<<LenBits - 1         // a slot's length field for keys this long or longer
	MaxKeyBytes = 1<<OffsetBits - 2      // most key data bytes a file can hold
	MaxKeys     = 1<<OffsetBits - 2      // most keys a file can hold
	MaxKeyLen   = 1<<16 - 1              // longest key, in bytes
	MaxProbe    = 2                      // buckets a lookup reads, at most
	tagMask     = 1<<TagBits - 1         // low TagBits bits
	offMask     = 1<<OffsetBits - 1      // low OffsetBits bits
	matchShift  = OffsetBits             // a slot's tag and length field are its bits from here up
	maxFileSize = 1 << 62                // no file may be this large
	headerCRCAt = HeaderSize - 4         // offset of the header checksum
	filterAt    = 96                     // header offset of the filter block count, F
	compatKnown = 0                      // compatible flag bits this code knows
	incompKnown = 0                      // incompatible flag bits this code knows
)

// castagnoli is the CRC-32C table used for every checksum in the file.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C of b, the checksum used throughout the format.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// UpdateChecksum extends a CRC-32C computed by Checksum with the bytes b.
func UpdateChecksum(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// A Header is the decoded 128-byte header at the start of every STRU file.
// Encode and ParseHeader convert it to and from bytes; format.md §2 gives the
// layout, which the offsets in the comments repeat.
type Header struct {
	Version       uint16    // [4:6] format version: 3, or 2 for a file without a filter
	IncompatFlags uint32    // [8:12] features a reader must understand; v3: 0
	CompatFlags   uint32    // [12:16] features a reader may ignore; v3: 0
	FileSize      uint64    // [16:24] total bytes in the file
	Keys          uint64    // [24:32] number of keys
	Buckets       uint64    // [32:40] number of 64-byte buckets, at least 1
	KeyBytes      uint64    // [40:48] bytes of key data (sum of key lengths)
	HashKey       HashKey   // [48:64] SipHash-2-4 key
	OffsetWidth   uint8     // [64] bytes per offset table entry: 4 or 8
	LengthWidth   uint8     // [65] bytes per length table entry: 1 or 2
	MaxKeyLen     uint32    // [68:72] length of the longest key
	SectionCRC    [5]uint32 // [72:92] CRC-32C of buckets, offsets, lengths, keys, filter
	FilterBlocks  uint64    // [96:104] number of 64-byte filter blocks, F; 0 for no filter
	// [66:68], [92:96] and [104:124] are reserved and zero; [124:128] is the header CRC.
}

// Encode writes the header into b[:HeaderSize], including its checksum.
// Magic, header size and reserved bytes are filled in; b must be at least
// HeaderSize long. Every field is written as given: for a version 2
// header, whose format reserves the bytes of SectionCRC[4] and
// FilterBlocks, they must be 0, or ParseHeader refuses the result.
func (h *Header) Encode(b []byte) {
	b = b[:HeaderSize]
	clear(b)
	le := binary.LittleEndian
	copy(b[0:4], Magic)
	le.PutUint16(b[4:], h.Version)
	le.PutUint16(b[6:], HeaderSize)
	le.PutUint32(b[8:], h.IncompatFlags)
	le.PutUint32(b[12:], h.CompatFlags)
	le.PutUint64(b[16:], h.FileSize)
	le.PutUint64(b[24:], h.Keys)
	le.PutUint64(b[32:], h.Buckets)
	le.PutUint64(b[40:], h.KeyBytes)
	copy(b[48:64], h.HashKey[:])
	b[64] = h.OffsetWidth
	b[65] = h.LengthWidth
	le.PutUint32(b[68:], h.MaxKeyLen)
	for i, c := range h.SectionCRC {
		le.PutUint32(b[72+4*i:], c)
	}
	le.PutUint64(b[filterAt:], h.FilterBlocks)
	le.PutUint32(b[headerCRCAt:], Checksum(b[:headerCRCAt]))
}

// ParseHeader decodes and checks the header at the start of b, in this order
// (format.md §6.3, checks 1–7): magic (ErrNotIndex), length (ErrCorrupt),
// version (ErrVersion), header size and checksum (ErrCorrupt), incompatible
// flags (ErrVersion), reserved bytes (ErrCorrupt).
// It does not check the header against the file's size or the sections:
// Layout does that. file names the file in errors.
func ParseHeader(b []byte, file string) (Header, error) {
	var h Header
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		return h, &FormatError{File: file, Section: "header", Off: 0, Msg: `missing magic "STRU"`, Err: ErrNotIndex}
	}
	if len(b) < HeaderSize {
		return h, corrupt(file, SectionHeader, 0, "file is %d bytes, shorter than the %d-byte header", len(b), HeaderSize)
	}
	le := binary.LittleEndian
	h.Version = le.Uint16(b[4:])
	if h.Version < MinVersion || h.Version > Version {
		return h, &FormatError{File: file, Section: "header", Off: 4, Msg: versionMsg(h.Version), Err: ErrVersion}
	}
	if size := le.Uint16(b[6:]); size != HeaderSize {
		return h, corrupt(file, SectionHeader, 6, "header size is %d, version %d requires %d", size, h.Version, HeaderSize)
	}
	if want, got := le.Uint32(b[headerCRCAt:]), Checksum(b[:headerCRCAt]); want != got {
		return h, corrupt(file, SectionHeader, headerCRCAt, "header checksum mismatch: stored %#08x, computed %#08x", want, got)
	}
	h.IncompatFlags = le.Uint32(b[8:])
	if unknown := h.IncompatFlags &^ incompKnown; unknown != 0 {
		return h, &FormatError{File: file, Section: "header", Off: 8, Msg: fmt.Sprintf("unknown incompatible feature flags %#x", unknown), Err: ErrVersion}
	}
	h.CompatFlags = le.Uint32(b[12:])
	h.FileSize = le.Uint64(b[16:])
	h.Keys = le.Uint64(b[24:])
	h.Buckets = le.Uint64(b[32:])
	h.KeyBytes = le.Uint64(b[40:])
	copy(h.HashKey[:], b[48:64])
	h.OffsetWidth = b[64]
	h.LengthWidth = b[65]
	h.MaxKeyLen = le.Uint32(b[68:])
	for i := range h.SectionCRC {
		h.SectionCRC[i] = le.Uint32(b[72+4*i:])
	}
	h.FilterBlocks = le.Uint64(b[filterAt:])
	if h.Version == 2 { // no filter; the fields' bytes are reserved
		h.SectionCRC[SectionFilter-SectionBuckets], h.FilterBlocks = 0, 0
	}
	// Reserved bytes are zero unless a compatible feature this reader does
	// not know about has claimed them (format.md §7).
	if h.CompatFlags&^compatKnown == 0 {
		reserved := reservedV3
		if h.Version == 2 {
			reserved = reservedV2
		}
		for _, r := range reserved {
			for i := r[0]; i < r[1]; i++ {
				if b[i] != 0 {
					return h, corrupt(file, SectionHeader, uint64(i), "reserved bytes are not zero")
				}
			}
		}
	}
	return h, nil
}

// The header's reserved byte ranges [from, to) (format.md §2). Version 2
// reserved the bytes where version 3 keeps the filter's checksum and block
// count, so a version 2 file reads as a version 3 file without a filter
// (format.md §7).
var (
	reservedV3 = [][2]int{{66, 68}, {92, filterAt}, {filterAt + 8, headerCRCAt}}
	reservedV2 = [][2]int{{66, 68}, {88, headerCRCAt}}
)

func versionMsg(v uint16) string {
	if v > Version {
		return fmt.Sprintf("format version %d is newer than this reader, which reads versions %d to %d", v, MinVersion, Version)
	}
	return fmt.Sprintf("format version %d is not supported; this reader reads versions %d to %d", v, MinVersion, Version)
}
