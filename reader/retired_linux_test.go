package reader_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// mapCount returns the number of mappings the process has, from
// /proc/self/maps.
func mapCount(t *testing.T) int {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(maps, []byte("\n"))
}

// TestClosedReadersCollected opens and closes an index in a loop with the
// garbage collector off, as in a process whose heap barely grows: the
// mappings Close retires must not pile up until mmap fails (Linux allows
// 65 530 by default) but be released, because Close starts a collection
// each time a step more of them are waiting for one. Those retired while
// a collection runs survive it, so up to two steps may be left waiting.
func TestClosedReadersCollected(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	path := writeTemp(t, "small.stru", buildIndex(t, [][]byte{[]byte("a"), []byte("b")}, builder.Options{}))
	pending0, step := reader.RetiredMappings()
	maps0 := mapCount(t)
	closes := 6*step + step/2
	for range closes {
		r, err := reader.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	// The collections run in the background, and the released mappings'
	// cleanups after them.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if pending, _ := reader.RetiredMappings(); pending <= pending0+2*step {
			break
		}
	}
	if pending, _ := reader.RetiredMappings(); pending > pending0+2*step {
		t.Errorf("after %d Open and Close, %d retired mappings wait for a collection (%d before); want at most %d more", closes, pending, pending0, 2*step)
	}
	if maps := mapCount(t); int64(maps) > int64(maps0)+2*step+64 {
		t.Errorf("after %d Open and Close, the process has %d mappings (%d before)", closes, maps, maps0)
	}
}

// TestRetriesEnd checks that the loop a reload starts, which asks for
// collections while Readers a Handle replaced remain uncollected, ends once
// none remains (retired.go, retryWhileUnreleased), rather than run, and
// wake the process every two minutes, for ever.
func TestRetriesEnd(t *testing.T) {
	h, _, path := publishedHandle(t)
	defer h.Close()
	for i := range 3 {
		publish(t, path, versionKeys(fmt.Sprint(i)))
		if err := h.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing holds the replaced Readers: the collections the reloads
	// started, or these, find them unreachable.
	deadline := time.Now().Add(60 * time.Second)
	for reader.RetryingCollections() {
		if time.Now().After(deadline) {
			t.Fatal("the retry loop still runs 60 s after the replaced Readers were dropped")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// vmSize returns the size of the process's address space, VmSize in
// /proc/self/status.
func vmSize(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(rest, "%d kB", &kb); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}

// TestClosedReaderUnmapped checks that the addresses a closed Reader
// keeps reserved, as zero pages, are unmapped once it is garbage collected
// (Close): after 20 Readers of a sparse file of over 2 GiB are closed and
// collected, the process's address space must not have kept their 40 GiB.
func TestClosedReaderUnmapped(t *testing.T) {
	if math.MaxInt == math.MaxInt32 {
		t.Skip("a 32-bit process cannot map the file")
	}
	h := claimedSet(200 << 20)
	header := make([]byte, index.HeaderSize)
	h.Encode(header)
	path := writeTemp(t, "large.stru", header)
	if err := os.Truncate(path, int64(h.FileSize)); err != nil {
		t.Fatal(err)
	}
	size := int64(h.FileSize)
	runtime.GC()
	before := vmSize(t)
	const n = 20
	for range n {
		r, err := reader.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("address space %d MiB, %d MiB more than before the Readers", vmSize(t)>>20, (vmSize(t)-before)>>20)
	deadline := time.Now().Add(20 * time.Second)
	for {
		runtime.GC()
		grown := vmSize(t) - before
		if grown < 2*size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s after %d closed Readers of a %d-byte file became unreachable, the address space is still %d bytes larger: their addresses were not unmapped", n, size, grown)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFailedRetireReleased checks what Close does when it cannot retire
// the mapping: it returns the error, lookups return false as after any
// Close, and the file, still mapped for the lookups that may be running,
// is unmapped once the Reader is garbage collected, not kept for the
// life of the process.
func TestFailedRetireReleased(t *testing.T) {
	path := writeTemp(t, "retire.stru", buildIndex(t, [][]byte{[]byte("a"), []byte("b")}, builder.Options{}))
	mapped := func() bool {
		maps, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Contains(maps, []byte(path))
	}
	errRetire := errors.New("retire failed")
	reader.FailRetire(t, errRetire)
	func() {
		r, err := reader.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if !mapped() {
			t.Fatalf("%s is not in /proc/self/maps while open", path)
		}
		if err := r.Close(); !errors.Is(err, errRetire) {
			t.Fatalf("Close = %v, want the error of retiring", err)
		}
		if r.ContainsString("a") {
			t.Error("Contains after a failed Close = true")
		}
		if !mapped() {
			t.Errorf("%s is not mapped after Close failed to retire it", path)
		}
	}()
	for deadline := time.Now().Add(20 * time.Second); mapped(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("20 s after its Reader became unreachable, %s is still mapped", path)
		}
		runtime.GC()
	}
}
