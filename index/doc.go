// Package index is the only code that knows the byte layout of a STRU file,
// version 3; it also reads version 2, which is version 3 without a filter.
// format.md at the root of the repository is the specification; the
// comments here cite its sections as §1 … §10, and this one only maps the
// layout onto the code.
//
// A STRU file is six sections, each starting at a multiple of 64 bytes and
// zero-padded up to the next one; nothing precedes, separates or follows
// them (§1). All integers are little-endian. Section offsets are not stored:
// ComputeLayout derives them from the header's counts and widths.
//
//	offset           section   content                                   see
//	0                header    128 bytes: magic "STRU", version 3,       §2  Header, Encode, ParseHeader
//	                           counts, hash key, widths, CRC-32Cs
//	128              buckets   Buckets × 64 bytes: 8 slots of u64 each,  §4  Buckets, MakeSlot, View.Has
//	                           slot = tag<<48 | lenfield<<40 |
//	                           (offset+1), 0 = empty
//	aligned to 64    offsets   Keys × OffsetWidth (4 or 8) bytes:        §5  OffsetWidth
//	                           where each key starts in the key data
//	aligned to 64    lengths   Keys × LengthWidth (1 or 2) bytes:        §5  LengthWidth
//	                           each key's length
//	aligned to 64    keys      KeyBytes bytes: the keys, strictly        §5  View.Key, View.Search
//	                           ascending, concatenated
//	aligned to 64    filter    FilterBlocks × 64 bytes: a blocked        §3.1 FilterHash, FilterBlock,
//	                           Bloom filter, 4 bits a key in one block        FilterBit, FilterSet
//	aligned to 64    (end of file = Header.FileSize)
//
// A lookup first tests the filter (§3.1): the key's XXH3 picks a 64-byte
// block and 4 bits in it, and a key whose bits are not all set is absent,
// without the SipHash or a bucket read. A file's keys set exactly the
// filter's bits, so the filter never turns one of them away. A key's
// hash is SipHash-2-4 under the file's 128-bit key (§3, Hash); it
// picks two candidate buckets and a 16-bit tag (Buckets, Tag). A slot holds
// the tag, the key's length up to LongKey (LenField) and its offset in the
// key data plus one, so a slot whose tag and length field match (Match) is
// compared with the key data at its offset directly: a membership hit
// in its first bucket scans that bucket and reads the key's bytes (and
// has loaded the first slot of its second bucket meanwhile, in case the
// first was full). The ordinal of the key in a slot,
// which View.Find returns and which a key of LongKey bytes or more is
// compared through, is found by searching the offset table for the slot's
// offset (an interpolation search: the offsets rise by each key's
// length). A key lives in its first bucket, or in its second only when
// the first is full, and every bucket fills from slot 0, so a lookup scans
// at most MaxProbe = 2 buckets (§4). Every byte of the file is
// covered by a CRC-32C (§6.1, §6.2): the header's own, or one of the five
// section checksums it holds.
//
// Opening a file checks only the header, in O(1) (§6.3: ParseHeader, then
// Header.Layout); View.Verify reads everything (§6.4). Errors wrap
// ErrNotIndex, ErrVersion or ErrCorrupt in a *FormatError naming the file,
// section and offset. Versioning and feature flags are §7, limits §8.
package index
