package reader_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/reader"
)

// exampleIndex writes an index of the given keys to a file in a new
// temporary directory and returns its path and a function removing it.
func exampleIndex(keys ...string) (path string, cleanup func()) {
	dir, err := os.MkdirTemp("", "stru-example-")
	if err != nil {
		log.Fatal(err)
	}
	path = filepath.Join(dir, "fruit.stru")
	writeIndex(path, keys...)
	return path, func() { os.RemoveAll(dir) }
}

// writeIndex writes an index of the given keys to path, replacing the
// file there atomically, as a publisher does.
func writeIndex(path string, keys ...string) {
	b, err := builder.New(builder.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close() // removes the temporary files of a build larger than its memory budget
	for _, k := range keys {
		if err := b.AddString(k); err != nil {
			log.Fatal(err)
		}
	}
	if err := b.WriteFile(path); err != nil {
		log.Fatal(err)
	}
}

func ExampleOpen() {
	path, cleanup := exampleIndex("apple", "banana", "cherry")
	defer cleanup()

	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	for _, k := range []string{"banana", "durian"} {
		fmt.Println(k, r.ContainsString(k))
	}
	fmt.Println(r.Contains([]byte("apple")))
	// Output:
	// banana true
	// durian false
	// true
}

func ExampleFromBytes() {
	// An index built in memory; it could equally come from //go:embed.
	b, err := builder.New(builder.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close() // removes the temporary files of a build larger than its memory budget
	b.AddString("red")
	b.AddString("green")
	b.AddString("blue")
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		log.Fatal(err)
	}

	r, err := reader.FromBytes(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Len(), r.ContainsString("green"), r.ContainsString("yellow"))
	// Output: 3 true false
}

func ExampleReader_Lookup() {
	path, cleanup := exampleIndex("cherry", "apple", "banana")
	defer cleanup()
	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	// The ordinal is the key's rank in byte order: a dense ID in [0, Len()).
	ord, ok := r.Lookup([]byte("banana"))
	fmt.Println(ord, ok)
	fmt.Printf("%s\n", r.Key(ord))
	_, ok = r.LookupString("durian")
	fmt.Println(ok)
	// Output:
	// 1 true
	// banana
	// false
}

func ExampleReader_All() {
	path, cleanup := exampleIndex("pear", "apple", "fig", "apple")
	defer cleanup()
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
	// fig
	// pear
}

func ExampleReader_Prefix() {
	path, cleanup := exampleIndex("app", "apple", "applet", "apricot", "banana")
	defer cleanup()
	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	for k := range r.Prefix([]byte("appl")) {
		fmt.Printf("%s\n", k)
	}
	start, end := r.PrefixRange([]byte("ap"))
	fmt.Println(start, end)
	// Output:
	// apple
	// applet
	// 0 4
}

func ExampleReader_Verify() {
	path, cleanup := exampleIndex("apple", "banana")
	defer cleanup()
	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	// Open checks only the header; Verify reads and checks every byte.
	fmt.Println(r.Verify())
	// Output: <nil>
}

// A service that will look up keys all over a large index reads it into
// memory once at start, rather than wait for the disk in its first
// lookups of each page.
func ExampleReader_Preload() {
	path, cleanup := exampleIndex("apple", "banana", "cherry")
	defer cleanup()

	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	if err := r.Preload(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.ContainsString("banana"), r.ContainsString("durian"))
	// Output: true false
}

// Looking up many keys at once lets their memory accesses overlap: on a
// large index, a batch answers several times more keys per second than a
// loop of ContainsString calls.
func ExampleReader_ContainsStrings() {
	path, cleanup := exampleIndex("apple", "banana", "cherry")
	defer cleanup()
	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	keys := []string{"cherry", "durian", "apple", "fig"}
	found := make([]bool, len(keys))
	r.ContainsStrings(keys, found)
	for i, k := range keys {
		fmt.Println(k, found[i])
	}
	// Output:
	// cherry true
	// durian false
	// apple true
	// fig false
}

// ContainsBatch takes byte-slice keys, here the words of a line of input.
func ExampleReader_ContainsBatch() {
	path, cleanup := exampleIndex("the", "a", "of", "and")
	defer cleanup()
	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	words := bytes.Fields([]byte("the index of a set"))
	stop := make([]bool, len(words))
	r.ContainsBatch(words, stop)
	for i, w := range words {
		if !stop[i] {
			fmt.Printf("%s\n", w)
		}
	}
	// Output:
	// index
	// set
}

// The keys have ordinals 0 to Len()-1 in ascending byte order; Key
// returns the key of an ordinal.
func ExampleReader_Key() {
	path, cleanup := exampleIndex("cherry", "apple", "banana")
	defer cleanup()
	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	for i := range r.Len() {
		fmt.Printf("%d %s\n", i, r.Key(i))
	}
	fmt.Println(r.Key(r.Len()) == nil) // out of range
	// Output:
	// 0 apple
	// 1 banana
	// 2 cherry
	// true
}

// PrefixRange counts the keys with a prefix without iterating over them,
// and gives their ordinals, to read a page of them with Key.
func ExampleReader_PrefixRange() {
	path, cleanup := exampleIndex("user/ann", "user/bob", "user/cid", "user/dee", "item/1")
	defer cleanup()
	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	start, end := r.PrefixRange([]byte("user/"))
	fmt.Println(end-start, "users")
	// The second page of two users, without reading the first.
	first := start + 2
	for i := first; i < min(first+2, end); i++ {
		fmt.Printf("%s\n", r.Key(i))
	}
	// Output:
	// 4 users
	// user/cid
	// user/dee
}
