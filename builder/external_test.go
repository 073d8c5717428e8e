package builder

// Tests of builds larger than their memory budget: spilled runs merged,
// the hash table placed a range of blocks at a time, and SortedWriter.
// Each compares the file with the one the in-memory build writes for the
// same keys and hash key, byte for byte.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stru-index/stru/index"
)

// smallBudget is small enough that a few thousand keys spill several runs
// and that a table of several blocks is placed one block at a time.
const smallBudget = 64 << 10

// inMemory returns the file the in-memory build writes for keys.
func inMemory(t *testing.T, keys [][]byte, opts Options) ([]byte, Stats) {
	t.Helper()
	opts.MemoryBudget = -1
	return build(t, keys, opts)
}

// dirEntries returns the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// checkEmpty fails the test if dir holds anything.
func checkEmpty(t *testing.T, dir, when string) {
	t.Helper()
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Fatalf("%s: temporary directory holds %q, want nothing", when, names)
	}
}

// sameStats fails the test if the statistics of a build through
// temporary files differ from those of the in-memory build, except for
// the counts of runs and partitions.
func sameStats(t *testing.T, got, want Stats) {
	t.Helper()
	got.Runs, got.Partitions = 0, 0
	if got != want {
		t.Fatalf("Stats = %+v,\nin memory %+v", got, want)
	}
}

// checkSameFile fails the test at the first byte where got differs from
// want.
func checkSameFile(t *testing.T, got, want []byte, what string) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < min(len(got), len(want)) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: %d bytes differ from the in-memory build's %d at offset %#x", what, len(got), len(want), i)
}

// spillCase is a set of keys added in a given order, with the options of
// the build and the temporary files it must use.
type spillCase struct {
	name       string
	keys       [][]byte // in order of addition, duplicates included
	budget     int64
	loadFactor float64
	runs       bool // must spill more than one run
	partitions int  // Stats.Partitions: 0 when the table is placed whole
	filterBits int  // Options.FilterBitsPerKey
}

func spillCases(rng *rand.Rand) []spillCase {
	shuffled := func(keys [][]byte) [][]byte {
		keys = slices.Clone(keys)
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		return keys
	}
	// 55000 keys at load factor 0.05 make 137500 buckets: 3 blocks.
	many := randomKeys(rng, 55000)
	withDups := shuffled(append(slices.Clone(many), many[:5000]...))
	few := randomKeys(rng, 20000)
	twice := append(shuffled(few), shuffled(few)...)
	var long [][]byte
	for _, n := range []int{index.MaxKeyLen, index.MaxKeyLen - 1, 60000, 40000, 1000, 0, 1, 300} {
		k := bytes.Repeat([]byte{byte(n)}, n)
		if n > 2 {
			k[n/2] = 0
		}
		long = append(long, k)
	}
	long = append(long, randomKeys(rng, 3000)...)
	prefixes := [][]byte{[]byte(""), []byte("a"), []byte("ab"), []byte("abc"), []byte("a\x00"), []byte("\xff"), []byte("\xff\xff")}
	for i := range 5000 {
		prefixes = append(prefixes, fmt.Appendf(nil, "a%d", i), fmt.Appendf(nil, "ab%d", i))
	}
	return []spillCase{
		{"runs and partitions, duplicates", withDups, smallBudget, 0.05, true, 3, 0},
		// The keys fit in half the budget, but not with their table:
		// they go to a run when written.
		{"one run when written, partitions", withDups, 11 << 20, 0.05, false, 3, 0},
		{"runs, the whole table at once", few, 256 << 10, 0, true, 0, 0},
		{"every key in two runs", twice, smallBudget, 0, true, 0, 0},
		{"long keys", shuffled(long), smallBudget, 0, true, 0, 0},
		{"empty key and prefixes", shuffled(prefixes), smallBudget, 0.5, true, 0, 0},
		{"one key", [][]byte{[]byte("only")}, smallBudget, 0, false, 0, 0},
		// A budget of 1 byte, which even an empty table exceeds: the
		// build goes through the runs, of which there are none.
		{"no keys, budget 1", nil, 1, 0, false, 0, 0},
		{"one key, budget 1", [][]byte{[]byte("only")}, 1, 0, false, 0, 0},
		// 150000 keys at 64 bits make 18750 filter blocks: two pieces of
		// at most minFilterPiece bytes (16384 blocks), two passes.
		{"filter in two pieces", shuffled(randomKeys(rng, 150000)), smallBudget, 0, true, 0, 64},
		{"no filter", withDups, smallBudget, 0.05, true, 3, -1},
	}
}

// TestSpillMatchesInMemory builds sets through spilled runs and
// partitions and checks that WriteFile and WriteTo give the in-memory
// build's bytes and Stats, that runs and partitions were used where
// expected, and that the temporary directory holds nothing after Close.
func TestSpillMatchesInMemory(t *testing.T) {
	rng := newRand(t)
	type result struct {
		file  []byte
		stats Stats
	}
	memo := map[string]result{} // in-memory builds, by key set and load factor
	for _, c := range spillCases(rng) {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{HashKey: &testKey, LoadFactor: c.loadFactor, FilterBitsPerKey: c.filterBits}
			id := fmt.Sprintf("%p %d %v %d", c.keys, len(c.keys), c.loadFactor, c.filterBits)
			if _, ok := memo[id]; !ok {
				want, wantStats := inMemory(t, c.keys, opts)
				checkHolds(t, want, c.keys)
				memo[id] = result{want, wantStats}
			}
			want, wantStats := memo[id].file, memo[id].stats

			tmp, outDir := t.TempDir(), t.TempDir()
			opts.MemoryBudget, opts.TempDir = c.budget, tmp
			b := mustNew(t, opts)
			for _, k := range c.keys {
				if err := b.Add(k); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(outDir, "set.stru")
			if err := b.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkSameFile(t, got, want, "WriteFile")
			st := b.Stats()
			sameStats(t, st, wantStats)
			t.Logf("%d runs, %d partitions", st.Runs, st.Partitions)
			if c.runs && st.Runs < 2 || st.Partitions != c.partitions {
				t.Fatalf("%d runs and %d partitions; want several runs: %v, and %d partitions", st.Runs, st.Partitions, c.runs, c.partitions)
			}
			if names := dirEntries(t, outDir); !slices.Equal(names, []string{"set.stru"}) {
				t.Fatalf("output directory holds %q, want only set.stru", names)
			}
			// Between writes, only the runs' directory remains.
			if names := dirEntries(t, tmp); st.Runs > 0 && (len(names) != 1 || !strings.HasPrefix(names[0], ".stru-tmp-")) {
				t.Fatalf("after WriteFile the temporary directory holds %q, want one directory of runs", names)
			}

			// The runs stay until Close: the Builder can be written again.
			var buf bytes.Buffer
			if _, err := b.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			checkSameFile(t, buf.Bytes(), want, "WriteTo after WriteFile")
			sameStats(t, b.Stats(), wantStats)
			if runs := b.Stats().Runs; runs != st.Runs {
				t.Fatalf("WriteTo after WriteFile spilled %d runs, WriteFile %d: with no key added between them, it spills none", runs, st.Runs)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			checkEmpty(t, tmp, "after Close")
		})
	}
}

// TestSpillFloodRekeys builds a set that cannot be placed under its
// first hash key through temporary files: the streamed build must re-key
// exactly as the in-memory one does.
func TestSpillFloodRekeys(t *testing.T) {
	s := makeFloodSet(rand.New(rand.NewPCG(3, 0x666c6f6f64)), []int{40}, false)
	opts := Options{HashKey: &floodKey}
	want, wantStats := inMemory(t, s.keys, opts)
	if wantStats.Rekeys < 1 {
		t.Fatalf("the in-memory build did not re-key")
	}
	tmp := t.TempDir()
	opts.MemoryBudget, opts.TempDir = 4<<10, tmp
	b := mustNew(t, opts)
	for _, k := range s.keys {
		if err := b.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	got, st := writeBytes(t, b), b.Stats()
	checkSameFile(t, got, want, "spilled build")
	sameStats(t, st, wantStats)
	// The spilled runs stay until Close, which removes them.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// And from sorted input.
	sorted := sortedSet(s.keys)
	path := filepath.Join(t.TempDir(), "flood.stru")
	st, err := WriteSorted(context.Background(), path, seq2(sorted), opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkSameFile(t, got, want, "WriteSorted")
	sameStats(t, st, wantStats)
	checkEmpty(t, tmp, "after WriteSorted")
}

// seq2 returns keys as the sequence WriteSorted takes.
func seq2(keys [][]byte) func(func([]byte, error) bool) {
	return func(yield func([]byte, error) bool) {
		for _, k := range keys {
			if !yield(k, nil) {
				return
			}
		}
	}
}

// TestSortedMatchesBuilder writes sorted keys, some repeated, with
// SortedWriter and WriteSorted under several budgets and checks the files
// are the in-memory Builder's, byte for byte.
func TestSortedMatchesBuilder(t *testing.T) {
	rng := newRand(t)
	many := sortedSet(randomKeys(rng, 55000)) // 137500 buckets at load factor 0.05: 3 blocks
	var repeated [][]byte
	for i, k := range many[:10000] {
		repeated = append(repeated, k)
		for range i % 3 {
			repeated = append(repeated, k)
		}
	}
	cases := []struct {
		name       string
		keys       [][]byte
		budget     int64
		loadFactor float64
		partitions int // Stats.Partitions: 0 when the table is placed whole
		partFiles  int // maxPartFiles for the build, if not 0
	}{
		{"no keys", nil, 0, 0, 0, 0},
		{"the empty key", [][]byte{{}}, 0, 0, 0, 0},
		{"repeated keys", repeated, 0, 0, 0, 0},
		{"partitions", many, smallBudget, 0.05, 3, 0},
		// The partition files written in two passes over the keys,
		// two then one, and in three passes.
		{"partitions, two groups", many, smallBudget, 0.05, 3, 2},
		{"partitions, a group each", many, smallBudget, 0.05, 3, 1},
		// Two blocks fit in what is left of 15 MiB once the streamer's
		// 8 MiB of buffers are counted (TestPlacementBudget), the whole
		// table does not: blocks [0, 2), then [2, 3).
		{"partitions of two blocks", many, 15 << 20, 0.05, 2, 0},
		{"default budget", many, 0, 0.05, 0, 0},
		{"repeated keys, small budget", repeated, smallBudget, 0.95, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.partFiles != 0 {
				defer func(n int) { maxPartFiles = n }(maxPartFiles)
				maxPartFiles = c.partFiles
			}
			opts := Options{HashKey: &testKey, LoadFactor: c.loadFactor}
			want, wantStats := inMemory(t, c.keys, opts)
			tmp, outDir := t.TempDir(), t.TempDir()
			opts.MemoryBudget, opts.TempDir = c.budget, tmp
			path := filepath.Join(outDir, "sorted.stru")

			w, err := NewSortedWriter(context.Background(), path, opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, k := range c.keys {
				if i%2 == 0 {
					err = w.Add(k)
				} else {
					err = w.AddString(string(k))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s exists before Close: %v", path, err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkSameFile(t, got, want, "SortedWriter")
			st := w.Stats()
			sameStats(t, st, wantStats)
			if st.Partitions != c.partitions {
				t.Fatalf("%d partitions, want %d", st.Partitions, c.partitions)
			}
			checkEmpty(t, tmp, "after Close")
			if err := w.Abort(); err != nil {
				t.Fatalf("Abort after Close: %v", err)
			}
			if err := w.Add([]byte("zzzz")); err == nil {
				t.Fatal("Add after Close succeeded")
			}
			if err := w.Expect(1, 1, 1); err == nil {
				t.Fatal("Expect after Close succeeded")
			}
			// Close after Close returns what the first returned, nil,
			// whatever failed in between.
			if err := w.Close(); err != nil {
				t.Fatalf("Close after a Close that succeeded: %v", err)
			}

			st, err = WriteSorted(context.Background(), path+"2", seq2(c.keys), opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err = os.ReadFile(path + "2")
			if err != nil {
				t.Fatal(err)
			}
			checkSameFile(t, got, want, "WriteSorted")
			sameStats(t, st, wantStats)
			checkEmpty(t, tmp, "after WriteSorted")
		})
	}
}

// TestSortedOrderError gives SortedWriter keys out of order at various
// positions: Add reports the first with its position and both keys, Close
// returns the same error, the old file stays and no temporary file
// remains.
func TestSortedOrderError(t *testing.T) {
	ks := func(ss ...string) [][]byte {
		var out [][]byte
		for _, s := range ss {
			out = append(out, []byte(s))
		}
		return out
	}
	long := strings.Repeat("x", 100)
	cases := []struct {
		name      string
		keys      [][]byte
		index     uint64
		key, prev string
	}{
		{"second key smaller", ks("b", "a"), 1, "a", "b"},
		{"empty key after another", ks("a", ""), 1, "", "a"},
		{"after duplicates", ks("a", "b", "b", "b", "ab"), 4, "ab", "b"},
		{"prefix after longer", ks("a", "abc", "ab"), 2, "ab", "abc"},
		{"byte order, not UTF-8 order", ks("\xff", "\x7f"), 1, "\x7f", "\xff"},
		{"long keys", ks(long+"b", long+"a"), 1, long + "a", long + "b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmp, outDir := t.TempDir(), t.TempDir()
			path := filepath.Join(outDir, "x.stru")
			old := []byte("old contents")
			if err := os.WriteFile(path, old, 0o644); err != nil {
				t.Fatal(err)
			}
			w, err := NewSortedWriter(context.Background(), path, Options{TempDir: tmp})
			if err != nil {
				t.Fatal(err)
			}
			var addErr error
			for i, k := range c.keys {
				if addErr = w.Add(k); addErr != nil {
					if uint64(i) != c.index {
						t.Fatalf("Add of key %d failed, want key %d to: %v", i, c.index, addErr)
					}
					break
				}
			}
			var oe *OrderError
			if !errors.As(addErr, &oe) {
				t.Fatalf("Add: %v, want an *OrderError", addErr)
			}
			if oe.Index != c.index || string(oe.Key) != c.key || string(oe.Prev) != c.prev {
				t.Fatalf("OrderError{%d, %q, %q}, want {%d, %q, %q}", oe.Index, oe.Key, oe.Prev, c.index, c.key, c.prev)
			}
			if msg := oe.Error(); !strings.Contains(msg, fmt.Sprintf("key %d,", c.index)) || !strings.Contains(msg, "out of order") {
				t.Errorf("message %q does not give the position", msg)
			}
			if err := w.Add([]byte("zzz")); err != addErr {
				t.Fatalf("Add after the error: %v, want the same error", err)
			}
			if err := w.Close(); err != addErr {
				t.Fatalf("Close: %v, want Add's error", err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
				t.Fatalf("%s changed", path)
			}
			if names := dirEntries(t, outDir); len(names) != 1 {
				t.Fatalf("output directory holds %q", names)
			}
			checkEmpty(t, tmp, "after Close")

			// WriteSorted stops at the same key.
			_, err = WriteSorted(context.Background(), path, seq2(c.keys), Options{TempDir: tmp})
			if !errors.As(err, &oe) || oe.Index != c.index {
				t.Fatalf("WriteSorted: %v, want the OrderError of key %d", err, c.index)
			}
			checkEmpty(t, tmp, "after WriteSorted")
		})
	}
	t.Run("long keys are shortened in the message", func(t *testing.T) {
		e := &OrderError{Index: 7, Key: bytes.Repeat([]byte("a"), 1000), Prev: []byte("b")}
		if msg := e.Error(); len(msg) > 300 || !strings.Contains(msg, `..."`) && !strings.Contains(msg, `"...`) {
			t.Fatalf("message of %d bytes: %q", len(msg), msg)
		}
	})
	// A key is shown whole up to 64 bytes, and cut to its first 64 bytes
	// and "..." from 65 on.
	for _, n := range []int{0, 1, 63, 64, 65, 1000} {
		t.Run(fmt.Sprintf("a key of %d bytes in the message", n), func(t *testing.T) {
			key := bytes.Repeat([]byte("k"), n)
			shown := strconv.Quote(string(key[:min(n, 64)]))
			if n > 64 {
				shown += "..."
			}
			e := &OrderError{Index: 3, Key: key, Prev: []byte("z")}
			want := fmt.Sprintf("stru: keys out of order: key 3, %s, is less than the key before it, \"z\"", shown)
			if msg := e.Error(); msg != want {
				t.Fatalf("message %q, want %q", msg, want)
			}
		})
	}
}

// TestSortedWriterErrors covers the other ways a SortedWriter fails: a key
// too long, an iterator's error, an unusable temporary directory, an
// output directory that does not exist. Nothing is left behind.
func TestSortedWriterErrors(t *testing.T) {
	ctx := context.Background()
	tmp, outDir := t.TempDir(), t.TempDir()
	path := filepath.Join(outDir, "x.stru")

	w, err := NewSortedWriter(ctx, path, Options{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(make([]byte, index.MaxKeyLen+1)); !errors.Is(err, index.ErrKeyTooLong) {
		t.Fatalf("Add of a key too long: %v", err)
	}
	if err := w.Close(); !errors.Is(err, index.ErrKeyTooLong) {
		t.Fatalf("Close: %v", err)
	}
	checkEmpty(t, tmp, "after a key too long")

	boom := errors.New("boom")
	_, err = WriteSorted(ctx, path, func(yield func([]byte, error) bool) {
		_ = yield([]byte("a"), nil) && yield(nil, boom)
	}, Options{TempDir: tmp})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteSorted with a failing iterator: %v", err)
	}
	checkEmpty(t, tmp, "after the iterator's error")

	if _, err := NewSortedWriter(ctx, path, Options{TempDir: filepath.Join(tmp, "missing")}); err == nil {
		t.Fatal("NewSortedWriter with a missing temporary directory succeeded")
	}
	if _, err := NewSortedWriter(ctx, path, Options{LoadFactor: 2}); err == nil {
		t.Fatal("NewSortedWriter with load factor 2 succeeded")
	}

	missing := filepath.Join(outDir, "missing", "x.stru")
	if _, err := WriteSorted(ctx, missing, seq2([][]byte{[]byte("a")}), Options{TempDir: tmp}); err == nil {
		t.Fatal("WriteSorted into a missing directory succeeded")
	}
	checkEmpty(t, tmp, "after failing to create the output")
	if names := dirEntries(t, outDir); len(names) != 0 {
		t.Fatalf("output directory holds %q", names)
	}
}

// TestExternalCanceled cancels streamed builds at each of their checks of
// the context in turn (every check for a small build, a sample for one
// with partitions): the error is the context's, the old file is
// untouched, and no temporary file remains (for a Builder, none beyond
// its runs, which Close removes).
func TestExternalCanceled(t *testing.T) {
	rng := newRand(t)
	cases := []struct {
		name       string
		keys       [][]byte
		loadFactor float64
		every      bool // cancel at every check, not a sample
	}{
		{"runs", randomKeys(rng, 5000), 0, true},
		{"partitions", randomKeys(rng, 30000), 0.05, false},
	}
	for _, c := range cases {
		opts := Options{HashKey: &testKey, LoadFactor: c.loadFactor, MemoryBudget: smallBudget}
		sorted := sortedSet(c.keys)
		builds := []struct {
			name string
			run  func(ctx context.Context, tmp, path string) error
		}{
			{"Builder", func(ctx context.Context, tmp, path string) error {
				o := opts
				o.TempDir = tmp
				b := mustNew(t, o)
				defer func() {
					if err := b.Close(); err != nil {
						t.Error(err)
					}
					checkEmpty(t, tmp, "after Close")
				}()
				for _, k := range c.keys {
					if err := b.Add(k); err != nil {
						t.Fatal(err)
					}
				}
				err := b.WriteFileContext(ctx, path)
				if names := dirEntries(t, tmp); len(names) != 1 {
					t.Fatalf("temporary directory holds %q, want only the runs' directory", names)
				}
				return err
			}},
			{"SortedWriter", func(ctx context.Context, tmp, path string) error {
				o := opts
				o.TempDir = tmp
				_, err := WriteSorted(ctx, path, seq2(sorted), o)
				checkEmpty(t, tmp, "after WriteSorted")
				return err
			}},
		}
		for _, bld := range builds {
			t.Run(c.name+"/"+bld.name, func(t *testing.T) {
				tmp, outDir := t.TempDir(), t.TempDir()
				path := filepath.Join(outDir, "x.stru")
				probe := &countdownContext{Context: context.Background()}
				if err := bld.run(probe, tmp, path); err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				total := probe.calls
				checks := []int{1, 2, 3, total / 4, total / 2, 3 * total / 4, total - 2, total - 1, total}
				if c.every {
					checks = nil
					for n := 1; n <= total; n++ {
						checks = append(checks, n)
					}
				}
				t.Logf("%d checks of the context", total)
				old := []byte("old")
				for _, n := range checks {
					if n < 1 {
						continue
					}
					if err := os.WriteFile(path, old, 0o644); err != nil {
						t.Fatal(err)
					}
					err := bld.run(&countdownContext{Context: context.Background(), n: n}, tmp, path)
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("canceled at check %d of %d: %v", n, total, err)
					}
					if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
						t.Fatalf("canceled at check %d of %d: %s changed", n, total, path)
					}
					if names := dirEntries(t, outDir); len(names) != 1 {
						t.Fatalf("canceled at check %d of %d: output directory holds %q", n, total, names)
					}
				}
				if err := bld.run(context.Background(), tmp, path); err != nil {
					t.Fatal(err)
				}
				if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
					t.Fatal("the build after the cancellations wrote a different file")
				}
			})
		}
	}
}

// TestSpillBudget checks that a Builder holds no more than its budget in
// memory while keys are added, whatever their sizes, and spills when it
// would.
func TestSpillBudget(t *testing.T) {
	rng := newRand(t)
	for _, budget := range []int64{smallBudget, 1 << 20, 2 << 20} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			b := mustNew(t, Options{MemoryBudget: budget, TempDir: t.TempDir()})
			defer b.Close()
			most := int64(0)
			for range 40000 {
				k := make([]byte, rng.IntN(200))
				for i := range k {
					k[i] = byte(rng.Uint32())
				}
				if err := b.Add(k); err != nil {
					t.Fatal(err)
				}
				if err := b.waitSpill(); err != nil { // the spare half is the spill's until then
					t.Fatal(err)
				}
				most = max(most, b.heldBytes()+b.spare.heldBytes())
			}
			// One chunk and a first array of records in each half may
			// exceed a budget smaller than them.
			if limit := max(budget, 2*(1<<b.chunkShift+recordSize*4096)); most > limit {
				t.Fatalf("held %d bytes, over the budget %d", most, budget)
			}
			if b.spill == nil || len(b.spill.runs) < 2 {
				t.Fatal("no runs spilled")
			}
		})
	}
}

// TestBudgetFitsInt checks that the memory a build allocates at once fits
// an int whatever the budget: without a bound, or with one above 2 GiB, a
// streamed build of 2^29 keys (2^33 bytes of hashes and locations) on a
// 32-bit system must place its table in partitions and build its filter
// in pieces that make can allocate, not ask for more than math.MaxInt
// bytes, a panic.
func TestBudgetFitsInt(t *testing.T) {
	const n = 1 << 29
	for _, budget := range []int64{-1, 3 << 30, math.MaxInt64} {
		set, err := Options{MemoryBudget: budget}.resolve()
		if err != nil {
			t.Fatal(err)
		}
		if set.budget > math.MaxInt {
			t.Errorf("budget %d resolves to %d, more than math.MaxInt", budget, set.budget)
		}
		s := &streamer{set: set}
		nb := index.BucketCount(n, set.loadFactor)
		if parts := partitions(n, nb, s.placementBudget()); len(parts) == 1 {
			if need := 16*n + tableBytes(nb); need > math.MaxInt {
				t.Errorf("budget %d: %d keys placed at once, in %d bytes", budget, n, need)
			}
		}
		per := max(uint64(s.placementBudget()), minFilterPiece) / index.FilterBlockSize
		if piece := min(per, index.FilterBlocks(n, set.filterBits)) * index.FilterBlockSize; piece > math.MaxInt {
			t.Errorf("budget %d: a filter piece of %d bytes", budget, piece)
		}
	}
}

// TestSpillFailure makes writing a run fail, by removing the runs'
// directory under a Builder: Add reports the error, then every Add and
// write repeat it, since keys were lost; Close empties the Builder, which
// then works again.
func TestSpillFailure(t *testing.T) {
	rng := newRand(t)
	keys := randomKeys(rng, 20000)
	tmp := t.TempDir()
	b := mustNew(t, Options{HashKey: &testKey, MemoryBudget: smallBudget, TempDir: tmp})
	var addErr error
	for i, k := range keys {
		if b.spill != nil && b.spill.dir.dir != "" {
			if err := os.RemoveAll(b.spill.dir.dir); err != nil {
				t.Fatal(err)
			}
		}
		if addErr = b.Add(k); addErr != nil {
			t.Logf("Add of key %d: %v", i, addErr)
			break
		}
	}
	if addErr == nil {
		t.Fatal("every Add succeeded with the runs' directory gone")
	}
	if err := b.Add([]byte("more")); err == nil || err.Error() != addErr.Error() {
		t.Fatalf("Add after the failure: %v, want %v", err, addErr)
	}
	if _, err := b.WriteTo(io.Discard); err == nil {
		t.Fatal("WriteTo after keys were lost succeeded")
	}
	path := filepath.Join(t.TempDir(), "x.stru")
	if err := b.WriteFile(path); err == nil {
		t.Fatal("WriteFile after keys were lost succeeded")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists: %v", path, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, tmp, "after Close")
	for _, k := range keys[:100] {
		if err := b.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	checkHolds(t, buf.Bytes(), keys[:100])
}

// TestSortedExpect gives SortedWriter.Expect right and wrong counts: the
// file is the in-memory build's every time, and nothing is left behind,
// also when the writer is aborted after Expect.
func TestSortedExpect(t *testing.T) {
	rng := newRand(t)
	keys := sortedSet(randomKeys(rng, 30000))            // 75000 buckets at load factor 0.05: 2 blocks
	keys = append(keys, bytes.Repeat([]byte{0xff}, 300)) // LengthWidth 2
	withDups := slices.Clone(keys)
	for i := 0; i < len(keys); i += 7 {
		withDups = append(withDups, keys[i])
	}
	slices.SortFunc(withDups, bytes.Compare)
	var keyBytes uint64
	for _, k := range keys {
		keyBytes += uint64(len(k))
	}
	n := uint64(len(keys))
	cases := []struct {
		name           string
		input          [][]byte
		keys, keyBytes uint64
		maxLen         uint32
		loadFactor     float64
	}{
		{"exact", keys, n, keyBytes, 300, 0},
		{"exact, partitions", keys, n, keyBytes, 300, 0.05},
		{"duplicates counted", withDups, uint64(len(withDups)), 2 * keyBytes, 300, 0},
		{"too few keys", keys, n / 2, keyBytes / 2, 300, 0},
		{"longest key too short", keys, n, keyBytes, 200, 0},
		{"nothing", keys, 0, 0, 0, 0},
		{"more than a file can hold", keys, 1 << 40, 1 << 62, 65535, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{HashKey: &testKey, LoadFactor: c.loadFactor}
			want, wantStats := inMemory(t, keys, opts)
			tmp, outDir := t.TempDir(), t.TempDir()
			opts.MemoryBudget, opts.TempDir = smallBudget, tmp
			path := filepath.Join(outDir, "x.stru")
			w, err := NewSortedWriter(context.Background(), path, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Expect(c.keys, c.keyBytes, c.maxLen); err != nil {
				t.Fatal(err)
			}
			for _, k := range c.input {
				if err := w.Add(k); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkSameFile(t, got, want, "SortedWriter after Expect")
			st := w.Stats()
			if c.loadFactor == 0.05 && st.Partitions < 2 {
				t.Fatalf("%d partitions, want several", st.Partitions)
			}
			st.Duplicates -= uint64(len(c.input) - len(keys))
			sameStats(t, st, wantStats)
			checkEmpty(t, tmp, "after Close")
			if names := dirEntries(t, outDir); !slices.Equal(names, []string{"x.stru"}) {
				t.Fatalf("output directory holds %q", names)
			}
		})
	}
	t.Run("abort after Expect", func(t *testing.T) {
		tmp, outDir := t.TempDir(), t.TempDir()
		w, err := NewSortedWriter(context.Background(), filepath.Join(outDir, "x.stru"), Options{TempDir: tmp})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Expect(n, keyBytes, 300); err != nil {
			t.Fatal(err)
		}
		if names := dirEntries(t, outDir); len(names) != 1 || !strings.HasPrefix(names[0], ".x.stru.tmp-") {
			t.Fatalf("after Expect the output directory holds %q, want the temporary file", names)
		}
		for _, k := range keys[:100] {
			if err := w.Add(k); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		checkEmpty(t, outDir, "after Abort")
		checkEmpty(t, tmp, "after Abort")
		// A caller that checks only Close's error must learn that nothing
		// was written.
		if err := w.Close(); err == nil || !strings.Contains(err.Error(), "after Abort") {
			t.Errorf("Close after Abort: %v, want an error", err)
		}
		checkEmpty(t, outDir, "after Close")
	})
	t.Run("Expect after Add", func(t *testing.T) {
		tmp, outDir := t.TempDir(), t.TempDir()
		w, err := NewSortedWriter(context.Background(), filepath.Join(outDir, "x.stru"), Options{TempDir: tmp})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		if err := w.Add([]byte("a")); err != nil {
			t.Fatal(err)
		}
		if err := w.Expect(1, 1, 1); err == nil {
			t.Fatal("Expect after Add succeeded")
		}
		if err := w.Close(); err == nil {
			t.Fatal("Close after a failed Expect succeeded")
		}
		if err := w.Close(); err == nil { // a second Close must not say it wrote
			t.Fatal("a second Close after a failed one succeeded")
		}
		checkEmpty(t, outDir, "after Close")
		checkEmpty(t, tmp, "after Close")
	})
}

// TestSpillWriteTo writes Builders with WriteTo as their first write,
// for numbers of keys from a few that fit in the budget to several runs'
// worth, among them one that spills a single run while the keys are added
// (and one more, of the keys held, when it is written: that run's spill
// may still be under way, its run not yet recorded, when the write
// begins), and checks that the file is the in-memory build's and that
// Stats describes it.
func TestSpillWriteTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 0x7772697465546f))
	all := randomKeys(rng, 6000)
	oneSpill := false
	for _, n := range []int{500, 2000, 2500, 3000, 6000} {
		t.Run(fmt.Sprint(n, " keys"), func(t *testing.T) {
			keys := all[:n]
			opts := Options{HashKey: &testKey}
			want, wantStats := inMemory(t, keys, opts)
			opts.MemoryBudget, opts.TempDir = smallBudget, t.TempDir()
			got, st := build(t, keys, opts)
			t.Logf("%d runs", st.Runs)
			checkSameFile(t, got, want, "WriteTo")
			sameStats(t, st, wantStats)
			oneSpill = oneSpill || st.Runs == 2
		})
	}
	if !oneSpill {
		t.Error("no build spilled exactly one run while its keys were added")
	}
}
