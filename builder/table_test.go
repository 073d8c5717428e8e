package builder

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/stru-index/stru/index"
)

// seededHashes returns n random hashes from a generator seeded with seed.
func seededHashes(n int, seed uint64) []uint64 {
	rng := rand.New(rand.NewPCG(seed, 0x686173686573))
	h := make([]uint64, n)
	for i := range h {
		h[i] = rng.Uint64()
	}
	return h
}

// specPlace places hashes in a table of buckets buckets exactly as
// format.md §9 describes it, written from that text alone: keys in
// ordinal order, first bucket, second bucket, else evictions from b1
// chosen by the generator of the key's block, which starts at
// k0 XOR k1 XOR mix(k). It returns the slots, or nil if a key needs more
// than 1000 evictions. A slot holds the ordinal + 1 of its key, 0 when
// empty, as a table's slots do; the file's slots and ordinals are made
// from them (fileSlot).
func specPlace(hashes []uint64, buckets, seed uint64) []uint64 {
	slots := make([]uint64, buckets*8)
	fill := make([]int, buckets)
	blocks := (buckets + 65535) / 65536
	per := buckets / blocks
	state := make([]uint64, blocks)
	mixf := func(z uint64) uint64 {
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return z ^ (z >> 31)
	}
	for k := range state {
		state[k] = seed ^ mixf(uint64(k))
	}
	choices := func(ord uint64) (uint64, uint64) { return index.Buckets(hashes[ord], buckets) }
	slot := func(ord uint64) uint64 { return ord + 1 }
	for ord := range uint64(len(hashes)) {
		b1, b2 := choices(ord)
		if fill[b1] < 8 {
			slots[b1*8+uint64(fill[b1])] = slot(ord)
			fill[b1]++
			continue
		}
		if fill[b2] < 8 {
			slots[b2*8+uint64(fill[b2])] = slot(ord)
			fill[b2]++
			continue
		}
		k := b1 / per
		b, key, placed := b1, ord, false
		for range 1000 {
			state[k] += 0x9E3779B97F4A7C15
			i := b*8 + mixf(state[k])%8
			victim := slots[i] - 1
			slots[i] = slot(key)
			key = victim
			if v1, v2 := choices(key); b == v1 {
				b = v2
			} else {
				b = v1
			}
			if fill[b] < 8 {
				slots[b*8+uint64(fill[b])] = slot(key)
				fill[b]++
				placed = true
				break
			}
		}
		if !placed {
			return nil
		}
	}
	return slots
}

// TestPlaceFollowsFormatDoc checks place against the placement of
// format.md §9 as specPlace implements it from the text, for tables of one
// and of several blocks, at load factors where evictions are common.
func TestPlaceFollowsFormatDoc(t *testing.T) {
	for _, c := range []struct {
		keys       int
		loadFactor float64
	}{
		{1000, 0.95},
		{200000, 0.95}, // 26316 buckets: one block
		{600000, 0.95}, // 78948 buckets: 2 blocks
		{400000, 0.5},  // 100000 buckets: 2 blocks
	} {
		t.Run(fmt.Sprintf("%d keys at %v", c.keys, c.loadFactor), func(t *testing.T) {
			hashes := seededHashes(c.keys, uint64(c.keys))
			buckets := index.BucketCount(uint64(c.keys), c.loadFactor)
			const seed = 0x0123456789abcdef
			tab, err := place(hashes, nil, buckets, seed)
			if err != nil {
				t.Fatal(err)
			}
			want := specPlace(hashes, buckets, seed)
			if want == nil {
				t.Fatal("the specification's placement failed where place succeeded")
			}
			if i := firstDiff(tab.slots, want); i >= 0 {
				t.Fatalf("slot %d (bucket %d) is %#x, format.md §9 gives %#x", i, i/8, tab.slots[i], want[i])
			}
			var second uint64 // keys in their second bucket, counted from the slots
			for i, s := range want {
				if s != 0 {
					if b1, _ := index.Buckets(hashes[s-1], buckets); b1 != uint64(i)/8 {
						second++
					}
				}
			}
			if got := tab.secondBucket(); got != second {
				t.Fatalf("secondBucket() = %d, the slots hold %d keys in their second bucket", got, second)
			}
			if c.loadFactor > 0.9 && second == 0 {
				t.Fatal("no key in its second bucket: evictions were not exercised")
			}
		})
	}
}

// firstDiff returns the first index at which a and b differ, or -1.
func firstDiff(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestPlaceRangeMatchesWhole places a table of several blocks one range
// of blocks at a time, for several ways of cutting it into ranges, and
// checks that every range's slots, with key numbers translated to
// ordinals, are the whole table's slots for those buckets.
func TestPlaceRangeMatchesWhole(t *testing.T) {
	for _, c := range []struct {
		keys       int
		loadFactor float64
		sizes      []uint64 // blocks placed at a time
	}{
		{520000, 0.95, []uint64{1, 2}},       // 68422 buckets: 2 blocks, many evictions
		{200000, 0.09, []uint64{1, 2, 3, 5}}, // 277778 buckets: 5 blocks
	} {
		hashes := seededHashes(c.keys, uint64(c.keys))
		nb := index.BucketCount(uint64(c.keys), c.loadFactor)
		const seed = 42
		whole, err := place(hashes, nil, nb, seed)
		if err != nil {
			t.Fatal(err)
		}
		blocks := index.Blocks(nb)
		if blocks < 2 {
			t.Fatalf("%d buckets is one block", nb)
		}
		per := nb / blocks
		blockOf := make([]uint64, len(hashes))
		for i, h := range hashes {
			b1, _ := index.Buckets(h, nb)
			blockOf[i] = b1 / per
		}
		for _, size := range c.sizes {
			t.Run(fmt.Sprintf("%d buckets, %d of %d blocks at a time", nb, size, blocks), func(t *testing.T) {
				var tab table
				var second uint64
				for first := uint64(0); first < blocks; first += size {
					n := min(size, blocks-first)
					var part, ords []uint64
					for ord, h := range hashes {
						if blockOf[ord] >= first && blockOf[ord] < first+n {
							part = append(part, h)
							ords = append(ords, uint64(ord))
						}
					}
					if err := tab.placeRange(part, nb, first, n, seed); err != nil {
						t.Fatal(err)
					}
					second += tab.secondBucket()
					got := slices.Clone(tab.slots)
					for i, s := range got {
						if s != 0 {
							got[i] = ords[s-1] + 1
						}
					}
					want := whole.slots[first*per*index.BucketSlots : (first+n)*per*index.BucketSlots]
					if i := firstDiff(got, want); i >= 0 {
						t.Fatalf("blocks [%d, %d): slot %d is %#x, the whole table has %#x", first, first+n, i, got[i], want[i])
					}
				}
				if second != whole.secondBucket() {
					t.Fatalf("%d keys in their second bucket, the whole table has %d", second, whole.secondBucket())
				}
			})
		}
	}
}

// TestPlaceRangeRejectsStrayKey gives placeRange a key of a block outside
// its range: a builder bug, reported as an error naming the key's bucket
// and the range's buckets rather than a corrupt table: a key of a later
// block, one whose first bucket is the first bucket just past the range,
// and one of a block before the range.
func TestPlaceRangeRejectsStrayKey(t *testing.T) {
	const nb, per = 3 * index.BlockBuckets, index.BlockBuckets
	// find returns a hash whose first bucket ok accepts.
	find := func(ok func(b1 uint64) bool) uint64 {
		for h := uint64(1); ; h = h*0x9E3779B97F4A7C15 + 7 {
			if b1, _ := index.Buckets(h, nb); ok(b1) {
				return h
			}
		}
	}
	// The first bucket of block 1 is b1 = per when h·0x9E3779B97F4A7C15
	// mod 2^64 is below 2^64/per (format.md §3): h = s·m⁻¹ for a small s.
	inv := uint64(0x9E3779B97F4A7C15)
	for range 6 {
		inv *= 2 - 0x9E3779B97F4A7C15*inv // Newton's iteration for the inverse mod 2^64
	}
	var edge uint64
	for s := uint64(1); ; s++ {
		if b1, _ := index.Buckets(s*inv, nb); b1 == per {
			edge = s * inv
			break
		}
	}
	for _, c := range []struct {
		name              string
		hash              uint64
		firstBlock, count uint64
	}{
		{"a key of a later block", find(func(b1 uint64) bool { return b1 >= per }), 0, 1},
		{"a key in the first bucket past the range", edge, 0, 1},
		{"a key of an earlier block", find(func(b1 uint64) bool { return b1 < per }), 1, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			b1, _ := index.Buckets(c.hash, nb)
			var tab table
			err := tab.placeRange([]uint64{c.hash}, nb, c.firstBlock, c.count, 0)
			want := fmt.Sprintf("stru: internal error: key 0 of a partition lies in bucket %d, outside its buckets [%d, %d)",
				b1, c.firstBlock*per, (c.firstBlock+c.count)*per)
			if err == nil || err.Error() != want {
				t.Fatalf("placeRange: %v, want %q", err, want)
			}
		})
	}
}

// TestPlaceFailsInAnyBlock places a table of several blocks in which the
// keys of one block cannot all be placed: 17 keys of one hash, whose two
// buckets hold 16, and no key in the other blocks. Whichever block it is,
// and so whichever of the goroutines placing the blocks fails, place
// returns errPlace.
func TestPlaceFailsInAnyBlock(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(maxPlaceWorkers))
	for _, blocks := range []uint64{2, 3, 4} {
		nb := blocks * index.BlockBuckets
		for bad := range blocks {
			// A hash of block bad with two distinct buckets.
			var h uint64
			for h = bad * ((1<<64 - 1) / blocks); ; h++ {
				b1, b2 := index.Buckets(h, nb)
				if b1/index.BlockBuckets == bad && b1 != b2 {
					break
				}
			}
			t.Run(fmt.Sprintf("%d blocks, block %d full", blocks, bad), func(t *testing.T) {
				if _, err := place(slices.Repeat([]uint64{h}, 16), nil, nb, 0); err != nil {
					t.Fatalf("16 keys in two buckets: %v", err)
				}
				if _, err := place(slices.Repeat([]uint64{h}, 17), nil, nb, 0); !errors.Is(err, errPlace) {
					t.Fatalf("17 keys in two buckets: %v, want errPlace", err)
				}
			})
		}
	}
}
