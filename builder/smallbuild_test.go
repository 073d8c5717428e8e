package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stru-index/stru/index"
)

// smallBuildAllocLimit is the most a build of a few keys may allocate:
// its buffers start small and grow with the set, up to the sizes that
// suit large sets (publishChunk, ioBuffer, maxChunk).
const smallBuildAllocLimit = 256 << 10

// TestSmallBuildAllocations builds an index of three keys in each way a
// caller can and checks that it allocates less than
// smallBuildAllocLimit: a service that builds many small indexes should
// not allocate megabytes of buffers for each, as every section's buffer
// once took 1 or 2 MiB and the key arena 4 MiB. Each way is measured
// five times and the fewest bytes taken, so that an allocation by
// something else in the process does not count.
func TestSmallBuildAllocations(t *testing.T) {
	keys := [][]byte{[]byte("a"), []byte("apple"), []byte("banana")}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "small.stru")
	opts := Options{HashKey: &testKey}
	builderWith := func(t *testing.T) *Builder {
		b := mustNew(t, opts)
		for _, k := range keys {
			if err := b.Add(k); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	sorted := func(t *testing.T, expect bool) {
		w, err := NewSortedWriter(ctx, path, opts)
		if err != nil {
			t.Fatal(err)
		}
		if expect {
			if err := w.Expect(uint64(len(keys)), 12, 6); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range keys {
			if err := w.Add(k); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		build func(t *testing.T)
	}{
		{"Builder.WriteFile", func(t *testing.T) {
			if err := builderWith(t).WriteFile(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"Builder.WriteTo", func(t *testing.T) {
			if _, err := builderWith(t).WriteTo(io.Discard); err != nil {
				t.Fatal(err)
			}
		}},
		{"SortedWriter", func(t *testing.T) { sorted(t, false) }},
		{"SortedWriter with Expect", func(t *testing.T) { sorted(t, true) }},
		{"WriteSorted", func(t *testing.T) {
			seq := func(yield func([]byte, error) bool) {
				for _, k := range keys {
					if !yield(k, nil) {
						return
					}
				}
			}
			if _, err := WriteSorted(ctx, path, seq, opts); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			least := uint64(1<<64 - 1)
			var before, after runtime.MemStats
			for range 5 {
				os.Remove(path)
				runtime.ReadMemStats(&before)
				c.build(t)
				runtime.ReadMemStats(&after)
				least = min(least, after.TotalAlloc-before.TotalAlloc)
			}
			if least >= smallBuildAllocLimit {
				t.Errorf("a build of %d keys allocated %d bytes, want less than %d", len(keys), least, smallBuildAllocLimit)
			}
			if c.name != "Builder.WriteTo" {
				file, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				checkHolds(t, file, keys)
			}
		})
	}
}

// TestSmallBudgetSmallSet builds small sets under the smallest budgets,
// which the arena's first chunk and the records' first array (128 KiB)
// exceed by themselves: spilling such a set to a run would only add a
// run's write buffer (1 MiB) to the memory the build takes, so it is
// written in memory, allocating less than smallBuildAllocLimit for a few
// keys, and less than half that buffer for a thousand (the race
// detector's allocations included). A set that overflows the budget
// while it is collected is still spilled.
func TestSmallBudgetSmallSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "small.stru")
	cases := []struct {
		budget int64
		keys   int
		runs   bool // whether the keys must be spilled
	}{
		{64 << 10, 1, false},
		{64 << 10, 3, false},
		{100 << 10, 1, false},
		{128 << 10, 3, false},
		{128 << 10, 1000, false},
		{256 << 10, 1000, false},
		{64 << 10, 100000, true},
	}
	allocLimit := func(keys int) uint64 {
		if keys <= 3 {
			return smallBuildAllocLimit
		}
		return ioBuffer / 2
	}
	for _, c := range cases {
		keys := make([][]byte, c.keys)
		for i := range keys {
			keys[i] = []byte(fmt.Sprintf("key-%06d", i))
		}
		t.Run(fmt.Sprintf("budget=%d/keys=%d", c.budget, c.keys), func(t *testing.T) {
			least := uint64(1<<64 - 1)
			var before, after runtime.MemStats
			for range 5 {
				os.Remove(path)
				b := mustNew(t, Options{HashKey: &testKey, MemoryBudget: c.budget, TempDir: t.TempDir()})
				runtime.ReadMemStats(&before)
				for _, k := range keys {
					if err := b.Add(k); err != nil {
						t.Fatal(err)
					}
				}
				if err := b.WriteFile(path); err != nil {
					t.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				least = min(least, after.TotalAlloc-before.TotalAlloc)
				if runs := b.Stats().Runs; (runs > 0) != c.runs {
					t.Fatalf("%d runs spilled, want spilling %v", runs, c.runs)
				}
				b.Close()
			}
			if limit := allocLimit(c.keys); !c.runs && least >= limit {
				t.Errorf("the build allocated %d bytes, want less than %d", least, limit)
			}
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkHolds(t, file, keys)
		})
	}
}

// BenchmarkSmallBuild measures writing files of three keys, in memory and
// streamed, with their allocations:
//
//	go test ./builder -run '^$' -bench SmallBuild -benchmem
func BenchmarkSmallBuild(b *testing.B) {
	keys := []string{"a", "apple", "banana"}
	path := filepath.Join(b.TempDir(), "small.stru")
	b.Run("Builder", func(b *testing.B) {
		for b.Loop() {
			bld := mustNew(b, Options{})
			for _, k := range keys {
				bld.AddString(k)
			}
			if err := bld.WriteFile(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SortedWriter", func(b *testing.B) {
		for b.Loop() {
			w, err := NewSortedWriter(context.Background(), path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, k := range keys {
				w.AddString(k)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSectionWriterBuffer writes through sectionWriters of every kind of
// size hint, from offsets on and off the publishChunk grid, and checks
// that the buffer never holds more than publishChunk bytes of memory (the
// budget of a streamed build counts it so), that every write but the last
// ends on a multiple of publishChunk, and that the bytes and checksum are
// those written.
func TestSectionWriterBuffer(t *testing.T) {
	data := make([]byte, 5<<20+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	for _, size := range []uint64{0, 100, 5000, 1<<20 + 3, uint64(len(data))} {
		for _, off := range []uint64{0, 17, publishChunk - 1, publishChunk + 4096} {
			out := &recordingWriter{}
			w := newSectionWriter(out, off, size)
			for p := data; len(p) > 0; {
				n := min(len(p), 1+len(p)%70000)
				w.write(p[:n])
				p = p[n:]
				if cap(w.buf) > publishChunk {
					t.Fatalf("size %d, offset %d: the buffer holds %d bytes, more than %d", size, off, cap(w.buf), publishChunk)
				}
			}
			crc, err := w.flush()
			if err != nil {
				t.Fatal(err)
			}
			for i, end := range out.ends[:len(out.ends)-1] {
				if end%publishChunk != 0 {
					t.Fatalf("size %d, offset %d: write %d ends at %d, not a multiple of %d", size, off, i, end, publishChunk)
				}
			}
			if !bytes.Equal(out.data[off:], data) || crc != index.UpdateChecksum(0, data) {
				t.Fatalf("size %d, offset %d: the bytes or the checksum written are not those given", size, off)
			}
		}
	}
}

// A recordingWriter keeps what is written to it, and where each write ends.
type recordingWriter struct {
	data []byte
	ends []uint64
}

func (r *recordingWriter) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(r.data) {
		r.data = append(r.data, make([]byte, end-len(r.data))...)
	}
	copy(r.data[off:], p)
	r.ends = append(r.ends, uint64(off)+uint64(len(p)))
	return len(p), nil
}
