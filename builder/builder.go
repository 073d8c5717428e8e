// Package builder writes STRU index files (format.md) from a set of keys.
//
// A Builder collects keys in memory, then WriteTo or WriteFile sorts them,
// drops duplicates, places each key in one of its two hash buckets and
// writes the file. The output depends only on the set of keys and the hash
// key: the same set with the same Options.HashKey gives the same bytes
// whatever order the keys were added in.
//
// Memory: while collecting, a Builder holds each distinct or duplicate key's
// bytes once plus a 16-byte record; writing adds 8 bytes of hash per key and
// 8/LoadFactor bytes of slots (10 at the default) plus one byte per bucket.
// For n keys averaging L bytes the peak is about n×(L + 35) bytes, plus up to
// L×n of slack while the key storage grows: 10 million keys of 8–64 bytes
// peak near 1 GiB.
package builder

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"

	"github.com/stru-index/stru/index"
)

// Load factors: the fraction of slots that hold a key.
const (
	DefaultLoadFactor = 0.8  // 10 bytes of slots per key; 41% of misses read a second bucket
	MinLoadFactor     = 0.05 // below this the table is mostly empty space
	MaxLoadFactor     = 0.95 // above this placing keys in two choices of bucket starts to fail
)

// Options control a build. The zero Options are the defaults.
type Options struct {
	// HashKey fixes the SipHash-2-4 key. When nil, each Builder draws a
	// fresh random key from crypto/rand, so that nobody can choose keys
	// that collide in advance. A fixed key makes the output reproducible.
	HashKey *index.HashKey

	// LoadFactor is the fraction of slots used, in [MinLoadFactor,
	// MaxLoadFactor]; 0 means DefaultLoadFactor.
	LoadFactor float64
}

// Stats describe the last file a Builder wrote.
type Stats struct {
	Keys         uint64        // distinct keys in the file
	Duplicates   uint64        // keys added more than once, dropped
	KeyBytes     uint64        // bytes of key data
	FileBytes    uint64        // bytes in the file
	Buckets      uint64        // 64-byte buckets in the hash table
	SecondBucket uint64        // keys stored in their second bucket
	Rekeys       int           // times the hash key was replaced to place every key
	HashKey      index.HashKey // the hash key the file was built with
}

// OverheadPerKey returns the file bytes per key beyond the key bytes.
func (s Stats) OverheadPerKey() float64 {
	if s.Keys == 0 {
		return float64(s.FileBytes)
	}
	return float64(s.FileBytes-s.KeyBytes) / float64(s.Keys)
}

// A record locates one added key in the arena. prefix holds its first 8
// bytes big-endian, zero-padded, so most comparisons while sorting never
// touch the arena.
type record struct {
	prefix uint64
	offLen uint64 // offset in the arena << 16 | length
}

func (r record) off() uint64 { return r.offLen >> 16 }
func (r record) len() uint64 { return r.offLen & 0xffff }

// A Builder collects keys and writes them as a STRU file. It is not safe
// for concurrent use.
type Builder struct {
	loadFactor float64
	hashKey    index.HashKey
	arena      []byte   // the bytes of every added key, in order of Add
	recs       []record // one per Add; sorted and deduplicated by prepare
	sorted     bool     // recs are sorted and distinct
	added      uint64   // keys added, duplicates included
	stats      Stats
}

// New returns an empty Builder.
func New(opts Options) (*Builder, error) {
	lf := opts.LoadFactor
	if lf == 0 {
		lf = DefaultLoadFactor
	}
	if !(lf >= MinLoadFactor && lf <= MaxLoadFactor) {
		return nil, fmt.Errorf("stru: load factor %v is outside [%v, %v]", opts.LoadFactor, MinLoadFactor, MaxLoadFactor)
	}
	b := &Builder{loadFactor: lf}
	if opts.HashKey != nil {
		b.hashKey = *opts.HashKey
	} else {
		rand.Read(b.hashKey[:])
	}
	return b, nil
}

// FromMap returns a Builder holding the keys of set.
func FromMap(set map[string]struct{}, opts Options) (*Builder, error) {
	b, err := New(opts)
	if err != nil {
		return nil, err
	}
	return b, b.AddStrings(func(yield func(string) bool) {
		for k := range set {
			if !yield(k) {
				return
			}
		}
	})
}

// Add adds a copy of key to the set. It fails only for a key longer than
// index.MaxKeyLen bytes, with an error wrapping index.ErrKeyTooLong.
func (b *Builder) Add(key []byte) error {
	if len(key) > index.MaxKeyLen {
		return fmt.Errorf("%w: %d bytes", index.ErrKeyTooLong, len(key))
	}
	var pre [8]byte
	copy(pre[:], key)
	b.recs = append(b.recs, record{
		prefix: binary.BigEndian.Uint64(pre[:]),
		offLen: uint64(len(b.arena))<<16 | uint64(len(key)),
	})
	b.arena = append(b.arena, key...)
	b.added++
	b.sorted = false
	return nil
}

// AddString adds a copy of key to the set, as Add does.
func (b *Builder) AddString(key string) error {
	return b.Add(unsafeBytes(key))
}

// AddAll adds every key of keys, stopping at the first error.
func (b *Builder) AddAll(keys iter.Seq[[]byte]) error {
	for k := range keys {
		if err := b.Add(k); err != nil {
			return err
		}
	}
	return nil
}

// AddStrings adds every key of keys, stopping at the first error.
func (b *Builder) AddStrings(keys iter.Seq[string]) error {
	for k := range keys {
		if err := b.AddString(k); err != nil {
			return err
		}
	}
	return nil
}

// Stats returns the statistics of the last file written.
func (b *Builder) Stats() Stats { return b.stats }

func (b *Builder) key(r record) []byte {
	return b.arena[r.off() : r.off()+r.len()]
}

// sortKeys sorts the records by key and drops duplicates.
func (b *Builder) sortKeys() {
	if b.sorted {
		return
	}
	slices.SortFunc(b.recs, func(x, y record) int {
		if c := cmp.Compare(x.prefix, y.prefix); c != 0 {
			return c
		}
		return bytes.Compare(b.key(x), b.key(y))
	})
	b.recs = slices.CompactFunc(b.recs, func(x, y record) bool {
		return x.prefix == y.prefix && bytes.Equal(b.key(x), b.key(y))
	})
	b.sorted = true
}
