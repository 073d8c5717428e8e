// Package builder writes STRU index files (format.md) from a set of keys.
//
// A Builder collects keys in memory, then WriteTo or WriteFile sorts them,
// drops duplicates, places each key in one of its two hash buckets and
// writes the file. The output depends only on the set of keys and the hash
// key: the same set with the same Options.HashKey gives the same bytes
// whatever order the keys were added in.
//
// Memory: while collecting, a Builder holds each distinct or duplicate key's
// bytes once plus a 16-byte record; writing adds 16 bytes per key (its
// hash, and where its bytes are), 8/LoadFactor bytes of slots (10 at the
// default) plus one byte per bucket, and the filter, FilterBitsPerKey/8
// bytes per key (0.75 at the default). For n keys averaging L bytes a
// build done in memory peaks near n×(L + 43) bytes. Options.MemoryBudget (512 MiB by default) bounds this:
// a build that would need more works through temporary files instead and
// gives the same bytes; see "Builds larger than memory" below.
//
// SortedWriter and WriteSorted build from keys that arrive in ascending
// order, such as a database's keys, streaming them to disk without
// sorting or holding them.
//
// # Builds larger than memory
//
// Options.MemoryBudget, M, bounds the memory a build uses for keys, hashes
// and the hash table; 512 MiB by default (idxbuild --mem). For n distinct
// keys averaging L bytes:
//
//   - Collecting. A Builder holds each key added in L + 16 bytes, in one
//     half of M. When that half is full, a goroutine sorts its keys and
//     writes them, without duplicates, to a temporary file, a run of about
//     M/(2(L+16)) keys, while the next keys fill the other half. WriteFile
//     merges the runs, 64 at most at once (more are first merged 64 at a
//     time into longer runs), writing the key data straight into the
//     output file. A build that fits in M, including the table below, is
//     done in memory as before, without temporary files; so is one whose
//     hashes, table and filter take less than a run's 1 MiB write buffer
//     (about 39 000 keys), whatever M, since spilling it would take more
//     memory than writing it.
//   - Sorted input. SortedWriter streams the key data to a temporary file,
//     or, after SortedWriter.Expect, straight into the output's, and each
//     key's length (2 bytes) to another; it holds only the last key and
//     buffers.
//   - Placing. Hashing and placing the keys needs 16 bytes per key (a hash
//     and a location) and 65 bytes per bucket, 8.1/LoadFactor bytes per
//     key: about 26 bytes per key at the default load factor. When that
//     exceeds M, the table is placed in partitions, ranges of its blocks
//     of 65536 buckets (format.md §3) chosen to fit in M at about 26 bytes
//     per key, each
//     from a temporary file of 16 bytes per key written in one pass over
//     the keys. A partition is at least one block (about 11 MiB at the
//     default load factor), so budgets smaller than that are exceeded by
//     placement. The file is the same as if placed at once (format.md §9).
//   - Filtering. Once the table is placed, the filter (0.75 bytes per key
//     at the default size) is built in pieces of consecutive blocks that
//     fit in M, at least 1 MiB, one pass over the key data per piece: one
//     pass up to 700 million keys at the default budget.
//
// Memory is then about M plus a few MiB of buffers, whatever n. The
// buffers start small and grow with the set, so a build of a few keys, in
// memory or streamed, allocates less than 256 KiB besides the keys. The Go
// runtime may let garbage reach the size of the live heap before it
// collects; a soft memory limit slightly above M (GOMEMLIMIT, or
// runtime/debug.SetMemoryLimit, which idxbuild sets) keeps the process
// near M.
//
// Temporary disk space, in Options.TempDir (default: the output file's
// directory; for a Builder's runs spilled before it knows the output, the
// system's temporary directory): the runs, n(L+2) bytes, kept until
// Builder.Close; while writing, 2n bytes of lengths and, when partitioned,
// 16n bytes of partition files; for SortedWriter without Expect, n·L bytes
// of key data instead of runs. The output itself, about n(L+15.75) bytes
// at the defaults (15 of slots, offsets and lengths, and 0.75 of filter),
// is written beside its destination.
//
// Time: sorting runs costs O(n log n) comparisons in memory; the key data
// is written to disk twice, by a Builder that spills (in a run, then in
// the output) and by SortedWriter without Expect (in a temporary file,
// then in the output), once by SortedWriter after Expect, and read back
// once to hash it (once more per re-key, which is rare); the partition
// files are written and read once. The merge is a
// single pass while there are at most 64 runs, that is while
// n(L+16) ≤ 32·M (330 million 36-byte keys at the default budget),
// and one more pass over the key data for each further factor of 64.
// Sorting runs, placing blocks and translating slots use all the
// processors (GOMAXPROCS); the rest is one pass on one. Measured with
// idxbuild on 2 cores with the default budget: 10 million random keys of
// 8–64 bytes in random order take about 5 s and 790 MB of peak RSS, 100
// million about 65 s and 740 MB; the same keys sorted, with --sorted,
// about 2 s (200 MB) and 29 s (540 MB): 3.5 to 5 million keys a second.
package builder

import (
	"fmt"
	"iter"

	"github.com/stru-index/stru/index"
)

// Load factors: the fraction of slots that hold a key.
const (
	DefaultLoadFactor = 0.8  // 10 bytes of slots per key; 41% of misses read a second bucket
	MinLoadFactor     = 0.05 // below this the table is mostly empty space
	MaxLoadFactor     = 0.95 // above this placing keys in two choices of bucket starts to fail
)

// Filter sizes, in bits per key (format.md §3.1). Each key sets 4 bits of a
// 512-bit block; at 6 bits per key the filter turns away about 94% of
// absent keys before their SipHash, in 0.75 bytes per key.
const (
	DefaultFilterBitsPerKey = 6
	MaxFilterBitsPerKey     = 64
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

	// FilterBitsPerKey sizes the filter that lets lookups of absent keys
	// skip the hash table (format.md §3.1): 0 means
	// DefaultFilterBitsPerKey, a negative value means no filter, and at
	// most MaxFilterBitsPerKey. More bits turn away more absent keys; with
	// no filter, a lookup of a present key is 5–20% faster and one of an
	// absent key 2.5–4 times slower (README.md, Performance).
	FilterBitsPerKey int

	// MemoryBudget bounds, in bytes, the memory a build uses for keys,
	// hashes and the hash table: 0 means DefaultMemoryBudget (512 MiB),
	// and a negative value means no bound (everything in memory). A build
	// that would exceed it spills to temporary files in TempDir; the
	// output is the same. The package documentation says how memory,
	// temporary disk space and time depend on the budget. On 32-bit
	// systems the budget is at most math.MaxInt bytes (2 GiB), the most a
	// slice holds: no bound, or a larger one, means that.
	MemoryBudget int64

	// TempDir is the directory for temporary files. When empty, a build
	// writing a file uses the file's directory, and otherwise (a Builder
	// spilling while keys are added, before it knows where it will write;
	// WriteTo) the system's (os.TempDir). Every build makes its own
	// subdirectory, named ".stru-tmp-" and digits, and removes it when
	// done, failed or canceled; the runs a Builder spilled, while keys
	// were added or when it was first written, stay, so that it can be
	// written again, until Close (or until the Builder is garbage
	// collected: not at the program's exit).
	TempDir string
}

// Stats describe the last file a Builder wrote.
type Stats struct {
	Keys         uint64        // distinct keys in the file
	Duplicates   uint64        // additions dropped because the key was already in the set: a key added k times counts k−1
	KeyBytes     uint64        // bytes of key data
	FileBytes    uint64        // bytes in the file
	Buckets      uint64        // 64-byte buckets in the hash table
	SecondBucket uint64        // keys stored in their second bucket
	Rekeys       int           // times the hash key was replaced to place every key
	HashKey      index.HashKey // the hash key the file was built with
	Runs         int           // sorted runs of keys spilled to temporary files; 0 if the keys fit in memory
	Partitions   int           // ranges of blocks placed one at a time from temporary files; 0 if the table fit in memory
}

// OverheadPerKey returns the file bytes per key beyond the key bytes. For a
// file with no keys, where there is nothing to divide by, it returns the
// file's size: all of it is overhead.
func (s Stats) OverheadPerKey() float64 {
	if s.Keys == 0 {
		return float64(s.FileBytes)
	}
	return float64(s.FileBytes-s.KeyBytes) / float64(s.Keys)
}

// A Builder collects keys and writes them as a STRU file. It is not safe
// for concurrent use.
//
// A Builder holds the keys in memory until they fill half of
// Options.MemoryBudget; then, in the background, it sorts them and writes
// them to a temporary file (a run), while it collects the next keys in
// the other half. Writing merges the runs. A Builder that has spilled
// holds temporary files until Close.
type Builder struct {
	settings                  // loadFactor, filterBits, hashKey, budget, tempDir
	keyBuf                    // the keys being collected
	spare    keyBuf           // the keys a background spill writes, or their memory, kept for reuse
	spilling chan spillResult // while a background spill runs: where its run comes
	failed   error            // a background spill's error: the Builder lost keys
	added    uint64           // keys added, duplicates included
	spill    *spill           // the runs written, once the budget has been exceeded
	stats    Stats
}

// New returns an empty Builder.
func New(opts Options) (*Builder, error) {
	s, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	shift := chunkShift(s.budget / 2)
	return &Builder{settings: s, keyBuf: keyBuf{chunkShift: shift}, spare: keyBuf{chunkShift: shift}}, nil
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

// Add adds a copy of key to the set. It fails for a key longer than
// index.MaxKeyLen bytes, with an error wrapping index.ErrKeyTooLong, and
// when the keys held exceed the memory budget and writing them to a
// temporary file fails. After a failure to write a run in the background,
// the keys of that run are lost: Add, WriteTo and WriteFile return the
// error from then on, until Close empties the Builder.
func (b *Builder) Add(key []byte) error {
	if b.failed != nil {
		return b.failed
	}
	if len(key) > index.MaxKeyLen {
		return fmt.Errorf("%w: %d bytes", index.ErrKeyTooLong, len(key))
	}
	if !b.fits(len(key), b.budget/2) {
		if err := b.spillBackground(b.tempDirFor("")); err != nil {
			return err
		}
	}
	b.hold(key)
	b.added++
	return nil
}

// Close removes the temporary files of a Builder that has spilled keys to
// disk and frees its memory. The Builder then holds no keys, as New
// returns it; Stats still describes the last file written. Close may be
// called more than once; a Builder that never exceeded its budget has no
// temporary files, and Close then only empties it.
func (b *Builder) Close() error {
	b.waitSpill() // an error is the Add's or the write's to report
	err := b.spill.remove()
	b.spill = nil
	b.release(false)
	b.spare.release(false)
	b.added = 0
	b.failed = nil
	return err
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
