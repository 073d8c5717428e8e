package builder

// Hash flooding: an attacker who knows the hash key chooses keys that all
// hash to the same two buckets. More than 2×BucketSlots such keys cannot
// be placed, so the builder must change the hash key rather than loop, fail
// or write a table in which some key is more than MaxProbe buckets away.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// floodKey is the hash key the attacker is assumed to know.
var floodKey = index.HashKey{'f', 'l', 'o', 'o', 'd', 8: 0x42, 15: 0x99}

// floodSetSize is the number of keys in each flooding set.
const floodSetSize = 500

// A floodSet is a set of keys and, under floodKey in a table of buckets
// buckets, the groups of them that share both their buckets.
type floodSet struct {
	keys    [][]byte
	buckets uint64
	groups  [][][]byte // keys whose two buckets are the same pair
	pairs   [][2]uint64
}

// makeFloodSet returns floodSetSize distinct random keys for a table of
// the size the builder chooses at the default load factor, in which each
// of the groups has the given number of keys sharing one pair of buckets
// (the same bucket twice when sameBucket is set), by trying random keys
// until enough hash to each pair. The other keys are random fillers that
// share no group's pair.
func makeFloodSet(rng *rand.Rand, groups []int, sameBucket bool) floodSet {
	s := floodSet{buckets: index.BucketCount(floodSetSize, DefaultLoadFactor)}
	k0, k1 := floodKey.Halves()
	// key returns a random candidate key and its pair of buckets. Most
	// candidates are thrown away, so they are arrays, not allocated.
	key := func() ([14]byte, [2]uint64) {
		var k [14]byte
		copy(k[:], "flood-")
		binary.LittleEndian.PutUint64(k[6:], rng.Uint64())
		b1, b2 := index.Buckets(index.Hash(k0, k1, k[:]), s.buckets)
		return k, [2]uint64{b1, b2}
	}
	seen := map[[14]byte]bool{}
	take := func(k [14]byte) []byte {
		if seen[k] {
			return nil
		}
		seen[k] = true
		return slices.Clone(k[:])
	}
	for _, size := range groups {
		var pair [2]uint64
		for {
			_, pair = key()
			if pair[0] == pair[1] == sameBucket && !slices.Contains(s.pairs, pair) {
				break
			}
		}
		var group [][]byte
		for len(group) < size {
			if k, p := key(); p == pair {
				if kb := take(k); kb != nil {
					group = append(group, kb)
				}
			}
		}
		s.pairs = append(s.pairs, pair)
		s.groups = append(s.groups, group)
		s.keys = append(s.keys, group...)
	}
	for len(s.keys) < floodSetSize {
		if k, p := key(); !slices.Contains(s.pairs, p) {
			if kb := take(k); kb != nil {
				s.keys = append(s.keys, kb)
			}
		}
	}
	return s
}

// floodBuild builds the file of keys with opts and returns its bytes and
// the Builder's Stats.
func floodBuild(t *testing.T, keys [][]byte, opts Options) ([]byte, Stats) {
	t.Helper()
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddAll(slices.Values(keys)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	return buf.Bytes(), b.Stats()
}

// checkProbeBound checks, reading the bucket section of the file data
// directly rather than through the reader, that every key of sorted (the
// file's keys in order) is in its first bucket under the file's hash key,
// or in its second with the first full: a lookup reads at most two
// buckets. It also checks the file with Verify and every key with Lookup.
func checkProbeBound(t *testing.T, data []byte, sorted [][]byte) {
	t.Helper()
	r, err := reader.FromBytes(data)
	if err != nil {
		t.Fatalf("FromBytes: %v", err)
	}
	if err := r.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if r.Len() != len(sorted) {
		t.Fatalf("Len() = %d, want %d", r.Len(), len(sorted))
	}
	h, l := r.Header(), r.Layout()
	k0, k1 := h.HashKey.Halves()
	slots := func(b uint64) []uint64 {
		at := l[index.SectionBuckets].Off + b*index.BucketSize
		s := make([]uint64, index.BucketSlots)
		for i := range s {
			s[i] = binary.LittleEndian.Uint64(data[at+uint64(i)*index.SlotSize:])
		}
		return s
	}
	var off uint64 // where key ord starts in the key data
	for ord, k := range sorted {
		hash := index.Hash(k0, k1, k)
		b1, b2 := index.Buckets(hash, h.Buckets)
		want := index.MakeSlot(hash, uint64(len(k)), off)
		off += uint64(len(k))
		first := slots(b1)
		if !slices.Contains(first, want) {
			if slices.Contains(first, 0) {
				t.Fatalf("key %d %q is not in its first bucket %d, which has room", ord, k, b1)
			}
			if !slices.Contains(slots(b2), want) {
				t.Fatalf("key %d %q is in neither of its buckets %d and %d", ord, k, b1, b2)
			}
		}
		if got, ok := r.Lookup(k); !ok || got != ord {
			t.Fatalf("Lookup(%q) = %d, %v, want %d, true", k, got, ok, ord)
		}
	}
}

// TestHashFloodRekeys builds sets in which, under the known hash key,
// more keys share a pair of buckets than the pair can hold. The builder
// must re-key, and the file it writes must keep every key within two
// buckets under the new key.
func TestHashFloodRekeys(t *testing.T) {
	cases := []struct {
		name       string
		groups     []int
		sameBucket bool
	}{
		{"17 keys share two buckets", []int{2*index.BucketSlots + 1}, false},
		{"40 keys share two buckets", []int{40}, false},
		{"three groups of 20 keys share two buckets", []int{20, 20, 20}, false},
		{"9 keys have one bucket as both choices", []int{index.BucketSlots + 1}, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 0x666c6f6f64))
			s := makeFloodSet(rng, c.groups, c.sameBucket)

			// The set is what it claims to be, checked independently of
			// its construction: distinct keys, and groups that collide.
			distinct := slices.Clone(s.keys)
			slices.SortFunc(distinct, bytes.Compare)
			distinct = slices.CompactFunc(distinct, bytes.Equal)
			if len(distinct) != floodSetSize {
				t.Fatalf("%d distinct keys, want %d", len(distinct), floodSetSize)
			}
			k0, k1 := floodKey.Halves()
			for g, group := range s.groups {
				for _, k := range group {
					if b1, b2 := index.Buckets(index.Hash(k0, k1, k), s.buckets); [2]uint64{b1, b2} != s.pairs[g] {
						t.Fatalf("key %q of group %d has buckets %d, %d, not %v", k, g, b1, b2, s.pairs[g])
					}
				}
			}
			// Under the known key the keys cannot be placed.
			hashes := make([]uint64, len(distinct))
			for i, k := range distinct {
				hashes[i] = index.Hash(k0, k1, k)
			}
			if tab, err := place(hashes, nil, s.buckets, k0^k1); !errors.Is(err, errPlace) || tab != nil {
				t.Fatalf("placing the set under the known key: %v, want errPlace", err)
			}

			data, stats := floodBuild(t, s.keys, Options{HashKey: &floodKey})
			t.Logf("Rekeys %d, %d keys in their second bucket", stats.Rekeys, stats.SecondBucket)
			if stats.Rekeys < 1 || stats.HashKey == floodKey {
				t.Fatalf("Stats.Rekeys = %d, hash key %x: the builder did not re-key", stats.Rekeys, stats.HashKey)
			}
			if stats.Keys != floodSetSize || stats.Buckets != s.buckets {
				t.Fatalf("Stats: %d keys in %d buckets, want %d in %d", stats.Keys, stats.Buckets, floodSetSize, s.buckets)
			}
			checkProbeBound(t, data, distinct)
			r, err := reader.FromBytes(data)
			if err != nil {
				t.Fatal(err)
			}
			if r.Header().HashKey != stats.HashKey {
				t.Fatal("the file's hash key is not the one Stats reports")
			}
			for range 200 {
				k := binary.LittleEndian.AppendUint64([]byte("absent-"), rng.Uint64())
				if r.Contains(k) {
					t.Fatalf("non-member %q found", k)
				}
			}
		})
	}
}

// TestHashFloodRandomKey builds a flooding set (against floodKey) twice
// with the default random hash key: the files differ, as the attacker
// cannot know the key, while they answer every query the same.
func TestHashFloodRandomKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 0x666c6f6f64))
	s := makeFloodSet(rng, []int{40}, false)
	a, sa := floodBuild(t, s.keys, Options{})
	b, sb := floodBuild(t, s.keys, Options{})
	if sa.HashKey == sb.HashKey || bytes.Equal(a, b) {
		t.Fatalf("two builds with random hash keys wrote the same file (hash keys %x, %x)", sa.HashKey, sb.HashKey)
	}
	if sa.HashKey == floodKey || sb.HashKey == floodKey {
		t.Fatal("a random hash key is the attacker's")
	}
	sorted := slices.Clone(s.keys)
	slices.SortFunc(sorted, bytes.Compare)
	checkProbeBound(t, a, sorted)
	checkProbeBound(t, b, sorted)
	ra, err := reader.FromBytes(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := reader.FromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(slices.Collect(ra.All()), slices.Collect(rb.All()), bytes.Equal) {
		t.Fatal("All differs between the files")
	}
	probes := slices.Clone(s.keys)
	for range 1000 {
		probes = append(probes, binary.LittleEndian.AppendUint64([]byte("flood-"), rng.Uint64()))
	}
	members := 0
	for _, k := range probes {
		oa, okA := ra.Lookup(k)
		ob, okB := rb.Lookup(k)
		if oa != ob || okA != okB {
			t.Fatalf("Lookup(%q): %d, %v in one file, %d, %v in the other", k, oa, okA, ob, okB)
		}
		_, member := slices.BinarySearchFunc(sorted, k, bytes.Compare)
		if okA != member {
			t.Fatalf("Lookup(%q) = %v, want %v", k, okA, member)
		}
		if member {
			members++
		}
	}
	if members != floodSetSize {
		t.Fatalf("%d probes found, want the %d members", members, floodSetSize)
	}
}

// TestPlaceImpossible gives place hashes that no table can hold within
// two buckets: more keys with the same hash than their buckets have
// slots. It must return errPlace, promptly and without a table, never
// loop or return a table breaking the bound; one key fewer must fit.
func TestPlaceImpossible(t *testing.T) {
	const buckets = 64
	// Hashes whose two buckets differ, and one whose buckets are the same.
	var two, one uint64
	for h := uint64(1); two == 0 || one == 0; h = h*0x9E3779B97F4A7C15 + 1 {
		if b1, b2 := index.Buckets(h, buckets); b1 != b2 && two == 0 {
			two = h
		} else if b1 == b2 && one == 0 {
			one = h
		}
	}
	// Keys with the same two buckets but different hashes, hence tags.
	var pair []uint64
	b1, b2 := index.Buckets(two, buckets)
	for h := uint64(1); len(pair) < 2*index.BucketSlots+1; h++ {
		if c1, c2 := index.Buckets(h*0x2545F4914F6CDD1D, buckets); c1 == b1 && c2 == b2 {
			pair = append(pair, h*0x2545F4914F6CDD1D)
		}
	}
	cases := []struct {
		name   string
		hashes []uint64
		fits   int // the most of them that can be placed
	}{
		{"identical hashes, two buckets", slices.Repeat([]uint64{two}, 2*index.BucketSlots+1), 2 * index.BucketSlots},
		{"distinct hashes, same two buckets", pair, 2 * index.BucketSlots},
		{"identical hashes, one bucket", slices.Repeat([]uint64{one}, index.BucketSlots+1), index.BucketSlots},
		{"the full pair behind random keys", append(randomHashes(100), pair...), 100 + 2*index.BucketSlots},
	}
	for _, c := range cases {
		for _, seed := range []uint64{0, 1, 0xdeadbeef} {
			t.Run(fmt.Sprintf("%s/seed %d", c.name, seed), func(t *testing.T) {
				type result struct {
					tab *table
					err error
				}
				done := make(chan result, 1)
				go func() {
					tab, err := place(c.hashes, nil, buckets, seed)
					done <- result{tab, err}
				}()
				select {
				case res := <-done:
					if !errors.Is(res.err, errPlace) || res.tab != nil {
						t.Fatalf("place of %d keys of which %d fit: %v, want errPlace and no table", len(c.hashes), c.fits, res.err)
					}
				case <-time.After(time.Minute):
					t.Fatal("place did not return within a minute")
				}
				tab, err := place(c.hashes[:c.fits], nil, buckets, seed)
				if err != nil {
					t.Fatalf("place of the %d keys that fit: %v", c.fits, err)
				}
				// The table that fits keeps the bound.
				for ord, h := range c.hashes[:c.fits] {
					h1, h2 := index.Buckets(h, buckets)
					want := uint64(ord) + 1 // a table slot holds its key's number + 1
					in := func(b uint64) bool {
						return slices.Contains(tab.slots[b*index.BucketSlots:(b+1)*index.BucketSlots], want)
					}
					if !in(h1) && !(tab.fill[h1] == index.BucketSlots && in(h2)) {
						t.Fatalf("key %d is not in its first bucket, nor in its second with the first full", ord)
					}
				}
			})
		}
	}
}

// randomHashes returns n hashes from a fixed generator.
func randomHashes(n int) []uint64 {
	rng := rand.New(rand.NewPCG(3, 4))
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = rng.Uint64()
	}
	return hs
}
