package pebblesrc_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/builder/pebblesrc"
	"github.com/stru-index/stru/reader"
)

// Index the keys with the prefix "user/" of a database as of one moment,
// while it goes on being written, from a snapshot.
func ExampleBuild() {
	dir, err := os.MkdirTemp("", "pebblesrc-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := pebble.Open(filepath.Join(dir, "db"), &pebble.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"user/ann", "user/bob", "item/1", "user/cid"} {
		if err := db.Set([]byte(k), nil, pebble.Sync); err != nil {
			log.Fatal(err)
		}
	}
	snap := db.NewSnapshot()
	defer snap.Close()
	// Later writes are not in the snapshot.
	db.Delete([]byte("user/bob"), pebble.Sync)
	db.Set([]byte("user/dee"), nil, pebble.Sync)

	path := filepath.Join(dir, "users.stru")
	opts := pebblesrc.Options{Prefix: []byte("user/"), StripPrefix: true}
	stats, err := pebblesrc.Build(context.Background(), snap, path, opts, builder.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stats.Keys, "keys")

	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for k := range r.All() {
		fmt.Println(string(k))
	}
	fmt.Println(r.ContainsString("bob"), r.ContainsString("dee"))
	// Output:
	// 3 keys
	// ann
	// bob
	// cid
	// true false
}

// Index a checkpoint of a database that this process has open, as another
// process would: idxbuild --pebble does the same.
func ExampleOpenReadOnly() {
	dir, err := os.MkdirTemp("", "pebblesrc-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := pebble.Open(filepath.Join(dir, "db"), &pebble.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, k := range []string{"b", "a", "c"} {
		db.Set([]byte(k), nil, pebble.NoSync)
	}
	checkpoint := filepath.Join(dir, "checkpoint")
	if err := db.Checkpoint(checkpoint, pebble.WithFlushedWAL()); err != nil {
		log.Fatal(err)
	}

	// The database itself cannot be opened while db has it open.
	_, err = pebblesrc.OpenReadOnly(filepath.Join(dir, "db"), nil)
	fmt.Println("database opened:", err == nil)
	ck, err := pebblesrc.OpenReadOnly(checkpoint, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ck.Close()
	for k, err := range pebblesrc.Keys(ck, pebblesrc.Options{}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s ", k)
	}
	fmt.Println()
	// Output:
	// database opened: false
	// a b c
}
