package builder_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/reader"
)

// A SortedWriter takes keys that are already in ascending order, such as a
// database's, and streams them to disk: its memory does not grow with the
// number of keys.
func ExampleSortedWriter() {
	dir, err := os.MkdirTemp("", "stru-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "fruit.stru")

	w, err := builder.NewSortedWriter(context.Background(), path, builder.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort() // removes the temporary files if Close is never reached
	for _, k := range []string{"apple", "banana", "banana", "cherry"} {
		if err := w.AddString(k); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil { // writes path atomically
		log.Fatal(err)
	}
	s := w.Stats()
	fmt.Println("keys:", s.Keys, "duplicates:", s.Duplicates)

	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.ContainsString("banana"), r.ContainsString("durian"))
	// Output:
	// keys: 3 duplicates: 1
	// true false
}

// Keys out of order are an *OrderError naming the first one; nothing is
// written.
func ExampleWriteSorted() {
	dir, err := os.MkdirTemp("", "stru-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "letters.stru")

	keys := func(yield func([]byte, error) bool) {
		for _, k := range []string{"a", "b", "d", "c"} {
			if !yield([]byte(k), nil) {
				return
			}
		}
	}
	_, err = builder.WriteSorted(context.Background(), path, keys, builder.Options{})
	var oe *builder.OrderError
	if errors.As(err, &oe) {
		fmt.Printf("key %d (%q) comes after %q\n", oe.Index, oe.Key, oe.Prev)
	}
	_, err = os.Stat(path)
	fmt.Println("written:", err == nil)
	// Output:
	// key 3 ("c") comes after "d"
	// written: false
}
