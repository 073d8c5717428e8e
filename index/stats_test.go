package index_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
)

// TestSecondBucketKeys checks the count against the builder's own count of
// the keys it placed in their second bucket, at load factors from nearly
// empty (no key needs its second bucket) to the maximum (many do).
func TestSecondBucketKeys(t *testing.T) {
	var hk index.HashKey
	copy(hk[:], "stats test key..")
	for _, tt := range []struct {
		keys       int
		loadFactor float64
		wantSome   bool // at this load some key must be in its second bucket
	}{
		{0, 0.8, false},
		{1, 0.8, false},
		{5000, 0.05, false},
		{5000, 0.8, true},
		{5000, 0.95, true},
	} {
		t.Run(fmt.Sprintf("%d keys at %v", tt.keys, tt.loadFactor), func(t *testing.T) {
			b, err := builder.New(builder.Options{HashKey: &hk, LoadFactor: tt.loadFactor})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.keys {
				b.AddString(fmt.Sprintf("key-%d", i))
			}
			var buf bytes.Buffer
			if _, err := b.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			v, err := index.NewView(buf.Bytes(), "")
			if err != nil {
				t.Fatal(err)
			}
			got, want := v.SecondBucketKeys(), b.Stats().SecondBucket
			if got != want {
				t.Errorf("SecondBucketKeys() = %d, builder placed %d keys in their second bucket", got, want)
			}
			if tt.wantSome != (got > 0) {
				t.Errorf("SecondBucketKeys() = %d at load factor %v", got, tt.loadFactor)
			}
		})
	}
}

// TestSecondBucketKeysDamaged checks the count on damaged files: a key
// moved from its first bucket to its second counts, and keys whose table
// entries point outside the key data are skipped rather than read.
func TestSecondBucketKeysDamaged(t *testing.T) {
	var hk index.HashKey
	copy(hk[:], "stats test key..")
	b, err := builder.New(builder.Options{HashKey: &hk, LoadFactor: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		b.AddString(fmt.Sprint(i))
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	v, err := index.NewView(data, "")
	if err != nil {
		t.Fatal(err)
	}
	before := v.SecondBucketKeys()
	if before != b.Stats().SecondBucket {
		t.Fatalf("SecondBucketKeys() = %d, the builder placed %d keys in their second bucket", before, b.Stats().SecondBucket)
	}

	// Move a key from its first bucket to its second, another bucket with
	// room, closing the gap it leaves.
	nb, base := v.Header.Buckets, v.Layout[index.SectionBuckets].Off
	slotAt := func(b, i uint64) uint64 { return base + b*index.BucketSize + i*index.SlotSize }
	fill := func(b uint64) uint64 {
		n := uint64(0)
		for n < index.BucketSlots && le.Uint64(data[slotAt(b, n):]) != 0 {
			n++
		}
		return n
	}
	var off uint64 // the key's offset in the key data
	moved := false
	for ord := range v.Len() {
		key := mustKey(t, &v, ord)
		h := v.HashOf(key)
		b1, b2 := index.Buckets(h, nb)
		s := index.MakeSlot(h, uint64(len(key)), off)
		off += uint64(len(key))
		n1, n2 := fill(b1), fill(b2)
		if b1 == b2 || n2 == index.BucketSlots {
			continue
		}
		for i := range n1 {
			if le.Uint64(data[slotAt(b1, i):]) == s {
				le.PutUint64(data[slotAt(b1, i):], le.Uint64(data[slotAt(b1, n1-1):]))
				le.PutUint64(data[slotAt(b1, n1-1):], 0)
				le.PutUint64(data[slotAt(b2, n2):], s)
				moved = true
			}
		}
		if moved {
			break
		}
	}
	if !moved {
		t.Fatal("no key in its first bucket has a second bucket with room")
	}
	if n := v.SecondBucketKeys(); n != before+1 {
		t.Errorf("SecondBucketKeys() = %d after moving a key to its second bucket, want %d", n, before+1)
	}

	// Only the first key's offset past the key data: that key is skipped,
	// and every later one still counted.
	first := mustKey(t, &v, 0)
	h0 := v.HashOf(first)
	b0, _ := index.Buckets(h0, nb)
	want := before + 1
	inFirst := false
	for i := range uint64(index.BucketSlots) {
		inFirst = inFirst || le.Uint64(data[slotAt(b0, i):]) == index.MakeSlot(h0, uint64(len(first)), 0)
	}
	if !inFirst {
		want-- // key 0 is not in its first bucket: it counted before
	}
	if want == 0 {
		t.Fatal("no key after the first is in its second bucket: the test needs one")
	}
	offsets := v.Layout[index.SectionOffsets]
	for i := range uint64(v.Header.OffsetWidth) {
		data[offsets.Off+i] = 0xff
	}
	if _, ok := v.Key(0); ok {
		t.Fatal("Key(0) still succeeds with its offset past the key data")
	}
	if n := v.SecondBucketKeys(); n != want {
		t.Errorf("SecondBucketKeys() = %d with the first key's offset past the key data, want %d: the other keys", n, want)
	}

	// Every offset past the key data: no key is read, none counted.
	for i := offsets.Off; i < offsets.Off+offsets.Size; i++ {
		data[i] = 0xff
	}
	if n := v.SecondBucketKeys(); n != 0 {
		t.Errorf("SecondBucketKeys() = %d with every key's offset past the key data", n)
	}
}

// mustKey returns the key with ordinal ord.
func mustKey(t *testing.T, v *index.View, ord uint64) []byte {
	t.Helper()
	k, ok := v.Key(ord)
	if !ok {
		t.Fatalf("Key(%d) failed", ord)
	}
	return k
}
