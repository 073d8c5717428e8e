package builder

import (
	"fmt"
	"math"
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
