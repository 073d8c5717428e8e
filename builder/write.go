package builder

import (
	"context"
	"fmt"
	"io"

	"github.com/stru-index/stru/index"
)

// A plan is everything needed to write the file: the sorted keys, the
// placed table and the header, checksums included.
type plan struct {
	header index.Header
	layout index.Layout
	table  *table
	filter []byte // the filter section's content
	rekeys int    // hash keys replaced before every key could be placed
	chunk  []byte // writeSection's buffer: at most 64 KiB, at most the file
}

// layoutFor completes h, whose Keys, KeyBytes and MaxKeyLen are set, with
// the fields that follow from them under s — the table widths, the number
// of buckets and the filter's blocks (format.md §2, §5) — and returns the
// layout of the file, or an error if no file can be that large.
func (s *settings) layoutFor(h *index.Header) (index.Layout, error) {
	h.OffsetWidth = index.OffsetWidth(h.KeyBytes)
	h.LengthWidth = index.LengthWidth(h.MaxKeyLen)
	h.Buckets = index.BucketCount(h.Keys, s.loadFactor)
	h.FilterBlocks = index.FilterBlocks(h.Keys, s.filterBits)
	layout, ok := index.ComputeLayout(h.Keys, h.Buckets, h.KeyBytes, h.FilterBlocks, h.OffsetWidth, h.LengthWidth)
	if !ok {
		return layout, errorf("index of %d keys and %d key bytes is too large", h.Keys, h.KeyBytes)
	}
	return layout, nil
}

// hashCheckEvery is how many keys prepare hashes between two checks of its
// context.
const hashCheckEvery = 1 << 16

// prepare sorts the keys, places them and computes the header. It returns
// ctx.Err() if ctx is canceled: it checks before and after sorting, while
// hashing, after each placement attempt and before each chunk of the
// checksum pass.
func (b *Builder) prepare(ctx context.Context) (*plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.sortKeys()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &plan{}
	h := &p.header
	h.Version = index.Version
	h.Keys = uint64(len(b.recs))
	if h.Keys > index.MaxKeys {
		return nil, errorf("%d keys exceed the format's maximum of %d", h.Keys, uint64(index.MaxKeys))
	}
	for _, r := range b.recs {
		h.KeyBytes += r.len()
		h.MaxKeyLen = max(h.MaxKeyLen, uint32(r.len()))
	}
	if h.KeyBytes > index.MaxKeyBytes {
		return nil, errorf("%d bytes of keys exceed the format's maximum of %d", h.KeyBytes, uint64(index.MaxKeyBytes))
	}
	layout, err := b.layoutFor(h)
	if err != nil {
		return nil, err
	}

	key := b.hashKey
	hashes := make([]uint64, len(b.recs))
	locs := make([]uint64, len(b.recs))
	off := uint64(0)
	for i, r := range b.recs {
		locs[i] = loc(off, r.len())
		off += r.len()
	}
	for attempt := 0; ; attempt++ {
		k0, k1 := key.Halves()
		for i, r := range b.recs {
			if i%hashCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			hashes[i] = index.Hash(k0, k1, b.key(r))
		}
		t, err := place(hashes, locs, h.Buckets, k0^k1)
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if err == nil {
			p.table = t
			h.HashKey = key
			p.rekeys = attempt
			break
		}
		if attempt == maxRekeys {
			return nil, fmt.Errorf("%w after %d hash keys at load factor %v", err, attempt+1, b.loadFactor)
		}
		key = rekey(key, uint64(attempt))
	}

	// At most 8 bytes a key (MaxFilterBitsPerKey), less than the keys'
	// records held already.
	p.filter = make([]byte, h.FilterBlocks*index.FilterBlockSize)
	fill := index.NewFilterFiller(p.filter, 0, h.FilterBlocks)
	for i, r := range b.recs {
		if i%hashCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		fill.Add(index.FilterHash(b.key(r)))
	}
	fill.Flush()

	p.layout = layout
	h.FileSize = layout.FileSize()
	for s := index.SectionBuckets; s < index.NumSections; s++ {
		crc := uint32(0)
		err := b.writeSection(p, s, func(chunk []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			crc = index.UpdateChecksum(crc, chunk)
			return nil
		})
		if err != nil {
			return nil, err
		}
		h.SectionCRC[s-index.SectionBuckets] = crc
	}
	return p, nil
}

// zeros is a source of padding.
var zeros [index.Align]byte

// writeSection passes the bytes of section s, padding included, to emit in
// chunks (format.md §4 and §5 give their encoding).
func (b *Builder) writeSection(p *plan, s index.Section, emit func([]byte) error) error {
	if p.chunk == nil {
		p.chunk = make([]byte, bufferFor(p.layout.FileSize(), 64<<10))
	}
	buf := p.chunk
	n := 0
	flush := func() error {
		err := emit(buf[:n])
		n = 0
		return err
	}
	// put appends v as an integer of width bytes, flushing when buf is full.
	put := func(v uint64, width uint8) error {
		if n+int(width) > len(buf) {
			if err := flush(); err != nil {
				return err
			}
		}
		index.PutUint(buf[n:], v, width)
		n += int(width)
		return nil
	}
	var err error
	switch s {
	case index.SectionBuckets:
		if err = p.table.eachFileSlot(func(slot uint64) error { return put(slot, index.SlotSize) }); err != nil {
			return err
		}
	case index.SectionOffsets:
		off := uint64(0)
		for _, r := range b.recs {
			if err = put(off, p.header.OffsetWidth); err != nil {
				return err
			}
			off += r.len()
		}
	case index.SectionLengths:
		for _, r := range b.recs {
			if err = put(r.len(), p.header.LengthWidth); err != nil {
				return err
			}
		}
	case index.SectionKeys:
		for _, r := range b.recs {
			k := b.key(r)
			if n+len(k) > len(buf) {
				if err = flush(); err != nil {
					return err
				}
			}
			if len(k) > len(buf) {
				if err = emit(k); err != nil {
					return err
				}
				continue
			}
			n += copy(buf[n:], k)
		}
	case index.SectionFilter:
		if err = flush(); err != nil {
			return err
		}
		if err = emit(p.filter); err != nil {
			return err
		}
	}
	if err = flush(); err != nil {
		return err
	}
	e := p.layout[s]
	return emit(zeros[:e.End-e.Off-e.Size])
}

// WriteTo writes the index of the keys added so far to w and returns the
// number of bytes written. The Builder may be written again, or added to.
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	if b.external() {
		return b.writeToExternal(w) // extsort.go
	}
	ctx := context.Background()
	p, err := b.prepare(ctx)
	if err != nil {
		return 0, err
	}
	n, err := b.write(ctx, p, w)
	if err != nil {
		return n, err
	}
	b.setStats(p)
	return n, nil
}

// write writes the file p plans to w and returns the number of bytes
// written. It checks ctx before each chunk of at most 64 KiB and returns
// ctx.Err() once ctx is canceled.
func (b *Builder) write(ctx context.Context, p *plan, w io.Writer) (int64, error) {
	var written int64
	emit := func(chunk []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := w.Write(chunk)
		written += int64(n)
		if err == nil && n < len(chunk) { // a Writer breaking io.Writer's contract
			err = io.ErrShortWrite
		}
		return err
	}
	var hdr [index.HeaderSize]byte
	p.header.Encode(hdr[:])
	if err := emit(hdr[:]); err != nil {
		return written, err
	}
	for s := index.SectionBuckets; s < index.NumSections; s++ {
		if err := b.writeSection(p, s, emit); err != nil {
			return written, err
		}
	}
	return written, nil
}

// setStats records the statistics of the file p plans, once written.
func (b *Builder) setStats(p *plan) {
	b.stats = Stats{
		Keys:         p.header.Keys,
		Duplicates:   b.added - p.header.Keys,
		KeyBytes:     p.header.KeyBytes,
		FileBytes:    p.header.FileSize,
		Buckets:      p.header.Buckets,
		SecondBucket: p.table.secondBucket(),
		Rekeys:       p.rekeys,
		HashKey:      p.header.HashKey,
	}
}
