package reader_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// TestTryContainsSurvivesTruncation truncates a mapped index in place,
// which makes every later read of its pages raise SIGBUS, and checks that
// TryContains turns the fault into ErrFault and the process keeps running.
func TestTryContainsSurvivesTruncation(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("relies on Linux raising SIGBUS for pages past the end of a mapped file")
	}
	path := filepath.Join(t.TempDir(), "set.stru")
	var keys []string
	for i := range 50_000 {
		keys = append(keys, fmt.Sprintf("key-%06d", i))
	}
	publish(t, path, keys)
	r, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ok, err := r.TryContains([]byte("key-000001")); !ok || err != nil {
		t.Fatalf("before truncation: TryContains = %v, %v", ok, err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	faults := 0
	for _, k := range keys {
		ok, err := r.TryContains([]byte(k))
		switch {
		case errors.Is(err, reader.ErrFault):
			faults++
		case err != nil:
			t.Fatalf("TryContains(%q): unexpected error %v", k, err)
		case ok:
			t.Fatalf("TryContains(%q) = true from a truncated file", k)
		}
	}
	if faults == 0 {
		t.Fatal("no lookup faulted on a file truncated to 0 bytes: the test did not exercise the fault path")
	}
	// The goroutine's fault setting is restored after each call.
	if ok, err := r.TryContains([]byte("absent")); ok || (err != nil && !errors.Is(err, reader.ErrFault)) {
		t.Fatalf("TryContains after faults = %v, %v", ok, err)
	}
}

// TestTryContainsIsContains checks that TryContains answers as Contains
// does in a damaged file where Contains and Lookup differ: a key's offset
// table entry is changed (checksums recomputed), so its slot still points
// at its bytes and Contains finds it, while Lookup, which reports the
// ordinal whose offset table entry is the slot's offset, finds none and
// reports the key absent (format.md §4, "Damaged files").
func TestTryContainsIsContains(t *testing.T) {
	data := fixture(t)
	const ord = 5
	valid, err := reader.FromBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	key := slices.Clone(valid.Key(ord))
	if w := valid.Header().OffsetWidth; w != 4 || len(key) == 0 || len(key) >= index.LongKey {
		t.Fatalf("the fixture's key %d is %q, offset width %d: want a short key, 4-byte offsets", ord, key, w)
	}
	at := layoutOf(t, data)[index.SectionOffsets].Off + 4*ord
	le.PutUint32(data[at:], le.Uint32(data[at:])+1)
	resealSection(t, data, index.SectionOffsets)
	for _, nr := range openReaders(t, data) {
		r := nr.r
		if _, ok := r.Lookup(key); ok || !r.Contains(key) {
			t.Fatalf("%s: Contains(%q) = %v, Lookup's ok %v: want true and false", nr.how, key, r.Contains(key), ok)
		}
		if ok, err := r.TryContains(key); !ok || err != nil {
			t.Errorf("%s: TryContains(%q) = %v, %v; Contains gives true", nr.how, key, ok, err)
		}
		if ord, ok, err := r.TryLookup(key); ok || err != nil {
			t.Errorf("%s: TryLookup(%q) = %d, %v, %v; Lookup gives false", nr.how, key, ord, ok, err)
		}
	}
}
