package pebblesrc_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/builder/pebblesrc"
	"github.com/stru-index/stru/reader"
)

// Index keys derived from a database's keys, which are no longer in
// ascending order or distinct, with a Builder: here the users named in
// "event/DATE/USER" keys.
func ExampleKeys() {
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
	for _, k := range []string{"event/2024-05-01/bob", "event/2024-05-02/ann", "event/2024-05-03/bob", "user/cid"} {
		if err := db.Set([]byte(k), nil, pebble.Sync); err != nil {
			log.Fatal(err)
		}
	}
	snap := db.NewSnapshot()
	defer snap.Close()

	b, err := builder.New(builder.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	for k, err := range pebblesrc.Keys(snap, pebblesrc.Options{Prefix: []byte("event/"), StripPrefix: true}) {
		if err != nil {
			log.Fatal(err)
		}
		_, user, _ := strings.Cut(string(k), "/") // k is "DATE/USER"
		if err := b.AddString(user); err != nil {
			log.Fatal(err)
		}
	}
	path := filepath.Join(dir, "users.stru")
	if err := b.WriteFile(path); err != nil {
		log.Fatal(err)
	}

	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for k := range r.All() {
		fmt.Println(string(k))
	}
	// Output:
	// ann
	// bob
}
