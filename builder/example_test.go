package builder_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/reader"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "stru-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "colors.stru")

	b, err := builder.New(builder.Options{}) // a random hash key, the default load factor
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close() // removes the temporary files of a build larger than its memory budget
	for _, c := range []string{"red", "green", "blue", "green"} {
		if err := b.AddString(c); err != nil {
			log.Fatal(err)
		}
	}
	if err := b.WriteFile(path); err != nil { // atomic: a reader sees the old file or the new one
		log.Fatal(err)
	}
	s := b.Stats()
	fmt.Println("keys:", s.Keys, "duplicates:", s.Duplicates)

	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.ContainsString("blue"), r.ContainsString("purple"))
	// Output:
	// keys: 3 duplicates: 1
	// true false
}

func ExampleFromMap() {
	set := map[string]struct{}{"alpha": {}, "beta": {}, "gamma": {}}
	b, err := builder.FromMap(set, builder.Options{})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "stru-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "greek.stru")
	if err := b.WriteFile(path); err != nil {
		log.Fatal(err)
	}

	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for k := range r.All() {
		fmt.Printf("%s\n", k)
	}
	// Output:
	// alpha
	// beta
	// gamma
}
