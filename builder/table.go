package builder

import (
	"errors"

	"github.com/stru-index/stru/index"
)

const (
	maxKicks  = 1000 // evictions tried to place one key before re-keying
	maxRekeys = 16   // hash keys tried before giving up
)

// errPlace means some key could not be placed under the current hash key.
var errPlace = errors.New("stru: could not place every key in the hash table")

// A table is the hash table being built (format.md §4): slots holds
// index.MakeSlot values, BucketSlots per bucket, and fill counts the used
// slots of each bucket, which are always its first ones.
type table struct {
	slots   []uint64
	fill    []uint8
	hashes  []uint64 // by ordinal
	buckets uint64
	rng     uint64 // splitmix64 state choosing eviction victims
}

// place builds the table for keys whose hashes by ordinal are hashes, with
// the given number of buckets. Keys are placed in ordinal order, each in
// its first bucket if it has room, else in its second, else by evicting a
// key to its other bucket (cuckoo hashing), so a key is in its second
// bucket only while its first is full: the invariant Find relies on. The
// eviction choices come from seed, so the table depends only on the keys
// and the hash key.
func place(hashes []uint64, buckets, seed uint64) (*table, error) {
	t := &table{
		slots:   make([]uint64, buckets*index.BucketSlots),
		fill:    make([]uint8, buckets),
		hashes:  hashes,
		buckets: buckets,
		rng:     seed,
	}
	for ord := range uint64(len(hashes)) {
		if !t.insert(ord) {
			return nil, errPlace
		}
	}
	return t, nil
}

func (t *table) put(b, ord uint64) {
	t.slots[b*index.BucketSlots+uint64(t.fill[b])] = index.MakeSlot(index.Tag(t.hashes[ord]), ord)
	t.fill[b]++
}

func (t *table) insert(ord uint64) bool {
	b1, b2 := index.Buckets(t.hashes[ord], t.buckets)
	switch {
	case t.fill[b1] < index.BucketSlots:
		t.put(b1, ord)
		return true
	case t.fill[b2] < index.BucketSlots:
		t.put(b2, ord)
		return true
	}
	// Both full: evict a random key of the full bucket b to its other
	// bucket. b stays full, so the invariant holds for the keys in it.
	b := b1
	for range maxKicks {
		i := b*index.BucketSlots + t.next()%index.BucketSlots
		victim, _ := index.SlotOrdinal(t.slots[i])
		t.slots[i] = index.MakeSlot(index.Tag(t.hashes[ord]), ord)
		ord = victim
		v1, v2 := index.Buckets(t.hashes[ord], t.buckets)
		if b == v1 {
			b = v2
		} else {
			b = v1
		}
		if t.fill[b] < index.BucketSlots {
			t.put(b, ord)
			return true
		}
	}
	return false
}

// next returns the next splitmix64 value.
func (t *table) next() uint64 {
	t.rng += 0x9E3779B97F4A7C15
	z := t.rng
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// secondBucket counts the keys stored in their second bucket.
func (t *table) secondBucket() uint64 {
	var n uint64
	for b := range t.buckets {
		for _, s := range t.slots[b*index.BucketSlots : b*index.BucketSlots+uint64(t.fill[b])] {
			ord, _ := index.SlotOrdinal(s)
			if b1, _ := index.Buckets(t.hashes[ord], t.buckets); b1 != b {
				n++
			}
		}
	}
	return n
}

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
