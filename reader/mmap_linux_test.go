package reader

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestMapAlignedToHugePages maps files just under, at and over the huge
// page size, and well over it: a mapping of at least hugePage bytes starts
// at a multiple of hugePage, every mapping holds the file's bytes, and
// mapping and unmapping a file many times gives back all the address
// space reserved for aligning it.
func TestMapAlignedToHugePages(t *testing.T) {
	for _, size := range []int{hugePage - 4096, hugePage - 1, hugePage, hugePage + 1, 3*hugePage + 12345} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			want := make([]byte, size)
			for i := range want {
				want[i] = byte(i*7 + i>>12)
			}
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			before := vmSize(t)
			const rounds = 100
			for range rounds {
				data, m, err := mapFile(f, int64(size))
				if err != nil {
					t.Fatal(err)
				}
				addr := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
				if size >= hugePage && addr%hugePage != 0 {
					t.Fatalf("a mapping of %d bytes starts at %#x, not a multiple of %#x", size, addr, hugePage)
				}
				if !bytes.Equal(data, want) {
					t.Fatal("the mapping does not hold the file's bytes")
				}
				if err := m.release(); err != nil {
					t.Fatal(err)
				}
			}
			// A leak of the reservation's unused part would cost up to
			// hugePage of address space a round.
			if grown := vmSize(t) - before; grown > rounds*hugePage/4 {
				t.Errorf("address space grew by %d bytes over %d mappings", grown, rounds)
			}
		})
	}
}

// vmSize returns the process's virtual memory size, from /proc/self/status.
func vmSize(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			var kb int
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}
