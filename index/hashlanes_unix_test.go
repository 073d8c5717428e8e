//go:build unix

package index_test

import (
	"os"
	"slices"
	"testing"

	"github.com/dchest/siphash"
	"github.com/stru-index/stru/index"
	"golang.org/x/sys/unix"
)

// guardedPage returns a page of memory, filled with bytes that are not
// zero, between two pages that cannot be read: a read of even one byte
// before or after it crashes the test. It is unmapped when the test ends.
func guardedPage(t *testing.T) []byte {
	page := os.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 3*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	data := mem[page : 2*page : 2*page]
	for i := range data {
		data[i] = byte(i*7 + 1)
	}
	if err := unix.Mprotect(mem[:page], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mprotect(mem[2*page:], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	return data
}

// keysAgainstGuards returns keys of every length from 0 to 100 bytes in a
// guarded page, each right after its first guard and right before its
// second.
func keysAgainstGuards(t *testing.T) [][]byte {
	data := guardedPage(t)
	var keys [][]byte
	for n := 0; n <= 100; n++ {
		keys = append(keys, data[:n:n], data[len(data)-n:])
	}
	return keys
}

// TestHashStaysInKeys hashes keys placed against unreadable pages
// (keysAgainstGuards) through Hash, which reads a key's last bytes with a
// load that ends at its last byte, and compares the hashes with
// siphash.Hash's of copies.
func TestHashStaysInKeys(t *testing.T) {
	for _, key := range keysAgainstGuards(t) {
		if got, want := index.Hash(5, 6, key), siphash.Hash(5, 6, slices.Clone(key)); got != want {
			t.Fatalf("Hash of %d bytes = %#x, siphash.Hash gives %#x", len(key), got, want)
		}
	}
}

// TestHashLanesStaysInKeys hashes keys placed against unreadable pages
// (keysAgainstGuards) through HashLanes.
func TestHashLanesStaysInKeys(t *testing.T) {
	lanePaths(t, func(t *testing.T) {
		checkLanes(t, 5, 6, keysAgainstGuards(t))
	})
}

// TestProbeStaysInKeys hashes keys placed against unreadable pages
// (keysAgainstGuards) through Probe.
func TestProbeStaysInKeys(t *testing.T) {
	needProbe(t)
	for _, key := range keysAgainstGuards(t) {
		if got, want := probeHash(5, 6, key), index.Hash(5, 6, key); got != want {
			t.Fatalf("Probe's hash of %d bytes = %#x, Hash gives %#x", len(key), got, want)
		}
	}
}
