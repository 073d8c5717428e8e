package reader_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stru-index/stru/reader"
)

// TestStressCloseDuringUse runs 64 goroutines of mixed lookups, iteration
// and prefix scans on one Reader, at GOMAXPROCS 1, 2 and 4, then closes the
// Reader while they run. Run under -race (CI does): no data race, no crash,
// every answer before Close starts is right, and every lookup that starts
// after Close returns false. Answers that overlap Close may be either (and
// key slices read as zeros once Close retires the mapping), so a wrong one
// counts only if Close had not begun when it was checked.
func TestStressCloseDuringUse(t *testing.T) {
	var keys []string
	for i := range 20_000 {
		keys = append(keys, fmt.Sprintf("k%05d/%d", i, i*7919%1000))
	}
	path := filepath.Join(t.TempDir(), "set.stru")
	publish(t, path, keys)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			runtime.GOMAXPROCS(procs)
			r, err := reader.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			var closing atomic.Bool // set just before Close is called
			closeDone := make(chan struct{})
			errs := make(chan error, 64)
			fail := func(err error) {
				if !closing.Load() {
					errs <- err
				}
			}
			var wg sync.WaitGroup
			for g := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; ; i++ {
						select {
						case <-closeDone:
							// Close has returned: everything must now say no.
							if r.ContainsString(keys[i%len(keys)]) || r.Len() != 0 || r.Key(0) != nil {
								errs <- fmt.Errorf("goroutine %d: a lookup after Close answered from the file", g)
							}
							return
						default:
						}
						switch i % 4 {
						case 0, 1: // lookups: a hit and a miss
							k := keys[i%len(keys)]
							if ord, ok := r.LookupString(k); ok && ord != i%len(keys) {
								fail(fmt.Errorf("Lookup(%q) = %d, want %d", k, ord, i%len(keys)))
								return
							}
							if r.ContainsString(k + "-absent") {
								fail(fmt.Errorf("ContainsString(%q) = true", k+"-absent"))
								return
							}
						case 2: // a prefix scan
							p := []byte(fmt.Sprintf("k%03d", i%200))
							for k := range r.Prefix(p) {
								if !bytes.HasPrefix(k, p) {
									fail(fmt.Errorf("Prefix(%q) yielded %q", p, k))
									return
								}
							}
						case 3: // a stretch of iteration
							n := 0
							for range r.All() {
								if n++; n == 500 {
									break
								}
							}
						}
					}
				}()
			}
			time.Sleep(50 * time.Millisecond)
			closing.Store(true)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			close(closeDone)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}
