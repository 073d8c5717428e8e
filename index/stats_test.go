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

// TestSecondBucketKeysDamaged checks that slots naming keys that do not
// exist are skipped rather than read.
func TestSecondBucketKeysDamaged(t *testing.T) {
	b, _ := builder.New(builder.Options{})
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
	buckets := v.Layout[index.SectionBuckets]
	for i := buckets.Off; i < buckets.Off+buckets.Size; i++ {
		data[i] = 0xff // every slot holds ordinal 2^40-2, out of range
	}
	if n := v.SecondBucketKeys(); n != 0 {
		t.Errorf("SecondBucketKeys() = %d on a table of out-of-range ordinals", n)
	}
}
