package builder

import (
	"errors"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/stru-index/stru/index"
)

// TestChunkShift checks the arena's chunk size for a budget: the largest
// power of two at most a sixteenth of it, within [minChunk, maxChunk].
func TestChunkShift(t *testing.T) {
	for _, c := range []struct {
		budget int64
		want   int // chunk bytes
	}{
		{0, minChunk},
		{16*minChunk - 1, minChunk},
		{16 * minChunk, minChunk},
		{16*2*minChunk - 1, minChunk},
		{16 * 2 * minChunk, 2 * minChunk},
		{16*maxChunk - 1, maxChunk / 2},
		{16 * maxChunk, maxChunk},
		{16*2*maxChunk - 1, maxChunk},
		{16 * 2 * maxChunk, maxChunk},
		{math.MaxInt64, maxChunk},
	} {
		if got := 1 << chunkShift(c.budget); got != c.want {
			t.Errorf("chunkShift(%d): chunks of %d bytes, want %d", c.budget, got, c.want)
		}
	}
}

// TestMergeBuffers checks the read buffers of the runs merged at once:
// between 2 and maxFanIn runs, all of them at the default budget (so that
// the merge is one pass while there are at most 64 runs, as the package
// documentation says), each with a buffer in [minRunBuffer,
// maxRunBuffer], and together at most half the budget, or two buffers of
// minRunBuffer for a budget smaller than that.
func TestMergeBuffers(t *testing.T) {
	budgets := []int64{0, 1, 4*minRunBuffer - 1, 4 * minRunBuffer, smallBudget, 1 << 20, 5<<20 + 3, 4 * maxFanIn * minRunBuffer, 1 << 30, DefaultMemoryBudget, math.MaxInt64}
	for _, budget := range budgets {
		fan := fanIn(budget)
		if fan < 2 || fan > maxFanIn {
			t.Errorf("budget %d: %d runs merged at once, want 2 to %d", budget, fan, maxFanIn)
		}
		for _, runs := range []int{1, 2, fan} {
			buf := runBuffer(budget, runs)
			if buf < minRunBuffer || buf > maxRunBuffer {
				t.Errorf("budget %d, %d runs: a buffer of %d bytes, want %d to %d", budget, runs, buf, minRunBuffer, maxRunBuffer)
			}
			if total := int64(runs * buf); total > max(budget/2, 2*minRunBuffer) {
				t.Errorf("budget %d, %d runs: buffers of %d bytes, %d in all, more than half the budget", budget, runs, buf, total)
			}
		}
	}
	if fan := fanIn(DefaultMemoryBudget); fan != maxFanIn {
		t.Errorf("the default budget merges %d runs at once, want %d", fan, maxFanIn)
	}
}

// TestInMemoryThreshold checks when a Builder writes its keys in memory
// rather than through a run: when the keys held and what writing them
// takes fit in the budget, what writing takes being, as the package
// documentation says, 16 bytes per key, 64 bytes of slots and one of
// fill count per bucket, and the filter; or when writing takes less than
// the ioBuffer bytes through which a run is written.
func TestInMemoryThreshold(t *testing.T) {
	keys := randomKeys(newRand(t), 60000)
	for _, c := range []struct {
		n          int
		loadFactor float64
		filterBits int
	}{
		{60000, 0, 0},
		{60000, 0.05, 0},
		{60000, MaxLoadFactor, MaxFilterBitsPerKey},
		{60000, 0, -1},
		{100, 0, 0}, // writing takes less than ioBuffer
		{0, 0, 0},
	} {
		t.Run(fmt.Sprintf("%d keys, load factor %v, filter %d", c.n, c.loadFactor, c.filterBits), func(t *testing.T) {
			b := mustNew(t, Options{HashKey: &testKey, LoadFactor: c.loadFactor, FilterBitsPerKey: c.filterBits, MemoryBudget: -1})
			if err := b.AddAll(func(yield func([]byte) bool) {
				for _, k := range keys[:c.n] {
					if !yield(k) {
						return
					}
				}
			}); err != nil {
				t.Fatal(err)
			}
			n := uint64(c.n)
			writing := int64(16*n + index.BucketCount(n, b.loadFactor)*(index.BucketSize+1) + index.FilterBlocks(n, b.filterBits)*index.FilterBlockSize)
			if c.n >= 60000 && writing <= ioBuffer {
				t.Fatalf("writing %d keys takes %d bytes, not more than ioBuffer: the set is too small for the test", c.n, writing)
			}
			// The budget is set once the keys are held: with it, Add
			// would have spilled them.
			for _, d := range []int64{-1, 0, 1} {
				b.budget = b.heldBytes() + writing + d
				want := d < 0 && writing > ioBuffer
				if got := b.external(); got != want {
					t.Errorf("keys held in %d bytes, writing them in %d, budget %d: external() = %v, want %v", b.heldBytes(), writing, b.budget, got, want)
				}
			}
		})
	}
}

// TestPartitions cuts tables of one to many blocks under budgets from
// none to ample and checks the partitions against partitions' doc: one
// partition when the whole table and 16 bytes per key fit in the budget,
// or when the table is one block; otherwise consecutive ranges of equal
// size, the last perhaps shorter, that cover every block, each of as many
// blocks as fit in the budget, and at least one, at 65 bytes per bucket
// and 16 per key, the mean number of keys per block plus 5%.
func TestPartitions(t *testing.T) {
	rng := newRand(t)
	for _, c := range []struct {
		n          uint64
		loadFactor float64
	}{
		{1000, DefaultLoadFactor}, // one block
		{55000, MinLoadFactor},    // 3 blocks
		{3_000_000, MaxLoadFactor},
		{10_000_000, DefaultLoadFactor},
		{100_000_000, 0.3},
	} {
		nb := index.BucketCount(c.n, c.loadFactor)
		blocks := index.Blocks(nb)
		whole := int64(16*c.n + nb*(index.BucketSize+1))
		perBlock := float64(nb/blocks)*(index.BucketSize+1) + float64(c.n)/float64(blocks)*1.05*partRecord
		budgets := []int64{0, 1, whole - 1, whole, whole + 1, math.MaxInt64}
		for k := range 2 * blocks {
			budgets = append(budgets, int64(perBlock*float64(k)), int64(perBlock*float64(k))+1, rng.Int64N(whole))
		}
		for _, budget := range budgets {
			parts := partitions(c.n, nb, budget)
			what := fmt.Sprintf("%d keys in %d blocks of %d buckets, budget %d: partitions %v", c.n, blocks, nb/blocks, budget, parts)
			if len(parts) == 0 {
				t.Fatalf("%s: none", what)
			}
			size, next := parts[0].blocks, uint64(0)
			for i, p := range parts {
				if p.first != next || p.blocks == 0 || p.blocks > size || i < len(parts)-1 && p.blocks != size {
					t.Fatalf("%s: partition %d does not follow the one before, or is not of %d blocks", what, i, size)
				}
				next += p.blocks
			}
			if next != blocks {
				t.Fatalf("%s: they end at block %d, not %d", what, next, blocks)
			}
			if budget >= whole || blocks == 1 {
				if len(parts) != 1 {
					t.Fatalf("%s: the whole table fits, want one partition", what)
				}
				continue
			}
			// Over or under by float rounding is not a failure.
			if size > 1 && float64(size)*perBlock > float64(budget)*(1+1e-9) {
				t.Fatalf("%s: %d blocks take %.0f bytes, more than the budget", what, size, float64(size)*perBlock)
			}
			if float64(size+1)*perBlock < float64(budget)*(1-1e-9) {
				t.Fatalf("%s: %d blocks, where %d fit in the budget", what, size, size+1)
			}
		}
	}
}

// TestPlacementBudget checks the budget a streamed build leaves for
// placing its table: the build's budget less the streamer's own buffers,
// the readers of the key data and of the lengths (ioBuffer bytes each)
// and the section writers of the key data, the lengths and the buckets
// (publishChunk bytes each); none when they take it all.
func TestPlacementBudget(t *testing.T) {
	buffers := int64(2*ioBuffer + 3*publishChunk)
	for _, c := range []struct {
		budget, want int64
	}{
		{1, 0},
		{buffers - 1, 0},
		{buffers, 0},
		{buffers + 1, 1},
		{0, DefaultMemoryBudget - buffers},
		{-1, math.MaxInt - buffers},
	} {
		set, err := Options{MemoryBudget: c.budget}.resolve()
		if err != nil {
			t.Fatal(err)
		}
		s := &streamer{set: set}
		if got := s.placementBudget(); got != c.want {
			t.Errorf("budget %d: placementBudget() = %d, want %d", c.budget, got, c.want)
		}
	}
}

// TestScratchRemove checks that removing a scratch directory removes it
// and its files, and may be done again, and on a nil *scratch.
func TestScratchRemove(t *testing.T) {
	var none *scratch
	if err := none.remove(); err != nil {
		t.Fatalf("remove on a nil scratch: %v", err)
	}
	tmp := t.TempDir()
	s, err := newScratch(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, what := range []string{"run", "run", "keys"} {
		f, err := s.create(what)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if names := dirEntries(t, s.dir); len(names) != 3 {
		t.Fatalf("3 files created, the directory holds %q", names)
	}
	for range 2 {
		if err := s.remove(); err != nil {
			t.Fatal(err)
		}
		checkEmpty(t, tmp, "after remove")
	}
}

// TestPartFileClose checks that closing a partition file closes and
// removes it, and may be done again.
func TestPartFileClose(t *testing.T) {
	s, err := newScratch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.remove()
	f, err := s.create("partition")
	if err != nil {
		t.Fatal(err)
	}
	p := &partFile{f: f}
	for range 2 {
		p.close()
		if names := dirEntries(t, s.dir); len(names) != 0 {
			t.Fatalf("after close the directory holds %q", names)
		}
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("writing the file after close: %v, want os.ErrClosed", err)
	}
}
