package builder

import (
	"math"
	"testing"
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
