package reader_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/stru-index/stru/reader"
)

// A long-running service serves the index published at a path through a
// Handle, and switches to a new version of the file, published by
// renaming it over the path, when told to.
func ExampleHandle_Reload() {
	path, cleanup := exampleIndex("apple", "banana")
	defer cleanup()

	h, err := reader.OpenHandle(path, reader.HandleOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	fmt.Println(h.ContainsString("banana"), h.ContainsString("cherry"))

	// A request that must see one version throughout takes its Reader.
	inFlight := h.Reader()

	writeIndex(path, "apple", "cherry") // a rebuild, published atomically
	if err := h.Reload(); err != nil {  // on error h keeps serving the old file
		log.Fatal(err)
	}
	fmt.Println(h.ContainsString("banana"), h.ContainsString("cherry"))
	fmt.Println(inFlight.ContainsString("banana"), inFlight.ContainsString("cherry"))
	// Output:
	// true false
	// false true
	// true false
}

// Watch reloads a Handle whenever the file at its path is replaced.
func ExampleHandle_Watch() {
	path, cleanup := exampleIndex("apple", "banana")
	defer cleanup()

	h, err := reader.OpenHandle(path, reader.HandleOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close() // stops Watch too
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Watch(ctx, 10*time.Millisecond, func(err error) { log.Print(err) })

	writeIndex(path, "apple", "cherry")

	// A service just goes on serving; here we wait for Watch to notice.
	for deadline := time.Now().Add(10 * time.Second); !h.ContainsString("cherry") && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	fmt.Println(h.ContainsString("banana"), h.ContainsString("cherry"))
	// Output: false true
}
