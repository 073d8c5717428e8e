package reader_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the random key sets (0: derived from the time, and logged)")

// testSeed returns the seed for a randomized test, logging it so that a
// failure can be replayed with -seed.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return seed
}

// fixedKey is the hash key of tests that need reproducible files.
var fixedKey = index.HashKey{0: 0x53, 1: 0x54, 2: 0x52, 3: 0x55, 15: 0x01}

// genAlphabet is a small alphabet of awkward bytes: NUL, control bytes,
// UTF-8 continuation and lead bytes that cannot start valid text, 0xff.
// Keys drawn from it share prefixes far more often than random bytes do.
const genAlphabet = "\x00\x01ab\x7f\x80\xbf\xc3\xfe\xff"

// genKey returns a random key of 0–100 bytes, drawn either from all 256
// byte values or from genAlphabet.
func genKey(rng *rand.Rand) []byte {
	k := make([]byte, rng.IntN(101))
	if rng.IntN(2) == 0 {
		for i := range k {
			k[i] = byte(rng.Uint32())
		}
	} else {
		for i := range k {
			k[i] = genAlphabet[rng.IntN(len(genAlphabet))]
		}
	}
	return k
}

// randBytes returns n random bytes.
func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// genSet returns n distinct random keys, sorted. A quarter of them are
// derived from an earlier key, by truncating or extending it, so that the
// set holds keys that are prefixes of each other.
func genSet(rng *rand.Rand, n int) [][]byte {
	seen := make(map[string]bool, n)
	keys := make([][]byte, 0, n)
	for len(keys) < n {
		var k []byte
		if len(keys) > 0 && rng.IntN(4) == 0 {
			base := keys[rng.IntN(len(keys))]
			if rng.IntN(2) == 0 {
				k = slices.Clone(base[:rng.IntN(len(base)+1)])
			} else {
				k = append(slices.Clone(base), randBytes(rng, rng.IntN(4))...)
			}
		} else {
			k = genKey(rng)
		}
		if len(k) > 100 || seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		keys = append(keys, k)
	}
	slices.SortFunc(keys, bytes.Compare)
	return keys
}

// genNonMembers returns up to n keys that are not in sorted: random keys,
// and members with a byte appended, removed or changed.
func genNonMembers(rng *rand.Rand, sorted [][]byte, n int) [][]byte {
	in := func(k []byte) bool {
		_, found := slices.BinarySearchFunc(sorted, k, bytes.Compare)
		return found
	}
	var out [][]byte
	for range 4 * n {
		if len(out) == n {
			break
		}
		var k []byte
		if len(sorted) == 0 || rng.IntN(3) == 0 {
			k = genKey(rng)
		} else {
			m := sorted[rng.IntN(len(sorted))]
			switch {
			case rng.IntN(3) == 0:
				k = append(slices.Clone(m), byte(rng.Uint32()))
			case len(m) > 0 && rng.IntN(2) == 0:
				k = slices.Clone(m[:len(m)-1])
			case len(m) > 0:
				k = slices.Clone(m)
				k[rng.IntN(len(k))] ^= byte(1 + rng.IntN(255))
			default:
				k = []byte{0}
			}
		}
		if !in(k) {
			out = append(out, k)
		}
	}
	return out
}

// genPrefixes returns prefixes to scan for: the empty prefix, prefixes
// made of 0xff bytes, prefixes of members (whole members included) with
// and without a trailing 0xff, members extended past their end, and
// random keys.
func genPrefixes(rng *rand.Rand, sorted [][]byte, n int) [][]byte {
	ps := [][]byte{{}, {0x00}, {0xff}, {0xff, 0xff}, {0xff, 0xff, 0xff, 0xff}, bytes.Repeat([]byte{0xff}, 200)}
	for range n {
		if len(sorted) == 0 || rng.IntN(5) == 0 {
			ps = append(ps, randBytes(rng, rng.IntN(4)))
			continue
		}
		m := sorted[rng.IntN(len(sorted))]
		p := slices.Clone(m[:rng.IntN(len(m)+1)])
		switch rng.IntN(4) {
		case 0:
			p = append(p, 0xff)
		case 1:
			p = append(slices.Clone(m), randBytes(rng, 1+rng.IntN(3))...) // longer than the key
		}
		ps = append(ps, p)
	}
	return ps
}

// buildIndex builds the STRU file of keys with opts, inserting them in the
// order given, and returns its bytes.
func buildIndex(t testing.TB, keys [][]byte, opts builder.Options) []byte {
	t.Helper()
	b, err := builder.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close() // a Builder that spilled keeps its runs until Close
	for _, k := range keys {
		if err := b.Add(k); err != nil {
			t.Fatal(err)
		}
	}
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

// writeTemp writes data to a new file in a temporary directory and returns
// its path.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// overwrite writes data over the start of the file at path, in place: the
// same file (inode), which stays at least as long as it was.
func overwrite(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// A namedReader is a Reader and how it was made.
type namedReader struct {
	how string
	r   *reader.Reader
}

// openReaders returns two Readers of the file data: one mapping a real
// file with Open, one from FromBytes. They are closed when the test ends.
func openReaders(t testing.TB, data []byte) []namedReader {
	t.Helper()
	path := writeTemp(t, "set.stru", data)
	opened, err := reader.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	fromBytes, err := reader.FromBytes(data)
	if err != nil {
		t.Fatalf("FromBytes: %v", err)
	}
	t.Cleanup(func() {
		opened.Close()
		fromBytes.Close()
	})
	return []namedReader{{"Open", opened}, {"FromBytes", fromBytes}}
}

// checkSet checks every query of r against the sorted, distinct keys it
// was built from: members found with their ordinal, nonMembers not found,
// Key, All, Prefix and PrefixRange against brute force, and Verify.
func checkSet(t *testing.T, r *reader.Reader, sorted, nonMembers, prefixes [][]byte) {
	t.Helper()
	if got := r.Len(); got != len(sorted) {
		t.Fatalf("Len() = %d, want %d", got, len(sorted))
	}
	for i, k := range sorted {
		if !r.Contains(k) || !r.ContainsString(string(k)) {
			t.Fatalf("member %d %q: Contains %v, ContainsString %v", i, k, r.Contains(k), r.ContainsString(string(k)))
		}
		ord, ok := r.Lookup(k)
		if !ok || ord != i {
			t.Fatalf("Lookup(%q) = %d, %v; want %d, true (its rank in sorted order)", k, ord, ok, i)
		}
		if ord, ok := r.LookupString(string(k)); !ok || ord != i {
			t.Fatalf("LookupString(%q) = %d, %v; want %d, true", k, ord, ok, i)
		}
		if got := r.Key(ord); !bytes.Equal(got, k) {
			t.Fatalf("Key(Lookup(%q)) = %q", k, got)
		}
	}
	for _, k := range nonMembers {
		if r.Contains(k) || r.ContainsString(string(k)) {
			t.Fatalf("non-member %q reported present", k)
		}
		if ord, ok := r.Lookup(k); ok {
			t.Fatalf("Lookup(non-member %q) = %d, true", k, ord)
		}
	}
	for _, i := range []int{-1, len(sorted), len(sorted) + 1, math.MinInt} {
		if k := r.Key(i); k != nil {
			t.Fatalf("Key(%d) = %q, want nil (out of range)", i, k)
		}
	}
	all := slices.Collect(r.All())
	if len(all) != len(sorted) {
		t.Fatalf("All() yielded %d keys, want %d", len(all), len(sorted))
	}
	for i := range all {
		if i > 0 && bytes.Compare(all[i-1], all[i]) >= 0 {
			t.Fatalf("All() not strictly ascending at %d: %q then %q", i, all[i-1], all[i])
		}
		if !bytes.Equal(all[i], sorted[i]) {
			t.Fatalf("All()[%d] = %q, want %q", i, all[i], sorted[i])
		}
	}
	for _, p := range prefixes {
		var want [][]byte
		start := 0
		for _, k := range sorted {
			if bytes.Compare(k, p) < 0 {
				start++
			}
			if bytes.HasPrefix(k, p) {
				want = append(want, k)
			}
		}
		got := slices.Collect(r.Prefix(p))
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("Prefix(%q) yielded %d keys %q, brute force gives %d", p, len(got), got, len(want))
		}
		if s, e := r.PrefixRange(p); s != start || e != start+len(want) {
			t.Fatalf("PrefixRange(%q) = [%d, %d), want [%d, %d)", p, s, e, start, start+len(want))
		}
	}
	if err := r.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestRandomSets is the property test: for random sets of many sizes,
// every query agrees with brute force over the set, and the file depends
// only on the set and the hash key.
func TestRandomSets(t *testing.T) {
	seed := testSeed(t)
	sizes := []int{0, 1, 2, 7, 8, 9, 17, 100, 1000, 10_000, 50_000}
	if testing.Short() {
		sizes = sizes[:len(sizes)-1]
	}
	for i, n := range sizes {
		t.Run(fmt.Sprintf("keys=%d", n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			sorted := genSet(rng, n)
			non := genNonMembers(rng, sorted, min(2*n+20, 5000))
			prefixes := genPrefixes(rng, sorted, max(10, min(n, 2_000_000/max(n, 1))))
			hk := index.HashKey{}
			for j := range hk {
				hk[j] = byte(rng.Uint32())
			}
			// Every load factor, the largest set at the fullest.
			lf := []float64{0, builder.MinLoadFactor, 0.5, builder.MaxLoadFactor}[i%4]
			if i == len(sizes)-1 {
				lf = builder.MaxLoadFactor
			}
			opts := builder.Options{HashKey: &hk, LoadFactor: lf}
			t.Logf("load factor %v", lf)

			shuffled := slices.Clone(sorted)
			rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
			data := buildIndex(t, shuffled, opts)
			for _, nr := range openReaders(t, data) {
				t.Run(nr.how, func(t *testing.T) { checkSet(t, nr.r, sorted, non, prefixes) })
			}

			// The same set in another order, with duplicates added,
			// gives the same bytes.
			again := slices.Clone(sorted)
			rng.Shuffle(len(again), func(a, b int) { again[a], again[b] = again[b], again[a] })
			for range min(len(sorted), 50) {
				again = append(again, sorted[rng.IntN(len(sorted))])
			}
			if data2 := buildIndex(t, again, opts); !bytes.Equal(data, data2) {
				t.Fatalf("same set and hash key, another insertion order: files differ (%d and %d bytes)", len(data), len(data2))
			}
		})
	}
}

// A setCase is a set of keys with something special about it.
type setCase struct {
	name       string
	keys       [][]byte
	loadFactor float64
	check      func(t *testing.T, r *reader.Reader) // extra checks, may be nil
}

func repeatKey(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// edgeCases returns the table of edge-case sets.
func edgeCases() []setCase {
	lengthWidth := func(want uint8) func(*testing.T, *reader.Reader) {
		return func(t *testing.T, r *reader.Reader) {
			if got := r.Header().LengthWidth; got != want {
				t.Errorf("length width %d, want %d", got, want)
			}
		}
	}
	var chain, nulChain, manyFew [][]byte
	for n := range 300 {
		chain = append(chain, repeatKey('a', n)) // "", "a", "aa", ...: each a prefix of the next
	}
	for n := 1; n <= 20; n++ {
		nulChain = append(nulChain, repeatKey(0, n))
		nulChain = append(nulChain, append(repeatKey(0, n), 0xff))
	}
	for i := range 2000 {
		manyFew = append(manyFew, fmt.Appendf(nil, "k%d", i))
	}
	return []setCase{
		{name: "empty", keys: nil, check: func(t *testing.T, r *reader.Reader) {
			if h := r.Header(); h.Keys != 0 || h.KeyBytes != 0 || h.MaxKeyLen != 0 || h.Buckets != 1 {
				t.Errorf("header of the empty set: %+v", h)
			}
		}},
		{name: "only the empty key", keys: [][]byte{{}}},
		{name: "one key", keys: [][]byte{[]byte("x")}},
		{name: "one NUL", keys: [][]byte{{0}}},
		{name: "empty key and NUL", keys: [][]byte{{}, {0}, {0, 0}}},
		{name: "NUL and invalid UTF-8", keys: [][]byte{
			[]byte("a\x00b"), []byte("\x00"), []byte("\xff\xfe"), []byte("\xc3"), []byte("\xc3\xa9"),
			[]byte("\xed\xa0\x80"), []byte("\x80"), []byte("a\x00"), []byte("a"), []byte("\xf4\x90\x80\x80"),
		}},
		{name: "prefix chain", keys: chain, check: lengthWidth(2)},
		{name: "NUL chains", keys: nulChain},
		{name: "255-byte keys", keys: [][]byte{repeatKey('a', 255), repeatKey('b', 255), repeatKey(0xff, 255)}, check: lengthWidth(1)},
		{name: "256-byte keys", keys: [][]byte{repeatKey('a', 256), repeatKey('b', 256), {}, []byte("c")}, check: lengthWidth(2)},
		// Keys shorter than index.LongKey are compared at their slot's
		// offset, longer ones through the offset table: both, side by side.
		{name: "keys around the long-key length", keys: [][]byte{
			repeatKey('k', index.LongKey-2), repeatKey('k', index.LongKey-1), repeatKey('k', index.LongKey),
			repeatKey('k', index.LongKey+1), repeatKey('k', index.LongKey+2), append(repeatKey('k', index.LongKey-1), 'x'),
			append(repeatKey('k', index.LongKey), 'x'), append(repeatKey('k', index.LongKey-2), 'x'),
		}},
		// The empty key and the next key share offset 0: the long key's
		// ordinal is 1, and the empty key's 0.
		{name: "empty key and a long key at offset 0", keys: [][]byte{{}, repeatKey(0, index.LongKey), repeatKey(0, 300), []byte("b")}},
		{name: "longest keys", keys: [][]byte{
			repeatKey(0xff, index.MaxKeyLen), repeatKey(0, index.MaxKeyLen), append(repeatKey(0, index.MaxKeyLen-1), 1),
			repeatKey(0, index.MaxKeyLen-1), []byte("short"),
		}, check: func(t *testing.T, r *reader.Reader) {
			if got := r.Header().MaxKeyLen; got != index.MaxKeyLen {
				t.Errorf("MaxKeyLen in header %d, want %d", got, index.MaxKeyLen)
			}
		}},
		{name: "9 keys in 2 buckets", keys: manyFew[:9], loadFactor: builder.MaxLoadFactor, check: bucketCount(9, builder.MaxLoadFactor)},
		{name: "16 keys in 3 buckets", keys: manyFew[:16], loadFactor: builder.MaxLoadFactor, check: bucketCount(16, builder.MaxLoadFactor)},
		{name: "2000 keys at load factor 0.95", keys: manyFew, loadFactor: builder.MaxLoadFactor, check: bucketCount(2000, builder.MaxLoadFactor)},
		{name: "2000 keys at load factor 0.05", keys: manyFew, loadFactor: builder.MinLoadFactor, check: bucketCount(2000, builder.MinLoadFactor)},
	}
}

// bucketCount checks that the file of n keys built at load factor lf has
// ⌈n / (8 × lf)⌉ buckets (format.md: the builder's table size).
func bucketCount(n int, lf float64) func(*testing.T, *reader.Reader) {
	return func(t *testing.T, r *reader.Reader) {
		want := uint64(math.Ceil(float64(n) / (index.BucketSlots * lf)))
		if got := r.Header().Buckets; got != want {
			t.Errorf("%d keys at load factor %v: %d buckets, want %d", n, lf, got, want)
		}
	}
}

func TestEdgeCases(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range edgeCases() {
		t.Run(tc.name, func(t *testing.T) {
			sorted := slices.Clone(tc.keys)
			slices.SortFunc(sorted, bytes.Compare)
			// Non-members: every member with a byte added or removed, the
			// empty key if absent, and random keys.
			var non [][]byte
			for _, k := range append(genNonMembers(rng, sorted, 50), []byte{}, []byte{0}, []byte{0xff}) {
				if _, in := slices.BinarySearchFunc(sorted, k, bytes.Compare); !in {
					non = append(non, k)
				}
			}
			// Prefixes: every prefix of every key, up to 300 bytes, and
			// every key extended by a byte.
			prefixes := genPrefixes(rng, sorted, 20)
			seen := map[string]bool{}
			for _, k := range sorted {
				for i := 0; i <= len(k) && i < 300; i++ {
					if !seen[string(k[:i])] {
						seen[string(k[:i])] = true
						prefixes = append(prefixes, k[:i])
					}
				}
				prefixes = append(prefixes, append(slices.Clone(k), 0))
			}
			data := buildIndex(t, tc.keys, builder.Options{HashKey: &fixedKey, LoadFactor: tc.loadFactor})
			for _, nr := range openReaders(t, data) {
				t.Run(nr.how, func(t *testing.T) {
					checkSet(t, nr.r, sorted, non, prefixes)
					if tc.check != nil {
						tc.check(t, nr.r)
					}
				})
			}
		})
	}
}

// TestKeyTooLong checks that a key of MaxKeyLen+1 bytes is refused by every
// way of adding keys, and leaves the Builder usable without it.
func TestKeyTooLong(t *testing.T) {
	long := repeatKey('x', index.MaxKeyLen+1)
	b, err := builder.New(builder.Options{HashKey: &fixedKey})
	if err != nil {
		t.Fatal(err)
	}
	adds := map[string]func() error{
		"Add":        func() error { return b.Add(long) },
		"AddString":  func() error { return b.AddString(string(long)) },
		"AddAll":     func() error { return b.AddAll(slices.Values([][]byte{[]byte("ok"), long})) },
		"AddStrings": func() error { return b.AddStrings(slices.Values([]string{"fine", string(long)})) },
	}
	for name, add := range adds {
		if err := add(); !errors.Is(err, index.ErrKeyTooLong) {
			t.Errorf("%s of a %d-byte key: %v, want ErrKeyTooLong", name, len(long), err)
		}
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := reader.FromBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	// AddAll and AddStrings added the keys before the long one.
	if got := slices.Collect(r.All()); len(got) != 2 || string(got[0]) != "fine" || string(got[1]) != "ok" {
		t.Errorf("keys after refused adds: %q, want [fine ok]", got)
	}
	if r.Contains(long) || r.Contains(long[:index.MaxKeyLen]) {
		t.Error("the refused key, or its first MaxKeyLen bytes, is in the set")
	}
	if err := r.Verify(); err != nil {
		t.Error(err)
	}
}

// TestZeroAllocs checks that lookups, hits and misses, allocate nothing.
func TestZeroAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sorted := genSet(rng, 1000)
	non := genNonMembers(rng, sorted, 100)
	data := buildIndex(t, sorted, builder.Options{})
	for _, nr := range openReaders(t, data) {
		r := nr.r
		hit, miss := sorted[len(sorted)/2], non[0]
		hitS, missS := string(hit), string(miss)
		strs, answers := []string{hitS, missS, string(sorted[0])}, make([]bool, 3)
		sink := 0
		cases := []struct {
			name string
			f    func()
		}{
			{"Contains/hit", func() { sink += boolInt(r.Contains(hit)) }},
			{"Contains/miss", func() { sink += boolInt(r.Contains(miss)) }},
			{"ContainsString/hit", func() { sink += boolInt(r.ContainsString(hitS)) }},
			{"ContainsString/miss", func() { sink += boolInt(r.ContainsString(missS)) }},
			{"Lookup/hit", func() { o, ok := r.Lookup(hit); sink += o + boolInt(ok) }},
			{"Lookup/miss", func() { o, ok := r.Lookup(miss); sink += o + boolInt(ok) }},
			{"LookupString/hit", func() { o, ok := r.LookupString(hitS); sink += o + boolInt(ok) }},
			{"LookupString/miss", func() { o, ok := r.LookupString(missS); sink += o + boolInt(ok) }},
			{"TryContains/hit", func() { ok, err := r.TryContains(hit); sink += boolInt(ok && err == nil) }},
			{"TryContains/miss", func() { ok, err := r.TryContains(miss); sink += boolInt(ok || err != nil) }},
			{"TryLookup/hit", func() { o, ok, err := r.TryLookup(hit); sink += o + boolInt(ok && err == nil) }},
			{"ContainsStrings", func() { r.ContainsStrings(strs, answers); sink += boolInt(answers[0]) }},
			{"Key", func() { sink += len(r.Key(7)) }},
			{"Len", func() { sink += r.Len() }},
		}
		for _, c := range cases {
			if got := testing.AllocsPerRun(1000, c.f); got != 0 {
				t.Errorf("%s: %s allocates %v times per call, want 0", nr.how, c.name, got)
			}
		}
		// Every key, so that the keys found in their second bucket, and
		// misses that read two buckets, are measured too.
		if got := testing.AllocsPerRun(3, func() {
			for _, k := range sorted {
				sink += boolInt(r.Contains(k))
			}
			for _, k := range non {
				sink += boolInt(r.Contains(k))
			}
		}); got != 0 {
			t.Errorf("%s: a pass over every key allocates %v times, want 0", nr.how, got)
		}
		if sink == 0 {
			t.Error("lookups found nothing")
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkClosed checks that a closed Reader answers nothing.
func checkClosed(t *testing.T, r *reader.Reader, keys [][]byte) {
	t.Helper()
	for _, k := range keys {
		if r.Contains(k) || r.ContainsString(string(k)) {
			t.Fatalf("after Close, %q is present", k)
		}
		if o, ok := r.Lookup(k); ok || o != 0 {
			t.Fatalf("after Close, Lookup(%q) = %d, %v", k, o, ok)
		}
		if o, ok := r.LookupString(string(k)); ok || o != 0 {
			t.Fatalf("after Close, LookupString(%q) = %d, %v", k, o, ok)
		}
	}
	if n := r.Len(); n != 0 {
		t.Fatalf("after Close, Len() = %d", n)
	}
	for i := range len(keys) + 1 {
		if k := r.Key(i); k != nil {
			t.Fatalf("after Close, Key(%d) = %q, want nil", i, k)
		}
	}
	if got := slices.Collect(r.All()); len(got) != 0 {
		t.Fatalf("after Close, All() yielded %d keys", len(got))
	}
	if got := slices.Collect(r.Prefix(nil)); len(got) != 0 {
		t.Fatalf("after Close, Prefix(\"\") yielded %d keys", len(got))
	}
	if s, e := r.PrefixRange(nil); s != 0 || e != 0 {
		t.Fatalf("after Close, PrefixRange(\"\") = [%d, %d)", s, e)
	}
	for name, err := range map[string]error{"Verify": r.Verify(), "Preload": r.Preload()} {
		if err == nil {
			t.Fatalf("after Close, %s returned nil", name)
		}
		// "stru: FILE: ..." from a file, "stru: ..." from bytes in memory.
		if msg := err.Error(); !strings.HasPrefix(msg, "stru: ") || strings.Contains(msg, ": :") || !strings.Contains(msg, name+" after Close") {
			t.Errorf("after Close, %s: %q", name, msg)
		}
	}
}

func TestClose(t *testing.T) {
	keys := [][]byte{[]byte("alpha"), []byte("beta"), []byte("gamma"), {}}
	data := buildIndex(t, keys, builder.Options{})
	for _, nr := range openReaders(t, data) {
		t.Run(nr.how, func(t *testing.T) {
			r := nr.r
			// An iterator made before Close yields nothing after it.
			all := r.All()
			if !r.Contains(keys[0]) {
				t.Fatal("key missing before Close")
			}
			for i := range 3 {
				if err := r.Close(); err != nil {
					t.Fatalf("Close #%d: %v", i+1, err)
				}
			}
			checkClosed(t, r, keys)
			if got := slices.Collect(all); len(got) != 0 {
				t.Errorf("iterator made before Close yielded %d keys after it", len(got))
			}
		})
	}
	// A Reader of an empty set, which maps a small file, closes the same way.
	r, err := reader.Open(writeTemp(t, "empty.stru", buildIndex(t, nil, builder.Options{})))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	checkClosed(t, r, [][]byte{{}})
}

// TestCloseKeepsFile checks that Close of one Reader leaves other Readers of
// the same file working, and the file intact.
func TestCloseKeepsFile(t *testing.T) {
	keys := [][]byte{[]byte("one"), []byte("two")}
	path := writeTemp(t, "x.stru", buildIndex(t, keys, builder.Options{}))
	r1, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	r1.Close()
	if !r2.Contains(keys[1]) || r2.Verify() != nil {
		t.Fatal("closing one Reader broke another of the same file")
	}
	r3, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	if err := r3.Verify(); err != nil {
		t.Fatalf("file damaged by Close: %v", err)
	}
}

// TestConcurrentLookups runs lookups from many goroutines on one Reader;
// run with -race.
func TestConcurrentLookups(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sorted := genSet(rng, 5000)
	non := genNonMembers(rng, sorted, 1000)
	data := buildIndex(t, sorted, builder.Options{})
	for _, nr := range openReaders(t, data) {
		t.Run(nr.how, func(t *testing.T) {
			r := nr.r
			var wg sync.WaitGroup
			var failures atomic.Int64
			for g := range 16 {
				wg.Go(func() {
					for i := g; i < len(sorted); i += 16 {
						k := sorted[i]
						ord, ok := r.Lookup(k)
						if !ok || ord != i || !r.ContainsString(string(k)) || !bytes.Equal(r.Key(i), k) {
							failures.Add(1)
						}
					}
					for _, k := range non {
						if r.Contains(k) {
							failures.Add(1)
						}
					}
					if g%4 == 0 {
						n := 0
						for range r.Prefix(sorted[g][:min(len(sorted[g]), 1)]) {
							n++
						}
						if n == 0 {
							failures.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if n := failures.Load(); n != 0 {
				t.Fatalf("%d wrong answers from concurrent lookups", n)
			}
		})
	}
}

// TestCloseDuringLookups closes a Reader while goroutines are looking keys
// up: nothing crashes, answers before Close are right, and once Close has
// returned every lookup returns false.
func TestCloseDuringLookups(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	sorted := genSet(rng, 2000)
	data := buildIndex(t, sorted, builder.Options{})
	for round := range 5 {
		for _, nr := range openReaders(t, data) {
			r := nr.r
			var closing, closed atomic.Bool // set before Close is called, and once it has returned
			var wrong atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range 8 {
				wg.Go(func() {
					<-start
					for i := 0; ; i++ {
						wasClosed := closed.Load()
						want := (g*997 + i) % len(sorted)
						k := sorted[want]
						found := r.Contains(k)
						ord, ok := r.Lookup(k)
						key := r.Key(ord)
						for range r.Prefix(k[:min(1, len(k))]) {
						}
						// Compare key, a view of the mapping, before
						// reading closing: compared after, Close could
						// begin in between and zero its bytes.
						keyRight := bytes.Equal(key, k)
						switch {
						case wasClosed:
							// Close had returned before these lookups began.
							if found || ok || key != nil || r.Len() != 0 {
								wrong.Add(1)
							}
						case !closing.Load():
							// Close had not begun when these lookups ended.
							if !found || !ok || ord != want || !keyRight {
								wrong.Add(1)
							}
						}
						if wasClosed && i > 100 {
							return
						}
					}
				})
			}
			close(start)
			time.Sleep(time.Duration(1+round) * time.Millisecond)
			closing.Store(true)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			closed.Store(true)
			wg.Wait()
			if n := wrong.Load(); n != 0 {
				t.Fatalf("%s, round %d: %d wrong answers around Close", nr.how, round, n)
			}
			checkClosed(t, r, sorted[:10])
		}
	}
}

// TestOpenErrors checks Open of paths that are not STRU files at all.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := reader.Open(filepath.Join(dir, "missing.stru")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing file: %v, want ErrNotExist", err)
	}
	if _, err := reader.Open(dir); err == nil || errors.Is(err, index.ErrNotIndex) || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open of a directory: %v, want an error naming it", err)
	}
}

// TestFromBytesUnaligned checks that FromBytes works on a slice that does
// not start at an aligned address.
func TestFromBytesUnaligned(t *testing.T) {
	keys := [][]byte{[]byte("k1"), []byte("k2")}
	data := buildIndex(t, keys, builder.Options{})
	shifted := append(make([]byte, 3, len(data)+3), data...)[3:]
	r, err := reader.FromBytes(shifted)
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, r, keys, [][]byte{[]byte("k3")}, [][]byte{[]byte("k")})
}
