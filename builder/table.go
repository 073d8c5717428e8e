package builder

import (
	"errors"
	"runtime"
	"sync"
	"unsafe"

	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/internal/prefetch"
)

const (
	maxKicks  = 1000 // evictions tried to place one key before re-keying
	maxRekeys = 16   // hash keys tried before giving up
)

// errPlace means some key could not be placed under the current hash key.
var errPlace = errors.New("stru: could not place every key in the hash table")

// A table is the hash table being built (format.md §4), whole or the part
// of it that holds one range of its blocks (§3): slots holds, BucketSlots
// per bucket, the number + 1 of the key in each slot, 0 for an empty one,
// and fill counts the used slots of each bucket, which are always its
// first ones.
//
// The keys placed are numbered from 0 in ordinal order: for a whole table
// the numbers are the ordinals; for a range of blocks they count the keys
// of the range (see partition.go). fileSlot turns a slot into the file's.
type table struct {
	slots    []uint64 // the buckets of the range, from its first
	fill     []uint8  // used slots of each bucket of the range
	hashes   []uint64 // by key number
	locs     []uint64 // by key number: where the key is, as loc gives it
	buckets  uint64   // buckets in the whole table
	perBlock uint64   // buckets in a block: buckets / index.Blocks(buckets)
	first    uint64   // the range's first bucket, a multiple of perBlock
	rng      []uint64 // by block of the range: splitmix64 state choosing eviction victims
	second   uint64   // keys in their second bucket

	// Buffers of a partitioned placement (partition.go), reused from one
	// partition to the next: by key number, the hashes and locations of
	// the partition's keys.
	hashBuf, locBuf []uint64
}

// loc packs where a key of n bytes at offset in the key data is, for a
// table's locs: offset<<8 | its slot's length field.
func loc(offset, n uint64) uint64 { return offset<<index.LenBits | index.LenField(n) }

// fileSlot returns the file's slot for table slot s (format.md §4).
func (t *table) fileSlot(s uint64) uint64 {
	if s == 0 {
		return 0
	}
	l := t.locs[s-1]
	return index.MakeSlot(t.hashes[s-1], l&index.LongKey, l>>index.LenBits)
}

// slotAhead is how many slots ahead eachFileSlot asks for the hash and
// location of a slot's key.
const slotAhead = 16

// eachFileSlot calls f with the file's slot for each of t's slots, in
// order (fileSlot), and stops at the first error. Consecutive slots hold
// keys of no particular numbers, so a slot's hash and location are two
// cache misses once the table outgrows the cache: eachFileSlot prefetches
// them slotAhead slots ahead, so that the misses of consecutive slots
// overlap rather than come one after another.
func (t *table) eachFileSlot(f func(slot uint64) error) error {
	for i, s := range t.slots {
		if j := i + slotAhead; j < len(t.slots) && t.slots[j] != 0 {
			k := t.slots[j] - 1
			prefetch.Line(unsafe.Pointer(&t.hashes[k]))
			prefetch.Line(unsafe.Pointer(&t.locs[k]))
		}
		if err := f(t.fileSlot(s)); err != nil {
			return err
		}
	}
	return nil
}

// place builds the whole table for keys whose hashes and locations (loc)
// by ordinal are hashes and locs, with the given number of buckets; seed
// is k0 XOR k1 of the hash key. It returns errPlace if some key cannot be
// placed.
//
// Keys are placed in ordinal order, each in its first bucket if it has
// room, else in its second, else by evicting a key to its other bucket
// (cuckoo hashing), so a key is in its second bucket only while its first
// is full: the invariant Find relies on. Both buckets of a key lie in its
// block, so evictions never leave a block and each block's placement
// depends only on its own keys, in ordinal order, and on its own
// generator of eviction choices, seeded from seed and the block's number
// (blockSeed). So the table depends only on the keys and the hash key, and
// placing one range of blocks at a time (placeRange) gives the same slots.
func place(hashes, locs []uint64, buckets, seed uint64) (*table, error) {
	t := &table{locs: locs}
	if err := t.placeRange(hashes, buckets, 0, index.Blocks(buckets), seed); err != nil {
		return nil, err
	}
	return t, nil
}

// placeRange places, in t, the keys of blocks [firstBlock,
// firstBlock+nblocks) of a table of the given number of buckets: hashes
// holds their hashes in ordinal order, and every one of them must lie in
// the range. It reuses t's memory when it can. It returns errPlace if some
// key cannot be placed.
func (t *table) placeRange(hashes []uint64, buckets, firstBlock, nblocks, seed uint64) error {
	t.buckets = buckets
	t.perBlock = buckets / index.Blocks(buckets)
	t.first = firstBlock * t.perBlock
	t.hashes = hashes
	t.second = 0
	nb := nblocks * t.perBlock
	t.slots = resize(t.slots, nb*index.BucketSlots)
	t.fill = resize(t.fill, nb)
	t.rng = resize(t.rng, nblocks)
	for i := range t.rng {
		t.rng[i] = blockSeed(seed, firstBlock+uint64(i))
	}
	// Blocks are independent: each of the workers places the keys of
	// every workers-th block, in ordinal order.
	workers := int(min(nblocks, uint64(runtime.GOMAXPROCS(0)), maxPlaceWorkers))
	errs := make([]error, workers)
	seconds := make([]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			errs[w] = t.placeBlocks(uint64(w), uint64(workers), &seconds[w])
		})
	}
	wg.Wait()
	for w := range workers {
		t.second += seconds[w]
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, errPlace) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// maxPlaceWorkers is the most goroutines placing the blocks of a table.
const maxPlaceWorkers = 4

// placeBlocks places, in ordinal order, the keys whose block's number in
// the range is w modulo workers, counting in second those that end in
// their second bucket.
func (t *table) placeBlocks(w, workers uint64, second *uint64) error {
	nb := uint64(len(t.fill))
	for i, h := range t.hashes {
		b1, b2 := index.Buckets(h, t.buckets)
		b1, b2 = b1-t.first, b2-t.first // wrap around below t.first
		if b1 >= nb {
			return errorf("internal error: key %d of a partition lies in bucket %d, outside its buckets [%d, %d)", i, b1+t.first, t.first, t.first+nb)
		}
		if (b1/t.perBlock)%workers != w {
			continue
		}
		if !t.insert(uint64(i), b1, b2, second) {
			return errPlace
		}
	}
	return nil
}

// resize returns s with length n and every element zero, reusing s's
// memory if it is large enough.
func resize[T any](s []T, n uint64) []T {
	if uint64(cap(s)) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// blockSeed returns the starting state of block k's generator of eviction
// choices: seed XOR mix(k), where mix is splitmix64's output function, so
// that the blocks draw unrelated sequences. mix(0) = 0: a table of one
// block draws the sequence that starts at seed.
func blockSeed(seed, k uint64) uint64 { return seed ^ mix(k) }

// mix is splitmix64's output function (format.md §9).
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// bucketsOf returns the key's two buckets, relative to the range's first.
func (t *table) bucketsOf(key uint64) (b1, b2 uint64) {
	b1, b2 = index.Buckets(t.hashes[key], t.buckets)
	return b1 - t.first, b2 - t.first
}

func (t *table) put(b, key uint64) {
	t.slots[b*index.BucketSlots+uint64(t.fill[b])] = key + 1
	t.fill[b]++
}

// insert places key, whose buckets are b1 and b2, counting in second the
// change in the number of keys in their second bucket. It reports false
// if the key cannot be placed within maxKicks evictions.
func (t *table) insert(key, b1, b2 uint64, second *uint64) bool {
	switch {
	case t.fill[b1] < index.BucketSlots:
		t.put(b1, key)
		return true
	case t.fill[b2] < index.BucketSlots: // so b2 ≠ b1
		t.put(b2, key)
		*second++
		return true
	}
	// Both full: evict a random key of the full bucket b to its other
	// bucket. b stays full, so the invariant holds for the keys in it.
	// Every bucket visited is in the block of b1, whose generator
	// chooses. first is the first bucket of the key being put in b.
	rng := &t.rng[b1/t.perBlock]
	b, first := b1, b1
	for range maxKicks {
		i := b*index.BucketSlots + next(rng)%index.BucketSlots
		victim := t.slots[i] - 1
		t.slots[i] = key + 1
		if b != first {
			*second++
		}
		key = victim
		v1, v2 := t.bucketsOf(key)
		if b != v1 { // the victim leaves its second bucket
			*second--
		}
		if b == v1 {
			b = v2
		} else {
			b = v1
		}
		first = v1
		if t.fill[b] < index.BucketSlots {
			t.put(b, key)
			if b != first {
				*second++
			}
			return true
		}
	}
	return false
}

// next advances the splitmix64 state *s and returns its next value.
func next(s *uint64) uint64 {
	*s += 0x9E3779B97F4A7C15
	return mix(*s)
}

// secondBucket returns the number of keys stored in their second bucket.
func (t *table) secondBucket() uint64 { return t.second }

// rekey derives the hash key to try after key failed to place every key:
// the SipHash-2-4, under key, of the 8-byte attempt number and of its
// complement. A fixed starting key thus still gives reproducible output.
func rekey(key index.HashKey, attempt uint64) index.HashKey {
	k0, k1 := key.Halves()
	var msg [8]byte
	var next index.HashKey
	for half := range 2 {
		v := attempt
		if half == 1 {
			v = ^attempt
		}
		for i := range msg {
			msg[i] = byte(v >> (8 * i))
		}
		h := index.Hash(k0, k1, msg[:])
		for i := range 8 {
			next[8*half+i] = byte(h >> (8 * i))
		}
	}
	return next
}
