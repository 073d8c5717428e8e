package reader_test

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/reader"
)

// TestPreload checks Preload on both kinds of Reader and around Close:
// the Reader answers every query as before, including while other
// goroutines look keys up; Preload after Close is an error, and Preload
// racing Close neither fails nor faults (run with -race).
func TestPreload(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 41))
	sorted := genSet(rng, 20_000)
	nonMembers := genNonMembers(rng, sorted, 2_000)
	data := buildIndex(t, sorted, builder.Options{})
	for _, nr := range openReaders(t, data) {
		t.Run(nr.how, func(t *testing.T) {
			r := nr.r
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					for _, k := range sorted {
						if !r.Contains(k) {
							t.Errorf("%q not found while preloading", k)
							return
						}
					}
				})
			}
			if err := r.Preload(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			checkSet(t, r, sorted, nonMembers, nil)
		})
	}

	path := writeTemp(t, "closed.stru", data)
	r, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := r.Preload(); err == nil {
		t.Error("Preload after Close: no error")
	}

	// Close while Preload runs: Preload's advice then applies to the
	// zero pages that replace the file, and it returns nil or, if Close
	// came first, its error; either way nothing faults.
	for range 20 {
		r, err := reader.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { r.Preload() })
		r.Close()
		wg.Wait()
		if r.Contains(sorted[0]) {
			t.Fatal("Contains true after Close")
		}
	}
}
