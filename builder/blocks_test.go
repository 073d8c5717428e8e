package builder_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// TestBuildSeveralBlocks builds sets whose tables have more than one block
// of buckets (format.md §3), one of them at the highest load factor so that
// keys are evicted within their blocks, writes them to a file, and checks
// through the reader that the file verifies, every key is found at its
// ordinal, absent keys are not, and every block holds keys.
func TestBuildSeveralBlocks(t *testing.T) {
	for _, c := range []struct {
		keys       int
		loadFactor float64
		blocks     uint64
	}{
		{600000, 0.95, 2}, // ⌈600000 / 7.6⌉ = 78948: 2 blocks of 39474
		{300000, 0.25, 3}, // 300000 / 2 = 150000: 3 blocks of 50000
	} {
		t.Run(fmt.Sprintf("%d keys at %v", c.keys, c.loadFactor), func(t *testing.T) {
			hk := goldenHashKey()
			b, err := builder.New(builder.Options{HashKey: hk, LoadFactor: c.loadFactor})
			if err != nil {
				t.Fatal(err)
			}
			// Decimal numbers in ascending order as strings need a fixed
			// width: key i is "k" and i in 7 digits, so it is ordinal i.
			key := func(i int) string { return fmt.Sprintf("k%07d", i) }
			for i := c.keys - 1; i >= 0; i-- {
				if err := b.AddString(key(i)); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "blocks.stru")
			if err := b.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			st := b.Stats()
			r, err := reader.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := r.Verify(); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			nb := r.Header().Buckets
			blocks := index.Blocks(nb)
			if nb != index.BucketCount(uint64(c.keys), c.loadFactor) || blocks != c.blocks || nb%blocks != 0 {
				t.Fatalf("%d buckets in %d blocks, want BucketCount = %d in %d blocks",
					nb, blocks, index.BucketCount(uint64(c.keys), c.loadFactor), c.blocks)
			}
			if c.loadFactor > 0.9 && st.SecondBucket == 0 {
				t.Errorf("no key in its second bucket at load factor %v: placement was not exercised", c.loadFactor)
			}
			perBlock := make([]int, blocks)
			v := r.View()
			for i := range c.keys {
				k := key(i)
				if ord, ok := r.LookupString(k); !ok || ord != i {
					t.Fatalf("LookupString(%q) = %d, %v; want %d, true", k, ord, ok, i)
				}
				b1, b2 := index.Buckets(v.HashOf([]byte(k)), nb)
				if b1/(nb/blocks) != b2/(nb/blocks) {
					t.Fatalf("key %q has buckets %d and %d in different blocks", k, b1, b2)
				}
				perBlock[b1/(nb/blocks)]++
			}
			for i := c.keys; i < c.keys+10000; i++ {
				if k := key(i); r.ContainsString(k) {
					t.Fatalf("ContainsString(%q) = true for a key not in the set", k)
				}
			}
			for _, k := range []string{"", "k", "k000000", "k00000000", "K0000000", strconv.Itoa(c.keys)} {
				if r.ContainsString(k) {
					t.Fatalf("ContainsString(%q) = true for a key not in the set", k)
				}
			}
			// Each block holds about keys / blocks keys (a hash range each).
			for k, n := range perBlock {
				if want := c.keys / int(blocks); n < want*9/10 || n > want*11/10 {
					t.Errorf("block %d holds %d keys, want about %d", k, n, want)
				}
			}
		})
	}
}
