package index_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/stru-index/stru/index"
)

var updateWide = flag.Bool("update-wide", false, "rewrite "+widePath+" from format.md's rules (writeFromSpec)")

// widePath is format.md §10's example with the wider tables a reader must
// accept (§5): 8-byte offsets and 2-byte lengths, which the builder never
// writes for so little key data. It is made from format.md's rules alone
// (writeFromSpec), so that a reader written elsewhere has a file of each
// width to test against. Regenerate it with
// `go test ./index -run TestWideGolden -update-wide`.
const widePath = "../testdata/example-wide.stru"

// TestWideGolden checks that testdata/example-wide.stru is what
// format.md's rules give for §10's keys, hash key, one bucket and one
// filter block at offset width 8 and length width 2, that it differs from
// example.stru only where the widths do, and that it reads back as the
// same set.
func TestWideGolden(t *testing.T) {
	want := writeFromSpec(goldenKeys, sipRefKey, 1, 1, 8, 2)
	if *updateWide {
		if err := os.WriteFile(widePath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(widePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from what format.md's rules give (go test ./index -run TestWideGolden -update-wide rewrites it):\n%x", widePath, want)
	}
	v, err := index.NewView(got, widePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	narrowData := readGolden(t)
	narrow, err := index.NewView(narrowData, goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	h := v.Header
	if h.OffsetWidth != 8 || h.LengthWidth != 2 {
		t.Errorf("widths %d, %d; want 8, 2", h.OffsetWidth, h.LengthWidth)
	}
	// Only the widths, the checksums and the layout differ from the
	// narrow file: the same keys, hash key, buckets and filter.
	if h.Keys != narrow.Header.Keys || h.Buckets != narrow.Header.Buckets || h.HashKey != narrow.Header.HashKey ||
		h.KeyBytes != narrow.Header.KeyBytes || h.MaxKeyLen != narrow.Header.MaxKeyLen || h.FilterBlocks != narrow.Header.FilterBlocks {
		t.Errorf("header %+v; the narrow file's %+v", h, narrow.Header)
	}
	for _, s := range []index.Section{index.SectionBuckets, index.SectionKeys, index.SectionFilter} {
		a, b := v.Layout[s], narrow.Layout[s]
		if !bytes.Equal(got[a.Off:a.Off+a.Size], narrowData[b.Off:b.Off+b.Size]) {
			t.Errorf("section %v differs from the narrow file's", s)
		}
	}
	for i, k := range goldenKeys {
		if ord, ok := v.Find([]byte(k)); !ok || ord != uint64(i) {
			t.Errorf("Find(%q) = %d, %v; want %d, true", k, ord, ok, i)
		}
	}
	if v.Has([]byte("b")) {
		t.Error(`Has("b") = true`)
	}
}
