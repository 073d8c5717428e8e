package builder_test

import (
	"bufio"
	"bytes"
	"fmt"
	"log"
	"maps"
	"os"
	"path/filepath"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// AddStrings takes any sequence of strings: here the keys of a map, with
// maps.Keys (slices.Values does the same for a slice).
func ExampleBuilder_AddStrings() {
	ages := map[string]int{"ann": 31, "bob": 27, "cid": 45}
	b, err := builder.New(builder.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if err := b.AddStrings(maps.Keys(ages)); err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		log.Fatal(err)
	}

	r, err := reader.FromBytes(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Len(), r.ContainsString("bob"), r.ContainsString("dee"))
	// Output: 3 true false
}

// Index a text file of one key per line.
func ExampleBuilder_AddAll() {
	dir, err := os.MkdirTemp("", "stru-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	input := filepath.Join(dir, "fruit.txt")
	if err := os.WriteFile(input, []byte("banana\napple\ncherry\napple\n"), 0o666); err != nil {
		log.Fatal(err)
	}

	f, err := os.Open(input)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	b, err := builder.New(builder.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	sc := bufio.NewScanner(f)
	err = b.AddAll(func(yield func([]byte) bool) {
		for sc.Scan() && yield(sc.Bytes()) { // Add copies each line
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "fruit.stru")
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
	// apple
	// banana
	// cherry
}

// With a fixed Options.HashKey the file depends only on the set of keys:
// builds of the same set give the same bytes, whatever the order the keys
// came in. (By default each Builder draws a random hash key.)
func ExampleOptions_reproducible() {
	key := &index.HashKey{0x73, 0x74, 0x72, 0x75, 15: 1} // keep it secret if keys come from untrusted users
	build := func(keys ...string) []byte {
		b, err := builder.New(builder.Options{HashKey: key})
		if err != nil {
			log.Fatal(err)
		}
		defer b.Close()
		for _, k := range keys {
			if err := b.AddString(k); err != nil {
				log.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf); err != nil {
			log.Fatal(err)
		}
		return buf.Bytes()
	}

	one := build("red", "green", "blue")
	two := build("blue", "red", "green", "red")
	three := build("blue", "red")
	fmt.Println(bytes.Equal(one, two), bytes.Equal(one, three))
	// Output: true false
}
