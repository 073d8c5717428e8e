package builder

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the random key sets (0: derived from the time, and logged)")

// newRand returns a generator for a randomized test, logging its seed so
// that a failure can be replayed with -seed.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, 0))
}

// testKey is the fixed hash key of tests that need reproducible output.
var testKey = index.HashKey{0xde, 0xad, 0xbe, 0xef, 8: 0x5a, 15: 0xa5}

// randomKeys returns n distinct keys of 8–64 random bytes.
func randomKeys(rng *rand.Rand, n int) [][]byte {
	seen := make(map[string]bool, n)
	var keys [][]byte
	for len(keys) < n {
		k := make([]byte, 8+rng.IntN(57))
		for i := range k {
			k[i] = byte(rng.Uint32())
		}
		if !seen[string(k)] {
			seen[string(k)] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// mustNew returns New(opts), failing the test on error.
func mustNew(t testing.TB, opts Options) *Builder {
	t.Helper()
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() }) // a Builder that spilled keeps its runs until Close
	return b
}

// build returns the file of keys, added in the order given, and the
// Builder's Stats.
func build(t testing.TB, keys [][]byte, opts Options) ([]byte, Stats) {
	t.Helper()
	b := mustNew(t, opts)
	for _, k := range keys {
		if err := b.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	return writeBytes(t, b), b.Stats()
}

// writeBytes returns what b.WriteTo writes.
func writeBytes(t testing.TB, b *Builder) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := b.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

// open returns a verified Reader of the file data.
func open(t testing.TB, data []byte) *reader.Reader {
	t.Helper()
	r, err := reader.FromBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}
	return r
}

// sortedSet returns the distinct keys of keys in ascending order.
func sortedSet(keys [][]byte) [][]byte {
	s := slices.Clone(keys)
	slices.SortFunc(s, bytes.Compare)
	return slices.CompactFunc(s, bytes.Equal)
}

// checkHolds checks that the file data holds exactly the set of keys.
func checkHolds(t testing.TB, data []byte, keys [][]byte) {
	t.Helper()
	r := open(t, data)
	want := sortedSet(keys)
	if got := slices.Collect(r.All()); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("file holds %d keys %q, want %d %q", len(got), got, len(want), want)
	}
	for i, k := range want {
		if ord, ok := r.Lookup(k); !ok || ord != i {
			t.Fatalf("Lookup(%q) = %d, %v; want %d, true", k, ord, ok, i)
		}
	}
}

func TestNewOptions(t *testing.T) {
	keys := randomKeys(rand.New(rand.NewPCG(1, 1)), 1000)
	cases := []struct {
		lf     float64
		effLF  float64 // the load factor used; 0: New must fail
		reason string
	}{
		{0, DefaultLoadFactor, "0 means the default"},
		{MinLoadFactor, MinLoadFactor, "the lower bound is allowed"},
		{MaxLoadFactor, MaxLoadFactor, "the upper bound is allowed"},
		{0.5, 0.5, ""},
		{0.8, 0.8, ""},
		{math.Nextafter(MinLoadFactor, 0), 0, "just below the lower bound"},
		{math.Nextafter(MaxLoadFactor, 1), 0, "just above the upper bound"},
		{0.01, 0, ""},
		{-0.5, 0, "negative"},
		{1, 0, "a full table"},
		{2, 0, ""},
		{math.NaN(), 0, ""},
		{math.Inf(1), 0, ""},
		{math.Inf(-1), 0, ""},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.lf), func(t *testing.T) {
			b, err := New(Options{LoadFactor: tc.lf})
			if tc.effLF == 0 {
				if err == nil || b != nil {
					t.Fatalf("New with load factor %v (%s): %v, %v; want an error", tc.lf, tc.reason, b, err)
				}
				if !strings.Contains(err.Error(), "load factor") {
					t.Errorf("error %q does not say what is wrong", err)
				}
				if _, err := FromMap(map[string]struct{}{"a": {}}, Options{LoadFactor: tc.lf}); err == nil {
					t.Errorf("FromMap with load factor %v succeeded", tc.lf)
				}
				return
			}
			if err != nil {
				t.Fatalf("New with load factor %v (%s): %v", tc.lf, tc.reason, err)
			}
			for _, k := range keys {
				b.Add(k)
			}
			r := open(t, writeBytes(t, b))
			want := uint64(math.Ceil(float64(len(keys)) / (index.BucketSlots * tc.effLF)))
			if got := r.Header().Buckets; got != want || b.Stats().Buckets != want {
				t.Errorf("load factor %v: %d buckets (Stats: %d), want ⌈%d/(8×%v)⌉ = %d", tc.lf, got, b.Stats().Buckets, len(keys), tc.effLF, want)
			}
		})
	}
	// Load factor 0 and DefaultLoadFactor give the same file.
	zero, _ := build(t, keys, Options{HashKey: &testKey})
	def, _ := build(t, keys, Options{HashKey: &testKey, LoadFactor: DefaultLoadFactor})
	if !bytes.Equal(zero, def) {
		t.Error("load factor 0 and DefaultLoadFactor give different files")
	}
}

// TestDuplicates adds keys more than once, through every way of adding
// them: each is stored once, and Stats counts the rest.
func TestDuplicates(t *testing.T) {
	b := mustNew(t, Options{HashKey: &testKey})
	adds := []func() error{
		func() error { return b.Add([]byte("apple")) },
		func() error { return b.AddString("apple") },
		func() error { return b.AddString("") },
		func() error { return b.Add(nil) },
		func() error { return b.Add([]byte{}) },
		func() error {
			return b.AddAll(slices.Values([][]byte{[]byte("pear"), []byte("apple"), []byte("pear")}))
		},
		func() error { return b.AddStrings(slices.Values([]string{"fig", "pear", "apple\x00", "apple\x00"})) },
	}
	for _, add := range adds {
		if err := add(); err != nil {
			t.Fatal(err)
		}
	}
	// Added: apple ×3, "" ×3, pear ×3, fig, apple\x00 ×2 = 12; distinct: 5.
	want := [][]byte{{}, []byte("apple"), []byte("apple\x00"), []byte("fig"), []byte("pear")}
	data := writeBytes(t, b)
	checkHolds(t, data, want)
	if s := b.Stats(); s.Keys != 5 || s.Duplicates != 7 {
		t.Errorf("Stats: %d keys, %d duplicates; want 5 and 7", s.Keys, s.Duplicates)
	}

	// Adding more to a Builder that has written a file, duplicates of the
	// keys already written included, and writing again.
	b.AddString("fig")
	b.AddString("grape")
	data = writeBytes(t, b)
	checkHolds(t, data, append(want, []byte("grape")))
	if s := b.Stats(); s.Keys != 6 || s.Duplicates != 8 {
		t.Errorf("Stats after more adds: %d keys, %d duplicates; want 6 and 8", s.Keys, s.Duplicates)
	}
	// Writing again without adding gives the same file.
	if again := writeBytes(t, b); !bytes.Equal(again, data) {
		t.Error("a second WriteTo without adds gives a different file")
	}
}

// TestAddCopies checks that Add keeps a copy: the caller may reuse its
// buffer.
func TestAddCopies(t *testing.T) {
	b := mustNew(t, Options{})
	buf := []byte("first")
	b.Add(buf)
	copy(buf, "XXXXX")
	b.Add(buf[:2])
	checkHolds(t, writeBytes(t, b), [][]byte{[]byte("first"), []byte("XX")})
}

// TestSortOrder checks the order of keys that the builder's sort, which
// compares 8-byte prefixes first, could get wrong: keys equal in their
// first 8 bytes, keys shorter than 8 bytes that end in NUL, and bytes
// with the top bit set.
func TestSortOrder(t *testing.T) {
	var keys [][]byte
	for _, s := range []string{
		"", "\x00", "\x00\x00", "a", "a\x00", "a\x00\x00\x00\x00\x00\x00\x00", "a\x00\x00\x00\x00\x00\x00\x00\x00",
		"abcdefgh", "abcdefgh\x00", "abcdefghi", "abcdefgh\xff", "abcdefg", "abcdefg\xff", "abcdefg\xff\x00",
		"\x7f", "\x80", "\xff", "\xff\xff\xff\xff\xff\xff\xff\xff", "\xff\xff\xff\xff\xff\xff\xff\xff\xff",
		"\xff\xff\xff\xff\xff\xff\xff", "01234567\x80", "01234567\x7f", "01234567",
	} {
		keys = append(keys, []byte(s))
	}
	rng := rand.New(rand.NewPCG(2, 2))
	for range 5 {
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		data, _ := build(t, keys, Options{})
		checkHolds(t, data, keys)
	}
}

// TestStats checks Stats against the file written, for several sets.
func TestStats(t *testing.T) {
	rng := newRand(t)
	sets := map[string][][]byte{
		"empty":        nil,
		"empty key":    {{}},
		"one key":      {[]byte("k")},
		"long keys":    {bytes.Repeat([]byte("x"), 300), bytes.Repeat([]byte("y"), index.MaxKeyLen)},
		"10000 random": randomKeys(rng, 10_000),
	}
	for name, keys := range sets {
		t.Run(name, func(t *testing.T) {
			b := mustNew(t, Options{})
			for _, k := range keys {
				b.Add(k)
			}
			// Some duplicates.
			for i := 0; i < len(keys); i += 3 {
				b.Add(keys[i])
			}
			path := filepath.Join(t.TempDir(), "s.stru")
			if err := b.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			s := b.Stats()
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := reader.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := r.Verify(); err != nil {
				t.Fatal(err)
			}
			h := r.Header()
			var keyBytes uint64
			for _, k := range keys {
				keyBytes += uint64(len(k))
			}
			checks := []struct {
				what      string
				got, want uint64
			}{
				{"Keys", s.Keys, uint64(len(keys))},
				{"Keys vs header", s.Keys, h.Keys},
				{"Duplicates", s.Duplicates, uint64((len(keys) + 2) / 3)},
				{"KeyBytes (sum of key lengths)", s.KeyBytes, keyBytes},
				{"KeyBytes vs header", s.KeyBytes, h.KeyBytes},
				{"FileBytes vs file size", s.FileBytes, uint64(fi.Size())},
				{"FileBytes vs header", s.FileBytes, h.FileSize},
				{"Buckets vs header", s.Buckets, h.Buckets},
				{"SecondBucket", s.SecondBucket, countSecondBucket(t, r)},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("Stats.%s = %d, want %d", c.what, c.got, c.want)
				}
			}
			if s.HashKey != h.HashKey {
				t.Error("Stats.HashKey is not the file's hash key")
			}
			if s.Rekeys != 0 {
				t.Errorf("Stats.Rekeys = %d for an ordinary set", s.Rekeys)
			}
			var overhead float64
			if s.Keys == 0 {
				overhead = float64(s.FileBytes)
			} else {
				overhead = float64(s.FileBytes-s.KeyBytes) / float64(s.Keys)
			}
			if got := s.OverheadPerKey(); got != overhead {
				t.Errorf("OverheadPerKey() = %v, want %v", got, overhead)
			}
			// format.md's budget at the default load factor: 10 bytes of
			// slots, 4 of offset and 1 of length per key, plus padding.
			if s.Keys >= 1000 && s.OverheadPerKey() > 24 {
				t.Errorf("overhead %.2f bytes per key, over the 24-byte target", s.OverheadPerKey())
			}
		})
	}
}

// countSecondBucket counts the keys of r stored in their second bucket,
// reading the slots from the file: a key whose slot is not in its first
// bucket.
func countSecondBucket(t testing.TB, r *reader.Reader) uint64 {
	t.Helper()
	v := r.View()
	e := r.Layout()[index.SectionBuckets]
	buckets := v.Data()[e.Off : e.Off+e.Size]
	var n, off uint64
	for k := range r.All() {
		h := v.HashOf(k)
		want := index.MakeSlot(h, uint64(len(k)), off)
		off += uint64(len(k))
		b1, _ := index.Buckets(h, r.Header().Buckets)
		found := false
		for i := range uint64(index.BucketSlots) {
			if binary.LittleEndian.Uint64(buckets[b1*index.BucketSize+i*index.SlotSize:]) == want {
				found = true
			}
		}
		if !found {
			n++
		}
	}
	return n
}

// TestRandomHashKey checks that without Options.HashKey each Builder draws
// its own key, so the files differ, while every answer is the same.
func TestRandomHashKey(t *testing.T) {
	rng := newRand(t)
	keys := randomKeys(rng, 2000)
	others := randomKeys(rng, 500)
	a, sa := build(t, keys, Options{})
	b, sb := build(t, keys, Options{})
	if sa.HashKey == sb.HashKey {
		t.Fatal("two Builders drew the same random hash key")
	}
	if sa.HashKey == (index.HashKey{}) {
		t.Fatal("the random hash key is zero")
	}
	if bytes.Equal(a, b) {
		t.Fatal("two builds with random hash keys wrote the same bytes")
	}
	ra, rb := open(t, a), open(t, b)
	if ra.Header().HashKey != sa.HashKey || rb.Header().HashKey != sb.HashKey {
		t.Fatal("the files do not hold the keys Stats reports")
	}
	if !slices.EqualFunc(slices.Collect(ra.All()), slices.Collect(rb.All()), bytes.Equal) {
		t.Fatal("All differs between the two files")
	}
	for _, k := range append(slices.Clone(keys), others...) {
		oa, okA := ra.Lookup(k)
		ob, okB := rb.Lookup(k)
		if oa != ob || okA != okB {
			t.Fatalf("Lookup(%q): %d, %v in one file, %d, %v in the other", k, oa, okA, ob, okB)
		}
	}
}

// TestFixedHashKey checks that a fixed hash key makes the output depend on
// the set alone: not on insertion order, duplicates, or how it was written.
func TestFixedHashKey(t *testing.T) {
	rng := newRand(t)
	keys := randomKeys(rng, 5000)
	for _, lf := range []float64{0, MinLoadFactor, MaxLoadFactor} {
		opts := Options{HashKey: &testKey, LoadFactor: lf}
		want, s := build(t, keys, opts)
		if s.HashKey != testKey {
			t.Fatalf("load factor %v: the file was built with another hash key (Rekeys %d)", lf, s.Rekeys)
		}
		for round := range 3 {
			shuffled := slices.Clone(keys)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			shuffled = append(shuffled, keys[:round*100]...)
			if got, _ := build(t, shuffled, opts); !bytes.Equal(got, want) {
				t.Fatalf("load factor %v: another insertion order gives another file", lf)
			}
		}
		m := map[string]struct{}{}
		for _, k := range keys {
			m[string(k)] = struct{}{}
		}
		fb, err := FromMap(m, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := writeBytes(t, fb); !bytes.Equal(got, want) {
			t.Fatalf("load factor %v: FromMap gives another file", lf)
		}
		path := filepath.Join(t.TempDir(), "f.stru")
		if err := fb.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("load factor %v: WriteFile gives another file (%v)", lf, err)
		}
	}
}

// errDisk is the error of a failingWriter.
var errDisk = errors.New("disk full")

// A failingWriter accepts limit bytes, then fails.
type failingWriter struct {
	limit, written int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.limit-w.written)
	w.written += n
	if n < len(p) {
		return n, errDisk
	}
	return n, nil
}

func TestWriteToFailingWriter(t *testing.T) {
	keys := randomKeys(rand.New(rand.NewPCG(3, 3)), 20_000)
	full, _ := build(t, keys, Options{HashKey: &testKey})
	for _, limit := range []int{0, 1, 127, 128, 129, 4096, 1 << 16, 1<<16 + 1, len(full) / 2, len(full) - 1} {
		b := mustNew(t, Options{HashKey: &testKey})
		for _, k := range keys {
			b.Add(k)
		}
		w := &failingWriter{limit: limit}
		n, err := b.WriteTo(w)
		if !errors.Is(err, errDisk) {
			t.Errorf("WriteTo failing after %d bytes: %v, want the writer's error", limit, err)
		}
		if n != int64(w.written) {
			t.Errorf("WriteTo failing after %d bytes returned %d, the writer took %d", limit, n, w.written)
		}
		if s := b.Stats(); s.Keys != 0 || s.FileBytes != 0 {
			t.Errorf("Stats after a failed write describe a file: %+v", s)
		}
		// The Builder still writes the whole file afterwards.
		if got := writeBytes(t, b); !bytes.Equal(got, full) {
			t.Errorf("after a write failing at %d bytes, WriteTo gives another file", limit)
		}
	}
}

// dirNames returns the names in dir.
func dirNames(t testing.TB, dir string) []string {
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

func TestWriteFileMissingDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "x.stru")
	b := mustNew(t, Options{})
	b.AddString("k")
	err := b.WriteFile(path)
	if err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q: want ErrNotExist, naming %s", err, path)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("WriteFile left %q behind", names)
	}
}

// TestWriteFileBadDestination gives WriteFile and NewSortedWriter paths
// that cannot be published: a directory, which the final rename could not
// replace, and a path whose directory is not one. Both fail before any
// work, saying why, and leave everything as it was.
func TestWriteFileBadDestination(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(taken, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	plain := filepath.Join(dir, "plain")
	if err := errors.Join(os.Mkdir(empty, 0o755), os.WriteFile(plain, []byte("x"), 0o644)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, want string
	}{
		{taken, "it is a directory"},
		{empty, "it is a directory"},
		{taken + "/", "it is a directory"}, // would otherwise write its temporary file inside
		{filepath.Join(plain, "x.stru"), plain + " is not a directory"},
		{"", "empty path"},
	} {
		t.Run(strings.TrimPrefix(tt.path, dir), func(t *testing.T) {
			b := mustNew(t, Options{})
			b.AddString("k")
			err := b.WriteFile(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("WriteFile: %v; want an error naming %s and saying %q", err, tt.path, tt.want)
			}
			_, err = NewSortedWriter(context.Background(), tt.path, Options{TempDir: t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewSortedWriter: %v; want an error saying %q", err, tt.want)
			}
			for d, want := range map[string][]string{dir: {"empty", "plain", "taken"}, taken: {"inside"}, empty: nil} {
				if names := dirNames(t, d); !slices.Equal(names, want) {
					t.Errorf("%s holds %q, want %q", d, names, want)
				}
			}
		})
	}
}

// halfWriter writes half of each buffer and reports no error, which
// io.Writer forbids. It has only Write (no ReadFrom, which io.Copy would
// use instead).
type halfWriter struct{ buf bytes.Buffer }

func (w *halfWriter) Write(p []byte) (int, error) { return w.buf.Write(p[:len(p)/2]) }

// TestWriteToShortWrite gives WriteTo a Writer that writes less than asked
// without an error: WriteTo must return io.ErrShortWrite, as io.Copy
// does, not report a truncated index as written. Both ways of writing: in
// memory and through runs.
func TestWriteToShortWrite(t *testing.T) {
	for _, budget := range []int64{0, 1} {
		b := mustNew(t, Options{MemoryBudget: budget, TempDir: t.TempDir()})
		for i := range 1000 {
			b.AddString(fmt.Sprint("key-", i))
		}
		var w halfWriter
		n, err := b.WriteTo(&w)
		if !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("budget %d: WriteTo = %d, %v; want io.ErrShortWrite", budget, n, err)
		}
		if n != int64(w.buf.Len()) {
			t.Errorf("budget %d: WriteTo returned %d, wrote %d bytes", budget, n, w.buf.Len())
		}
	}
}

// TestWriteFileReplaces writes a file over an existing one: the new file
// replaces it whole, a Reader of the old one keeps reading the old set, and
// no temporary file is left.
func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "set.stru")
	setA := [][]byte{[]byte("a1"), []byte("a2")}
	setB := [][]byte{[]byte("b1"), []byte("b2"), []byte("b3")}
	write := func(keys [][]byte) {
		t.Helper()
		b := mustNew(t, Options{})
		for _, k := range keys {
			b.Add(k)
		}
		if err := b.WriteFile(path); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, []byte("not an index"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(setA)
	old, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	write(setB)
	now, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer now.Close()
	if err := now.Verify(); err != nil {
		t.Fatal(err)
	}
	if got := slices.Collect(now.All()); !slices.EqualFunc(got, setB, bytes.Equal) {
		t.Errorf("after WriteFile the file holds %q, want %q", got, setB)
	}
	if err := old.Verify(); err != nil || !old.Contains(setA[0]) || old.Contains(setB[0]) {
		t.Errorf("a Reader of the replaced file no longer reads it (Verify: %v)", err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"set.stru"}) {
		t.Errorf("directory holds %q, want only [set.stru]", names)
	}
}

// TestWriteFileAtomic rewrites a file repeatedly while other goroutines
// open it: every Open sees one whole file or the other, never a partial
// one.
func TestWriteFileAtomic(t *testing.T) {
	rng := newRand(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "set.stru")
	sets := [][][]byte{randomKeys(rng, 3000), randomKeys(rng, 5000)}
	builders := make([]*Builder, 2)
	for i, keys := range sets {
		builders[i] = mustNew(t, Options{})
		for _, k := range keys {
			builders[i].Add(k)
		}
	}
	if err := builders[0].WriteFile(path); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				r, err := reader.Open(path)
				if err == nil {
					err = r.Verify()
					if n := r.Len(); err == nil && n != len(sets[0]) && n != len(sets[1]) {
						err = fmt.Errorf("%d keys", n)
					}
					r.Close()
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			}
		})
	}
	for i := range 20 {
		if err := builders[i%2].WriteFile(path); err != nil {
			t.Error(err)
		}
	}
	close(done)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d opens during rewrites failed, first: %s", len(failures), failures[0])
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"set.stru"}) {
		t.Errorf("directory holds %q, want only [set.stru]", names)
	}
}

// TestRekey checks the derivation of the hash keys tried after a failure:
// SipHash-2-4 under the previous key of the attempt number and of its
// complement, each 8 bytes little-endian.
func TestRekey(t *testing.T) {
	seen := map[index.HashKey]uint64{testKey: 1 << 63}
	k0, k1 := testKey.Halves()
	for attempt := range uint64(1000) {
		next := rekey(testKey, attempt)
		if prev, dup := seen[next]; dup {
			t.Fatalf("rekey(key, %d) = rekey(key, %d) (or the key itself)", attempt, prev)
		}
		seen[next] = attempt
		if again := rekey(testKey, attempt); again != next {
			t.Fatalf("rekey(key, %d) is not deterministic", attempt)
		}
		n0, n1 := next.Halves()
		var msg [8]byte
		binary.LittleEndian.PutUint64(msg[:], attempt)
		want0 := index.Hash(k0, k1, msg[:])
		binary.LittleEndian.PutUint64(msg[:], ^attempt)
		want1 := index.Hash(k0, k1, msg[:])
		if n0 != want0 || n1 != want1 {
			t.Fatalf("rekey(key, %d) = %x, want the SipHash of the attempt and its complement", attempt, next)
		}
	}
	// Another starting key gives other keys.
	other := testKey
	other[0] ^= 1
	for attempt := range uint64(100) {
		if rekey(other, attempt) == rekey(testKey, attempt) {
			t.Fatalf("rekey of two keys gives the same key at attempt %d", attempt)
		}
	}
}

// collidingKeys returns n keys whose two buckets, in a table of buckets
// buckets under hash key hk, are both bucket 0.
func collidingKeys(hk index.HashKey, buckets uint64, n int) [][]byte {
	k0, k1 := hk.Halves()
	var keys [][]byte
	for i := 0; len(keys) < n; i++ {
		k := fmt.Appendf(nil, "key%d", i)
		if b1, b2 := index.Buckets(index.Hash(k0, k1, k), buckets); b1 == 0 && b2 == 0 {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestRekeyOnOverflow builds a set whose keys all hash to the same single
// bucket: 9 keys cannot be placed in its 8 slots under the starting hash
// key, so the builder must re-key, and the file must still keep the probe
// bound.
func TestRekeyOnOverflow(t *testing.T) {
	const n = 9
	buckets := index.BucketCount(n, MaxLoadFactor)
	keys := collidingKeys(testKey, buckets, n)
	// Under the starting key, placement fails.
	k0, k1 := testKey.Halves()
	hashes := make([]uint64, n)
	for i, k := range sortedSet(keys) {
		hashes[i] = index.Hash(k0, k1, k)
	}
	if _, err := place(hashes, nil, buckets, k0^k1); !errors.Is(err, errPlace) {
		t.Fatalf("placing %d keys with the same single bucket: %v, want errPlace", n, err)
	}

	data, s := build(t, keys, Options{HashKey: &testKey, LoadFactor: MaxLoadFactor})
	if s.Rekeys < 1 {
		t.Fatalf("Stats.Rekeys = %d, want at least 1", s.Rekeys)
	}
	want := testKey
	for attempt := range s.Rekeys {
		want = rekey(want, uint64(attempt))
	}
	if s.HashKey != want {
		t.Errorf("the file's hash key is not the %d-th derived key", s.Rekeys)
	}
	r := open(t, data) // Verify checks the probe bound
	if r.Header().HashKey != s.HashKey {
		t.Error("Stats.HashKey is not the file's")
	}
	checkHolds(t, data, keys)
	// Re-keying is reproducible.
	backward := slices.Clone(keys)
	slices.Reverse(backward)
	if again, _ := build(t, backward, Options{HashKey: &testKey, LoadFactor: MaxLoadFactor}); !bytes.Equal(again, data) {
		t.Error("a re-keyed build is not reproducible")
	}
}

// TestPlaceCapacity drives the cuckoo placement to its limit: keys that
// share the same two buckets fill exactly 16 slots, and a 17th fails
// instead of looping.
func TestPlaceCapacity(t *testing.T) {
	const buckets = 4
	// h is a hash whose two buckets differ.
	h := uint64(0x0123456789abcdef)
	for b1, b2 := index.Buckets(h, buckets); b1 == b2; b1, b2 = index.Buckets(h, buckets) {
		h += 0x9E3779B97F4A7C15
	}
	same := func(n int) []uint64 { return slices.Repeat([]uint64{h}, n) }
	tab, err := place(same(2*index.BucketSlots), nil, buckets, 1)
	if err != nil {
		t.Fatalf("16 keys in two buckets: %v", err)
	}
	b1, b2 := index.Buckets(h, buckets)
	if tab.fill[b1] != index.BucketSlots || tab.fill[b2] != index.BucketSlots {
		t.Errorf("fill %v, want both buckets %d and %d full", tab.fill, b1, b2)
	}
	if got := tab.secondBucket(); got != index.BucketSlots {
		t.Errorf("secondBucket() = %d, want %d", got, index.BucketSlots)
	}
	if _, err := place(same(2*index.BucketSlots+1), nil, buckets, 1); !errors.Is(err, errPlace) {
		t.Errorf("17 keys in two buckets: %v, want errPlace", err)
	}
}

// TestAddAllStops checks that AddAll and AddStrings stop the sequence at
// the first key that is too long.
func TestAddAllStops(t *testing.T) {
	long := strings.Repeat("x", index.MaxKeyLen+1)
	b := mustNew(t, Options{})
	pulled := 0
	err := b.AddStrings(func(yield func(string) bool) {
		for _, k := range []string{"a", long, "b", "c"} {
			pulled++
			if !yield(k) {
				return
			}
		}
	})
	if !errors.Is(err, index.ErrKeyTooLong) || pulled != 2 {
		t.Fatalf("AddStrings: %v after %d keys; want ErrKeyTooLong after 2", err, pulled)
	}
	pulled = 0
	err = b.AddAll(func(yield func([]byte) bool) {
		for _, k := range []string{"d", long, "e"} {
			pulled++
			if !yield([]byte(k)) {
				return
			}
		}
	})
	if !errors.Is(err, index.ErrKeyTooLong) || pulled != 2 {
		t.Fatalf("AddAll: %v after %d keys; want ErrKeyTooLong after 2", err, pulled)
	}
	// A key of exactly MaxKeyLen bytes is fine.
	if err := b.AddString(long[1:]); err != nil {
		t.Fatal(err)
	}
	checkHolds(t, writeBytes(t, b), [][]byte{[]byte("a"), []byte("d"), []byte(long[1:])})
}

// TestWriteToDiscard checks WriteTo into a plain io.Writer that is not a
// buffer, counting what it is given.
func TestWriteToDiscard(t *testing.T) {
	b := mustNew(t, Options{})
	b.AddString("x")
	var cw countingWriter
	n, err := b.WriteTo(&cw)
	if err != nil || n != cw.n || uint64(n) != b.Stats().FileBytes {
		t.Fatalf("WriteTo = %d, %v; writer got %d bytes; Stats.FileBytes %d", n, err, cw.n, b.Stats().FileBytes)
	}
	if n%index.Align != 0 {
		t.Errorf("file of %d bytes does not end on a %d-byte boundary", n, index.Align)
	}
	var _ io.WriterTo = b
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// TestFilterOption checks Options.FilterBitsPerKey: the filter's size in
// the header and the file (⌈keys × bits / 512⌉ blocks of 64 bytes, none
// for a negative value), that the file holds the set whatever the size,
// and that sizes above MaxFilterBitsPerKey are refused.
func TestFilterOption(t *testing.T) {
	keys := randomKeys(rand.New(rand.NewPCG(5, 6)), 3000)
	for _, c := range []struct {
		bits       int
		wantBlocks uint64
	}{
		{0, (3000*DefaultFilterBitsPerKey + 511) / 512},
		{-1, 0},
		{-100, 0},
		{1, 6},
		{16, 94},
		{MaxFilterBitsPerKey, 375},
	} {
		t.Run(fmt.Sprint(c.bits), func(t *testing.T) {
			data, _ := inMemory(t, keys, Options{HashKey: &testKey, FilterBitsPerKey: c.bits})
			checkHolds(t, data, keys)
			r := open(t, data)
			defer r.Close()
			h, l := r.Header(), r.Layout()
			if h.FilterBlocks != c.wantBlocks || l[index.SectionFilter].Size != 64*c.wantBlocks || l.FileSize() != uint64(len(data)) {
				t.Errorf("FilterBitsPerKey %d: %d filter blocks, section %+v; want %d blocks", c.bits, h.FilterBlocks, l[index.SectionFilter], c.wantBlocks)
			}
		})
	}
	for _, bits := range []int{MaxFilterBitsPerKey + 1, math.MaxInt} {
		if b, err := New(Options{FilterBitsPerKey: bits}); err == nil || b != nil || !strings.Contains(err.Error(), "filter bits") {
			t.Errorf("New with FilterBitsPerKey %d: %v, %v; want an error about filter bits", bits, b, err)
		}
	}
}
