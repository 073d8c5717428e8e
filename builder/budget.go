package builder

import (
	"crypto/rand"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/stru-index/stru/index"
)

// DefaultMemoryBudget is the memory budget of a build whose
// Options.MemoryBudget is 0: 512 MiB.
const DefaultMemoryBudget = 512 << 20

// Sizes of the buffers of a build that does not fit in its budget. They
// are fixed, or scale with the budget between these bounds, so that a
// small budget is not exceeded by much and a large one is not wasted.
const (
	minChunk       = 64 << 10 // smallest arena chunk: holds the longest key
	maxChunk       = 4 << 20  // largest arena chunk
	ioBuffer       = 1 << 20  // buffer of a file written or read in sequence
	minRunBuffer   = 128 << 10
	maxRunBuffer   = 1 << 20
	maxFanIn       = 64      // runs merged at once
	recordSize     = 16      // bytes of memory per key held by a Builder beyond its bytes
	partRecord     = 16      // bytes of a partition file record: hash and location
	minFilterPiece = 1 << 20 // fewest bytes of the filter a streamed build makes in one pass over the keys
)

// maxPartFiles is how many partition files a streamed build writes at
// once, in one pass over the keys (partition.go). It is a variable so
// that tests can reach the passes of more than one group without a table
// of more than 128 blocks.
var maxPartFiles = 128

// bufferFor returns the size of a buffer for reading or writing size
// bytes in sequence: size, within [16, most]. (16 is the smallest buffer
// bufio makes.)
func bufferFor(size uint64, most int) int {
	return int(max(min(size, uint64(most)), 16))
}

// settings are Options resolved: defaults applied and checked.
type settings struct {
	loadFactor float64
	filterBits uint64 // filter bits per key; 0 for no filter
	hashKey    index.HashKey
	budget     int64  // bytes, at most math.MaxInt; math.MaxInt for no limit
	tempDir    string // Options.TempDir: "" for the default
}

// resolve checks opts and applies the defaults. A nil HashKey draws a
// fresh random key.
func (opts Options) resolve() (settings, error) {
	s := settings{loadFactor: opts.LoadFactor, budget: opts.MemoryBudget, tempDir: opts.TempDir}
	if s.loadFactor == 0 {
		s.loadFactor = DefaultLoadFactor
	}
	if !(s.loadFactor >= MinLoadFactor && s.loadFactor <= MaxLoadFactor) {
		return s, errorf("load factor %v is outside [%v, %v]", opts.LoadFactor, MinLoadFactor, MaxLoadFactor)
	}
	// No budget is larger than math.MaxInt bytes, the most a slice holds:
	// on 32-bit systems a larger one would let a large build place its
	// keys at once and ask make for more (a panic), where this one spills
	// and partitions.
	switch {
	case s.budget == 0:
		s.budget = DefaultMemoryBudget
	case s.budget < 0 || s.budget > math.MaxInt:
		s.budget = math.MaxInt
	}
	switch {
	case opts.FilterBitsPerKey == 0:
		s.filterBits = DefaultFilterBitsPerKey
	case opts.FilterBitsPerKey < 0:
		s.filterBits = 0
	case opts.FilterBitsPerKey > MaxFilterBitsPerKey:
		return s, errorf("%d filter bits per key is more than the maximum of %d", opts.FilterBitsPerKey, MaxFilterBitsPerKey)
	default:
		s.filterBits = uint64(opts.FilterBitsPerKey)
	}
	if opts.HashKey != nil {
		s.hashKey = *opts.HashKey
	} else {
		rand.Read(s.hashKey[:])
	}
	return s, nil
}

// tempDirFor returns the directory in which a build writing the file at
// path (or, with path "", writing to an io.Writer) makes its temporary
// files: Options.TempDir if set, else path's directory, else the system's.
func (s *settings) tempDirFor(path string) string {
	switch {
	case s.tempDir != "":
		return s.tempDir
	case path != "":
		return filepath.Dir(path)
	}
	return os.TempDir()
}

// chunkShift returns log2 of the arena chunk size for a budget: a
// sixteenth of it, within [minChunk, maxChunk].
func chunkShift(budget int64) uint {
	shift := uint(16) // minChunk
	for int64(1)<<(shift+1) <= budget/16 && 1<<(shift+1) <= maxChunk {
		shift++
	}
	return shift
}

// writingBytes estimates the memory that writing n keys held in memory,
// without temporary files, takes besides the keys: a hash and a location
// per key, the whole table and the filter.
func (s *settings) writingBytes(n uint64) int64 {
	return int64(16*n) + tableBytes(index.BucketCount(n, s.loadFactor)) + int64(index.FilterBlocks(n, s.filterBits)*index.FilterBlockSize)
}

// tableBytes is the memory of a table of nb buckets: 64 bytes of slots
// and one of fill count per bucket.
func tableBytes(nb uint64) int64 { return int64(nb) * (index.BucketSize + 1) }

// runBuffer returns the read buffer of each of fanIn runs merged at once
// within the budget.
func runBuffer(budget int64, fanIn int) int {
	return int(min(max(budget/int64(2*fanIn), minRunBuffer), maxRunBuffer))
}

// fanIn returns how many runs are merged at once within the budget.
func fanIn(budget int64) int {
	return int(min(max(budget/(2*minRunBuffer), 2), maxFanIn))
}

// A partition is a range of blocks of the hash table placed at once.
type partition struct {
	first, blocks uint64 // blocks [first, first+blocks)
}

// partitions cuts the table of n keys in nb buckets into ranges of blocks
// whose placement fits in the budget. One partition means the whole table
// fits, with the hashes and locations in ordinal order (16 bytes per key).
// Otherwise each partition's placement holds a hash and a location per
// key (16 bytes),
// estimated from the mean number of keys per block plus 5%, and its
// buckets; a partition is at least one block, whatever the budget.
func partitions(n, nb uint64, budget int64) []partition {
	blocks := index.Blocks(nb)
	if int64(16*n)+tableBytes(nb) <= budget || blocks == 1 {
		return []partition{{0, blocks}}
	}
	keysPerBlock := float64(n) / float64(blocks) * 1.05
	perBlock := float64(tableBytes(nb/blocks)) + keysPerBlock*partRecord
	size := uint64(max(float64(budget)/perBlock, 1))
	var parts []partition
	for first := uint64(0); first < blocks; first += size {
		parts = append(parts, partition{first, min(size, blocks-first)})
	}
	return parts
}

// A scratch is a private directory of temporary files, removed whole by
// remove. Its name starts with ".stru-tmp-".
type scratch struct {
	dir string
	n   int // files created
}

// newScratch creates a scratch directory in dir.
func newScratch(dir string) (*scratch, error) {
	d, err := os.MkdirTemp(dir, ".stru-tmp-")
	if err != nil {
		return nil, errorf("creating a directory for temporary files: %w", err)
	}
	return &scratch{dir: d}, nil
}

// create creates a new file in the scratch directory, named after what.
func (s *scratch) create(what string) (*os.File, error) {
	s.n++
	f, err := os.OpenFile(filepath.Join(s.dir, fmt.Sprintf("%s-%d", what, s.n)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, errorf("creating a temporary file: %w", err)
	}
	return f, nil
}

// remove removes the directory and every file in it. It may be called on
// a nil *scratch, and more than once.
func (s *scratch) remove() error {
	if s == nil || s.dir == "" {
		return nil
	}
	err := os.RemoveAll(s.dir)
	s.dir = ""
	return err
}
