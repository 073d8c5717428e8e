//go:build unix

package index_test

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHashLanesStaysInKeys places keys of every length from 0 to 100 bytes
// against pages that cannot be read, right after one and right before
// another, and hashes them through HashLanes: a read of even one byte
// outside a key crashes the test.
func TestHashLanesStaysInKeys(t *testing.T) {
	lanePaths(t, func(t *testing.T) {
		page := os.Getpagesize()
		mem, err := unix.Mmap(-1, 0, 3*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Munmap(mem)
		data := mem[page : 2*page : 2*page]
		for i := range data {
			data[i] = byte(i * 7)
		}
		if err := unix.Mprotect(mem[:page], unix.PROT_NONE); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mprotect(mem[2*page:], unix.PROT_NONE); err != nil {
			t.Fatal(err)
		}
		var keys [][]byte
		for n := 0; n <= 100; n++ {
			keys = append(keys, data[:n:n], data[page-n:])
		}
		checkLanes(t, 5, 6, keys)
	})
}
