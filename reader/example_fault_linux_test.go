package reader_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/stru-index/stru/reader"
)

// A service that must survive even a file truncated under it, which is
// outside the contract (the file must be replaced by a rename, never
// modified in place), looks keys up with TryContains: the memory fault
// that would kill the process with SIGBUS becomes an error.
func ExampleReader_TryContains() {
	path, cleanup := exampleIndex("apple", "banana")
	defer cleanup()
	r, err := reader.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	ok, err := r.TryContains([]byte("banana"))
	fmt.Println(ok, err)

	if err := os.Truncate(path, 0); err != nil { // what a careless publisher might do
		log.Fatal(err)
	}
	ok, err = r.TryContains([]byte("banana"))
	fmt.Println(ok, errors.Is(err, reader.ErrFault))
	// Output:
	// true <nil>
	// false true
}
