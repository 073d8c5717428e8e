package reader_test

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/reader"
)

// smapsKB returns field (such as "Rss" or "FilePmdMapped"), in bytes, of
// the mapping that starts at data[0], from /proc/self/smaps.
func smapsKB(tb testing.TB, data []byte, field string) int {
	tb.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	start := uintptr(unsafe.Pointer(&data[0]))
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo == start
			continue
		}
		if in && strings.HasPrefix(line, field+":") {
			var kb int
			if _, err := fmt.Sscanf(line[len(field)+1:], "%d kB", &kb); err != nil {
				tb.Fatalf("smaps line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	tb.Fatalf("no %s of a mapping at %#x in /proc/self/smaps", field, start)
	return 0
}

// mappedBytes returns how many bytes of the mapping that starts at
// data[0] have pages mapped.
func mappedBytes(t *testing.T, data []byte) int { return smapsKB(t, data, "Rss") }

// preloadFile writes an index of n keys, about 60 bytes a key, and
// returns its path.
func preloadFile(t *testing.T, n int) string {
	t.Helper()
	b, err := builder.New(builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		b.AddString(fmt.Sprintf("preload-key-%08d", i))
	}
	path := filepath.Join(t.TempDir(), "preload.stru")
	if err := b.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPreloadMapsEveryPage checks that Preload, and touch, which it falls
// back on before Linux 5.14, leave every page of a freshly opened file
// mapped, where Open mapped only the few around the header, and that the
// Reader answers as before.
func TestPreloadMapsEveryPage(t *testing.T) {
	const n = 200_000 // 7 MiB: more than the 2 MiB Open may map around the header
	path := preloadFile(t, n)
	for _, tt := range []struct {
		name    string
		preload func(r *reader.Reader) error
	}{
		{"Preload", (*reader.Reader).Preload},
		{"touch", func(r *reader.Reader) error { return reader.Touch(r.View().Data(), os.Getpagesize()) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := reader.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			data := r.View().Data()
			if before := mappedBytes(t, data); before >= len(data)/2 {
				t.Fatalf("%d of %d bytes mapped before preloading: the test cannot tell", before, len(data))
			}
			if err := tt.preload(r); err != nil {
				t.Fatal(err)
			}
			if after := mappedBytes(t, data); after < len(data) {
				t.Errorf("%d of %d bytes mapped after %s", after, len(data), tt.name)
			}
			for i := range n {
				if k := fmt.Sprintf("preload-key-%08d", i); !r.ContainsString(k) {
					t.Fatalf("%q not found after %s", k, tt.name)
				}
			}
			if r.ContainsString("preload-key-absent") {
				t.Error("an absent key found after preloading")
			}
		})
	}
}

// TestPreloadTruncated checks that Preload, touch and Verify return
// ErrFault for a file truncated while mapped, where reading its pages
// would otherwise raise SIGBUS and kill the process, also when the file
// shrinks after Verify's Preload.
func TestPreloadTruncated(t *testing.T) {
	path := preloadFile(t, 50_000)
	r, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Truncate(path, int64(len(r.View().Data())/2)); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Preload": r.Preload(),
		"touch":   reader.Touch(r.View().Data(), os.Getpagesize()),
		"Verify":  r.Verify(),
		// The file shrinking after Verify's Preload, while it checks.
		"Verify after its Preload": reader.VerifyView(r),
	} {
		if !errors.Is(err, reader.ErrFault) {
			t.Errorf("%s of a truncated file: %v, want ErrFault", name, err)
		} else if msg := err.Error(); name != "touch" && (!strings.Contains(msg, path) || strings.Count(strings.ReplaceAll(msg, path, "FILE"), "stru: ") > 1) {
			t.Errorf("%s of a truncated file: %q: want the path, and \"stru: \" at most once", name, msg)
		}
	}
}

// TestTouchNearMaxInt checks touch on a mapping whose last page starts
// less than a page below math.MaxInt: the largest file a 32-bit process
// maps, where the offset of the page after the last overflows an int. On
// 64-bit systems no mapping is that large, and the test is skipped.
func TestTouchNearMaxInt(t *testing.T) {
	if math.MaxInt > math.MaxInt32 {
		t.Skip("int is 64 bits: no mapping reaches math.MaxInt")
	}
	size := math.MaxInt &^ 63 // the largest file size the format allows below it
	data, err := unix.Mmap(-1, 0, size, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		t.Skipf("cannot reserve %d bytes of address space: %v", size, err)
	}
	defer unix.Munmap(data)
	if err := reader.Touch(data, os.Getpagesize()); err != nil {
		t.Fatal(err)
	}
}

// TestHandlePreload checks that a Handle with SkipVerify serves a file
// mapped around its header only, and with Preload too, or by default
// (which verifies), a file mapped whole.
func TestHandlePreload(t *testing.T) {
	path := preloadFile(t, 200_000)
	for _, tt := range []struct {
		opts  reader.HandleOptions
		whole bool
	}{
		{reader.HandleOptions{SkipVerify: true}, false},
		{reader.HandleOptions{SkipVerify: true, Preload: true}, true},
		{reader.HandleOptions{}, true},
	} {
		h, err := reader.OpenHandle(path, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		data := h.Reader().View().Data()
		if mapped := mappedBytes(t, data); (mapped >= len(data)) != tt.whole {
			t.Errorf("%+v: %d of %d bytes mapped", tt.opts, mapped, len(data))
		}
		h.Close()
	}
}

// TestOpenMapsNoPage checks that Open reads the header without touching
// the mapping (it reads it with a read call), so that opening a file costs
// no page fault, whatever its size; the first lookup maps what it reads.
func TestOpenMapsNoPage(t *testing.T) {
	path := preloadFile(t, 50_000)
	r, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data := r.View().Data()
	if mapped := mappedBytes(t, data); mapped != 0 {
		t.Errorf("%d bytes of the mapping mapped after Open, want 0", mapped)
	}
	if !r.ContainsString("preload-key-00000007") {
		t.Fatal("a key of the file not found")
	}
	if mapped := mappedBytes(t, data); mapped == 0 {
		t.Error("nothing mapped after a lookup: the test cannot see pages being mapped")
	}
}
