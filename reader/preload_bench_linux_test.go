package reader_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/stru-index/stru/reader"
)

// BenchmarkColdLookups measures lookups in an index file that the page
// cache has dropped (posix_fadvise DONTNEED of a copy of the benchmark's
// file, which nothing maps): each round opens it, preloads it or not
// (impl=preload, impl=faults), answers the hits with ContainsBatch twice,
// and closes it. It reports the time to preload (preload-ms), each pass
// (first-ns/key, second-ns/key: the first pays for reading the file from
// the disk where nothing preloaded it, the second shows what the pages
// are mapped with), and the share of the file mapped in huge pages at
// the end (huge-pages-%: FilePmdMapped over the mapping's size). It fails
// if the page cache kept the file, as a file system in memory (tmpfs)
// does: run it with TMPDIR on a disk.
func BenchmarkColdLookups(b *testing.B) {
	for _, n := range benchSizes() {
		if n < 1_000_000 {
			continue // a file of a few pages: nothing to measure
		}
		for _, impl := range []string{"faults", "preload"} {
			b.Run(fmt.Sprintf("keys=%d/impl=%s", n, impl), func(b *testing.B) {
				s := getBenchSet(b, n)
				path := coldCopy(b, s.path)
				qs := s.hitsB
				present := make([]bool, batchGroup)
				pass := func(r *reader.Reader) time.Duration {
					start := time.Now()
					for i := 0; i+batchGroup <= len(qs); i += batchGroup {
						r.ContainsBatch(qs[i:i+batchGroup], present)
						if !present[0] {
							b.Fatal("a hit not found")
						}
					}
					return time.Since(start)
				}
				var preload, first, second time.Duration
				var huge float64
				for b.Loop() {
					evict(b, path)
					r, err := reader.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					data := r.View().Data()
					if res := residentShare(b, data); res > 0.5 {
						b.Fatalf("%.0f%% of the file still in the page cache after evicting it: the file system keeps it (tmpfs?); set TMPDIR to a directory on a disk", 100*res)
					}
					start := time.Now()
					if impl == "preload" {
						if err := r.Preload(); err != nil {
							b.Fatal(err)
						}
					}
					preload += time.Since(start)
					first += pass(r)
					second += pass(r)
					huge += float64(smapsKB(b, data, "FilePmdMapped")) / float64(len(data))
					r.Close()
				}
				rounds := float64(b.N)
				b.ReportMetric(float64(preload.Milliseconds())/rounds, "preload-ms")
				b.ReportMetric(float64(first.Nanoseconds())/rounds/float64(len(qs)), "first-ns/key")
				b.ReportMetric(float64(second.Nanoseconds())/rounds/float64(len(qs)), "second-ns/key")
				b.ReportMetric(100*huge/rounds, "huge-pages-%")
			})
		}
	}
}

// coldCopy copies the file at path to a new file beside it, synced so
// that its pages can be dropped, and returns the copy's path.
func coldCopy(b *testing.B, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	cold := filepath.Join(filepath.Dir(path), "cold-"+filepath.Base(path))
	f, err := os.Create(cold)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return cold
}

// evict asks the kernel to drop the file's pages from the page cache.
func evict(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		b.Fatal(err)
	}
}

// residentShare returns the share of data's pages in the page cache.
func residentShare(b *testing.B, data []byte) float64 {
	page := os.Getpagesize()
	vec := make([]byte, (len(data)+page-1)/page)
	// x/sys/unix has no Mincore for Linux.
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		b.Fatalf("mincore: %v", errno)
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return float64(in) / float64(len(vec))
}
