package reader_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

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
