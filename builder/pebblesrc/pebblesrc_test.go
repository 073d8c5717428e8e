package pebblesrc

// Consistency tests against real Pebble databases: a model (a set of
// strings) follows every write, delete and range delete, and each index
// built is checked key by key with package reader against the model.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// testHashKey fixes the SipHash key, so that a failure reproduces.
var testHashKey = index.HashKey{0: 1, 15: 2}

// openDB opens (creating if needed) a read-write database in dir and
// closes it when the test ends.
func openDB(t *testing.T, dir string, opts *pebble.Options) *pebble.DB {
	t.Helper()
	if opts == nil {
		opts = &pebble.Options{}
	}
	opts.Logger = errorsOnlyLogger{}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing %s: %v", dir, err)
		}
	})
	return db
}

// A model is the set of keys a reader should see.
type model map[string]bool

func (m model) clone() model { return maps.Clone(m) }

// A modelDB applies writes to a database and to its model together, and
// remembers every key ever written (the universe), deleted or not.
type modelDB struct {
	t        *testing.T
	db       *pebble.DB
	live     model
	universe map[string]bool
}

func (m *modelDB) set(keys ...string) {
	m.t.Helper()
	for _, k := range keys {
		if err := m.db.Set([]byte(k), []byte("value of "+k), pebble.NoSync); err != nil {
			m.t.Fatal(err)
		}
		m.live[k] = true
		m.universe[k] = true
	}
}

func (m *modelDB) delete(keys ...string) {
	m.t.Helper()
	for _, k := range keys {
		if err := m.db.Delete([]byte(k), pebble.NoSync); err != nil {
			m.t.Fatal(err)
		}
		delete(m.live, k)
	}
}

// deleteRange deletes the keys in [start, end).
func (m *modelDB) deleteRange(start, end string) {
	m.t.Helper()
	if err := m.db.DeleteRange([]byte(start), []byte(end), pebble.NoSync); err != nil {
		m.t.Fatal(err)
	}
	n := 0
	for k := range m.live {
		if k >= start && k < end {
			delete(m.live, k)
			n++
		}
	}
	if n == 0 {
		m.t.Fatalf("DeleteRange(%q, %q) deletes nothing: a useless test step", start, end)
	}
}

func (m *modelDB) flush() {
	m.t.Helper()
	if err := m.db.Flush(); err != nil {
		m.t.Fatal(err)
	}
}

// compact compacts every key into the lower levels.
func (m *modelDB) compact() {
	m.t.Helper()
	if err := m.db.Compact(context.Background(), []byte{}, []byte("\xff\xff\xff\xff\xff"), false); err != nil {
		m.t.Fatal(err)
	}
}

// namedKeys are the keys at the edges of the option cases below.
var namedKeys = []string{
	"", "\x00", "a", "b", "m", "q", "\xff", "\xff\xff", "\xff\xff\x00",
	"user", "user/", "user/alice", "user/bob", "user/bobby", "user/carol", "user/dave", "user/zed",
	"user0", "usex", "usez", "user.",
	"p\xff", "p\xff\x00", "p\xff\xff", "p\xff\xff\x01", "p\xfe\xff",
	"item:", "item:1", "item;",
}

// randomKeys returns n distinct keys, none in namedKeys, with a few
// shared prefixes.
func randomKeys(rng *rand.Rand, n int) []string {
	prefixes := []string{"user/", "usr/", "u", "", "item:", "p\xff", "\xff"}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789/\x00\xff"
	seen := map[string]bool{}
	for _, k := range namedKeys {
		seen[k] = true
	}
	var keys []string
	for len(keys) < n {
		b := []byte(prefixes[rng.IntN(len(prefixes))])
		for range 1 + rng.IntN(20) {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		if k := string(b); !seen[k] && !strings.HasPrefix(k, "\xff\xff\xff\xff\xff") {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// sources is what buildSources makes: readers of one database at three
// moments, with the keys each should hold.
type sources struct {
	db, snap, checkpoint         pebble.Reader
	dbKeys, snapKeys, checkpKeys model
	universe                     map[string]bool
	dbDir, checkpointDir         string
}

// buildSources writes, overwrites, deletes and range-deletes keys in a new
// database, flushing and compacting on the way so that keys come from
// sstables in several levels and from the memtable, taking a snapshot and
// later a checkpoint in the middle of the writes.
func buildSources(t *testing.T) *sources {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	s := &sources{dbDir: filepath.Join(dir, "db"), checkpointDir: filepath.Join(dir, "checkpoint")}
	// A small memtable so that the writes also flush on their own.
	m := &modelDB{t: t, db: openDB(t, s.dbDir, &pebble.Options{MemTableSize: 256 << 10}), live: model{}, universe: map[string]bool{}}
	gen := randomKeys(rng, 4000)
	quarter := len(gen) / 4

	// Before the snapshot.
	m.set(namedKeys...)
	m.set(gen[:quarter]...)
	m.set(gen[:quarter/2]...) // overwrites
	m.set("user/alice", "b")  // overwrites
	m.flush()
	m.compact()
	m.set(gen[quarter : 2*quarter]...)
	for i := 0; i < 2*quarter; i += 7 {
		m.delete(gen[i])
	}
	m.delete("m", "user/dave")
	m.flush()
	m.deleteRange("user/b", "user/c") // user/bob, user/bobby and random ones
	m.set("user/bobby")               // written again after the range delete
	m.set(gen[2*quarter : 2*quarter+100]...)
	m.delete("a") // in the memtable only, over a key in sstables

	snap := m.db.NewSnapshot()
	t.Cleanup(func() {
		if err := snap.Close(); err != nil {
			t.Errorf("closing snapshot: %v", err)
		}
	})
	s.snap, s.snapKeys = snap, m.live.clone()

	// Between the snapshot and the checkpoint: none of this may show
	// in the snapshot.
	m.set(gen[2*quarter+100 : 3*quarter]...)
	m.set("m", "a")                     // deleted before the snapshot
	m.set(gen[quarter : quarter+50]...) // overwrites
	m.delete("user/alice", "q", gen[1], gen[quarter+1])
	m.deleteRange("item:", "item;") // every item: key
	m.deleteRange("usex", "usez")   // usex alone among the named keys
	m.flush()
	m.compact()
	m.set("user/new", "item:2")
	m.delete("b")
	if err := m.db.Checkpoint(s.checkpointDir, pebble.WithFlushedWAL()); err != nil {
		t.Fatal(err)
	}
	s.checkpKeys = m.live.clone()

	// After the checkpoint: none of this may show in the checkpoint.
	m.set(gen[3*quarter:]...)
	m.delete("user/carol", gen[2], gen[3*quarter+1])
	m.deleteRange("p\xff", "p\xff\xff")
	m.set("user/later")

	s.db, s.dbKeys, s.universe = m.db, m.live, m.universe
	ck, err := OpenReadOnly(s.checkpointDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	s.checkpoint = ck

	// The steps must make the three sets differ, or the test proves little.
	if len(s.snapKeys) == len(s.checkpKeys) || len(s.checkpKeys) == len(s.dbKeys) {
		t.Fatalf("sets of %d, %d and %d keys: the test's steps do not tell the readers apart", len(s.snapKeys), len(s.checkpKeys), len(s.dbKeys))
	}
	return s
}

// expected returns the keys of live that opts selects, as stored in the
// index: it applies opts by plain string comparison.
func expected(live model, opts Options) map[string]bool {
	want := map[string]bool{}
	for k := range live {
		if opts.Lower != nil && k < string(opts.Lower) ||
			opts.Upper != nil && k >= string(opts.Upper) ||
			!strings.HasPrefix(k, string(opts.Prefix)) {
			continue
		}
		if opts.StripPrefix {
			k = k[len(opts.Prefix):]
		}
		want[k] = true
	}
	return want
}

// checkIndex checks that the index at path holds exactly the keys of
// want: it verifies the file, compares All with want in ascending order,
// and asks Contains for every key of want and of the universe (every key
// ever written, live or not), stripped of opts.Prefix too.
func checkIndex(t *testing.T, path string, want map[string]bool, universe map[string]bool, opts Options) {
	t.Helper()
	r, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	wantSorted := make([]string, 0, len(want))
	for k := range want {
		wantSorted = append(wantSorted, k)
	}
	slices.Sort(wantSorted)
	var got []string
	for k := range r.All() {
		got = append(got, string(k))
	}
	if !slices.Equal(got, wantSorted) {
		t.Errorf("All: %d keys, want %d; first difference: %s", len(got), len(wantSorted), firstDifference(got, wantSorted))
	}
	queries := map[string]bool{}
	for k := range want {
		queries[k] = true
	}
	for k := range universe {
		queries[k] = true
		if rest, ok := strings.CutPrefix(k, string(opts.Prefix)); ok {
			queries[rest] = true
		}
	}
	wrong := 0
	for q := range queries {
		if got := r.ContainsString(q); got != want[q] {
			if wrong++; wrong <= 5 {
				t.Errorf("Contains(%q) = %v, want %v", q, got, want[q])
			}
		}
	}
	if wrong > 5 {
		t.Errorf("... and %d more wrong answers of Contains", wrong-5)
	}
}

// firstDifference describes where got and want first differ.
func firstDifference(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d: got %q, want %q", i, got[i], want[i])
		}
	}
	if len(got) > len(want) {
		return fmt.Sprintf("extra key %q", got[len(want)])
	}
	if len(want) > len(got) {
		return fmt.Sprintf("missing key %q", want[len(got)])
	}
	return "none"
}

// checkSameAsBuilder checks that the file at path is the one an
// in-memory builder.Builder writes for keys with the same hash key.
func checkSameAsBuilder(t *testing.T, path string, keys map[string]bool) {
	t.Helper()
	b, err := builder.New(builder.Options{HashKey: &testHashKey})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for k := range keys {
		if err := b.AddString(k); err != nil {
			t.Fatal(err)
		}
	}
	var want bytes.Buffer
	if _, err := b.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("%s: %d bytes, not the %d bytes a Builder writes for the same keys", path, len(got), want.Len())
	}
}

// optionCases select keys every way Options allow.
var optionCases = []struct {
	name string
	opts Options
}{
	{"all", Options{}},
	{"prefix", Options{Prefix: []byte("user/")}},
	{"prefix stripped", Options{Prefix: []byte("user/"), StripPrefix: true}},
	{"prefix ending in 0xff stripped", Options{Prefix: []byte("p\xff"), StripPrefix: true}},
	{"prefix of 0xff bytes", Options{Prefix: []byte("\xff")}},
	{"prefix of 0xff bytes stripped", Options{Prefix: []byte("\xff\xff"), StripPrefix: true}},
	{"empty prefix stripped", Options{Prefix: []byte{}, StripPrefix: true}},
	{"lower and upper", Options{Lower: []byte("b"), Upper: []byte("user/c")}},
	{"lower only", Options{Lower: []byte("user")}},
	{"upper only", Options{Upper: []byte("user/")}},
	{"empty lower", Options{Lower: []byte{}, Upper: []byte("b")}},
	{"prefix within bounds", Options{Prefix: []byte("user/"), Lower: []byte("user/b"), Upper: []byte("user/d"), StripPrefix: true}},
	{"bounds within prefix", Options{Prefix: []byte("u"), Lower: []byte("user/alice"), Upper: []byte("user0")}},
	{"prefix beside bounds", Options{Prefix: []byte("user/"), Lower: []byte("a"), Upper: []byte("b")}},
	{"empty upper", Options{Upper: []byte{}}},
	{"lower equals upper", Options{Lower: []byte("m"), Upper: []byte("m")}},
}

// TestBuildConsistency builds an index for every option case from the
// database, from a snapshot taken in the middle of its writes, and from a
// checkpoint taken later, and checks each against the model.
func TestBuildConsistency(t *testing.T) {
	s := buildSources(t)
	readers := []struct {
		name string
		r    pebble.Reader
		keys model
	}{
		{"db", s.db, s.dbKeys},
		{"snapshot", s.snap, s.snapKeys},
		{"checkpoint", s.checkpoint, s.checkpKeys},
	}
	out := t.TempDir()
	for _, rd := range readers {
		for _, tc := range optionCases {
			t.Run(rd.name+"/"+tc.name, func(t *testing.T) {
				path := filepath.Join(out, rd.name+"-"+strings.ReplaceAll(tc.name, " ", "-")+".stru")
				want := expected(rd.keys, tc.opts)
				if tc.name == "all" || tc.name == "prefix" {
					if len(want) < 10 {
						t.Fatalf("only %d keys expected: the database is not as the test meant", len(want))
					}
				}
				tmp := t.TempDir()
				stats, err := Build(context.Background(), rd.r, path, tc.opts, builder.Options{HashKey: &testHashKey, TempDir: tmp})
				if err != nil {
					t.Fatal(err)
				}
				if stats.Keys != uint64(len(want)) || stats.Duplicates != 0 {
					t.Errorf("stats: %d keys, %d duplicates; want %d, 0", stats.Keys, stats.Duplicates, len(want))
				}
				checkIndex(t, path, want, s.universe, tc.opts)
				checkSameAsBuilder(t, path, want)
				if entries, err := os.ReadDir(tmp); err != nil || len(entries) != 0 {
					t.Errorf("temporary directory holds %v (%v) after the build", entries, err)
				}
			})
		}
	}
}

// TestKeys checks the sequence itself: ascending, each key once, as the
// model says, and stopping early.
func TestKeys(t *testing.T) {
	s := buildSources(t)
	for _, tc := range optionCases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for k, err := range Keys(s.snap, tc.opts) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(k))
			}
			want := slices.Sorted(func(yield func(string) bool) {
				for k := range expected(s.snapKeys, tc.opts) {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(got, want) {
				t.Errorf("%d keys, want %d; first difference: %s", len(got), len(want), firstDifference(got, want))
			}
		})
	}
	t.Run("stop early", func(t *testing.T) {
		n := 0
		for _, err := range Keys(s.db, Options{}) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 3 {
				break
			}
		}
		if n != 3 {
			t.Errorf("read %d keys, want 3", n)
		}
	})
}

// TestBuildErrors checks that a build that cannot complete returns an
// error and writes nothing.
func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, filepath.Join(dir, "db"), nil)
	// "long" and 65533 bytes: two over the limit, one under once "lo" is
	// stripped.
	long := "long" + strings.Repeat("x", index.MaxKeyLen-2)
	for _, k := range []string{"a", "b", "c", long} {
		if err := db.Set([]byte(k), nil, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		opts Options
		want string // in the error
		is   error  // wrapped by the error, if not nil
	}{
		{"lower above upper", context.Background(), Options{Lower: []byte("b"), Upper: []byte("a")}, `lower bound "b" is above upper bound "a"`, nil},
		{"canceled", canceled, Options{}, "context canceled", context.Canceled},
		{"key too long", context.Background(), Options{}, `key "longxx`, index.ErrKeyTooLong},
		{"key too long, also with its prefix stripped", context.Background(), Options{Prefix: []byte("l"), StripPrefix: true},
			fmt.Sprintf("is %d bytes, more than the maximum of %d", index.MaxKeyLen+1, index.MaxKeyLen), index.ErrKeyTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "out.stru")
			_, err := Build(tc.ctx, db, path, tc.opts, builder.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build: %v, want an error containing %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Build: %v does not wrap %v", err, tc.is)
			}
			if len(err.Error()) > 200 {
				t.Errorf("Build: a %d-byte message: %.200q...", len(err.Error()), err)
			}
			checkNoOutput(t, dir)
		})
	}
	// With "lo" stripped the long key is 65535 bytes, the longest allowed.
	path := filepath.Join(dir, "out.stru")
	if _, err := Build(context.Background(), db, path, Options{Prefix: []byte("lo"), StripPrefix: true}, builder.Options{}); err != nil {
		t.Fatalf("Build of the stripped long key: %v", err)
	}
}

// checkNoOutput fails the test if dir holds a file other than the
// database's directory.
func checkNoOutput(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			t.Errorf("%s left behind in %s", e.Name(), dir)
		}
	}
}

// TestBuildDamagedTable builds from a checkpoint whose sstable has a
// damaged data block: the iterator's error fails the build, and the
// process lives on, whatever the options given to OpenReadOnly: none, an
// EventListener without a DataCorruption handler (Pebble's own would end
// the process), or one with a handler, which is called.
func TestBuildDamagedTable(t *testing.T) {
	dir := t.TempDir()
	dbDir, ckDir := filepath.Join(dir, "db"), filepath.Join(dir, "checkpoint")
	db := openDB(t, dbDir, nil)
	for i := range 2000 {
		if err := db.Set(fmt.Appendf(nil, "key%06d", i), bytes.Repeat([]byte{'v'}, 100), pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Checkpoint(ckDir, pebble.WithFlushedWAL()); err != nil {
		t.Fatal(err)
	}
	tables, err := filepath.Glob(filepath.Join(ckDir, "*.sst"))
	if err != nil || len(tables) != 1 {
		t.Fatalf("checkpoint tables: %v, %v; want one", tables, err)
	}
	// The checkpoint's table is a hard link to the database's: replace it
	// with a damaged copy, leaving the database's file alone.
	data, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/4] ^= 0x55 // inside the data blocks, far from the footer
	if err := os.Remove(tables[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tables[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	var reported atomic.Int64
	for _, tc := range []struct {
		name         string
		opts         *pebble.Options
		wantReported bool
	}{
		{"no options", nil, false},
		{"listener without a corruption handler", &pebble.Options{EventListener: &pebble.EventListener{}}, false},
		{"corruption handler", &pebble.Options{EventListener: &pebble.EventListener{
			DataCorruption: func(pebble.DataCorruptionInfo) { reported.Add(1) },
		}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reported.Store(0)
			ck, err := OpenReadOnly(ckDir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer ck.Close()
			outDir := t.TempDir()
			_, err = Build(context.Background(), ck, filepath.Join(outDir, "out.stru"), Options{}, builder.Options{})
			if err == nil || !strings.Contains(err.Error(), "pebblesrc: reading keys") {
				t.Fatalf("Build from a damaged table: %v, want an error reading keys", err)
			}
			t.Log(err)
			checkNoOutput(t, outDir)
			if got := reported.Load() > 0; got != tc.wantReported {
				t.Errorf("the given corruption handler called %d times, want it called: %v", reported.Load(), tc.wantReported)
			}
		})
	}
}

// TestKeysOutOfOrder reads a database ordered by a comparer other than
// byte order: Keys stops at the first key out of order.
//
// The comparer splits no prefix off a key: the whole key is its suffix,
// and suffixes compare in reverse byte order. Pebble built with -race
// checks, in some of its opens, that Compare agrees with that split
// (invariants.Sometimes in pebble.Open), so a comparer that reversed
// Compare alone would fail this test now and then.
func TestKeysOutOfOrder(t *testing.T) {
	backwards := func(a, b []byte) int { return bytes.Compare(b, a) }
	reverse := *pebble.DefaultComparer
	reverse.Name = "stru.test.reverse"
	reverse.Compare = backwards
	reverse.Equal = bytes.Equal
	reverse.Split = func([]byte) int { return 0 }
	reverse.AbbreviatedKey = func([]byte) uint64 { return 0 }
	reverse.Separator = func(dst, a, _ []byte) []byte { return append(dst, a...) }
	reverse.Successor = func(dst, a []byte) []byte { return append(dst, a...) }
	reverse.ImmediateSuccessor = nil
	reverse.ComparePointSuffixes = backwards
	reverse.CompareRangeSuffixes = backwards
	db := openDB(t, t.TempDir(), &pebble.Options{Comparer: &reverse})
	for _, k := range []string{"a", "b", "c"} {
		if err := db.Set([]byte(k), nil, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	var err error
	for k, e := range Keys(db, Options{}) {
		if e != nil {
			err = e
			break
		}
		got = append(got, string(k))
	}
	if want := `key "b" follows key "c"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Keys: %v, want an error containing %q", err, want)
	}
	if !slices.Equal(got, []string{"c"}) {
		t.Errorf("keys before the error: %q, want [c]", got)
	}
}

// TestQuote checks that messages quote a key whole up to 64 bytes and
// its first 64 bytes, then "...", past that.
func TestQuote(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 1000} {
		key := bytes.Repeat([]byte{'k'}, n)
		want := strconv.Quote(string(key))
		if n > 64 {
			want = strconv.Quote(string(key[:64])) + "..."
		}
		if got := quote(key); got != want {
			t.Errorf("quote of %d bytes: %s, want %s", n, got, want)
		}
	}
}
