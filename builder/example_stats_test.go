package builder_test

import (
	"fmt"
	"io"
	"log"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
)

// Stats describe the file written: here, what the index costs per key
// beyond the keys' own bytes, at the default load factor and filter size.
func ExampleStats_OverheadPerKey() {
	b, err := builder.New(builder.Options{HashKey: &index.HashKey{15: 1}}) // the same file, and Stats, on every run
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	for i := range 100_000 {
		if err := b.AddString(fmt.Sprintf("user-%06d", i)); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := b.WriteTo(io.Discard); err != nil {
		log.Fatal(err)
	}
	s := b.Stats()
	fmt.Println(s.Keys, "keys,", s.KeyBytes, "key bytes,", s.FileBytes, "file bytes")
	fmt.Printf("%.2f bytes per key of overhead\n", s.OverheadPerKey())
	// Output:
	// 100000 keys, 1100000 key bytes, 2675200 file bytes
	// 15.75 bytes per key of overhead
}
