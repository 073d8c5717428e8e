package reader_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// versionKeys returns the keys of version v of the republished index:
// a marker naming the version and 2000 keys that only that version holds.
func versionKeys(v string) []string {
	keys := []string{"version-" + v}
	for i := range 2000 {
		keys = append(keys, fmt.Sprintf("%s-%04d", v, i))
	}
	return keys
}

func publish(t testing.TB, path string, keys []string) {
	t.Helper()
	b, err := builder.New(builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		b.AddString(k)
	}
	if err := b.WriteFile(path); err != nil {
		t.Fatal(err)
	}
}

// publishedHandle publishes version A of the index (versionKeys) at
// set.stru in a new directory and returns a Handle serving it, the
// directory and the path.
func publishedHandle(t *testing.T) (h *reader.Handle, dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "set.stru")
	publish(t, path, versionKeys("A"))
	h, err := reader.OpenHandle(path, reader.HandleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h, dir, path
}

// mappingsWithin waits up to d for at most one file in dir to be mapped,
// and returns how many mappings of files in dir there are then.
func mappingsWithin(t testing.TB, dir string, d time.Duration) int {
	t.Helper()
	for deadline := time.Now().Add(d); mappingsOf(t, dir) > 1 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return mappingsOf(t, dir)
}

// mappingsOf counts the lines of /proc/self/maps that map a file in dir.
func mappingsOf(t testing.TB, dir string) int {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatalf("counting mappings needs /proc: %v", err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), dir+"/") {
			n++
		}
	}
	return n
}

// TestHandleReloadUnderLoad republishes the index 100 times with
// alternating contents while 8 goroutines look keys up: each lookup, made
// on the Reader the Handle served at that moment, must agree with exactly
// one version, and the replaced files must be unmapped.
func TestHandleReloadUnderLoad(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts mappings through /proc/self/maps")
	}
	versions := map[string][]string{"A": versionKeys("A"), "B": versionKeys("B")}
	h, dir, path := publishedHandle(t)
	defer h.Close()

	var stop atomic.Bool
	var lookups atomic.Int64
	var seen [2]atomic.Int64 // lookups answered by A, by B
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; !stop.Load(); i++ {
				r := h.Reader()
				isA, isB := r.ContainsString("version-A"), r.ContainsString("version-B")
				if isA == isB {
					errs <- fmt.Errorf("reader answers version-A=%v version-B=%v", isA, isB)
					return
				}
				own, other := "A", "B"
				if isB {
					own, other = "B", "A"
					seen[1].Add(1)
				} else {
					seen[0].Add(1)
				}
				k := i % 2000
				if !r.ContainsString(versions[own][1+k]) || r.ContainsString(versions[other][1+k]) {
					errs <- fmt.Errorf("version %s answered wrongly for key %d", own, k)
					return
				}
				lookups.Add(1)
			}
		}()
	}
	for i := range 100 {
		v := "B"
		if i%2 == 1 {
			v = "A"
		}
		publish(t, path, versions[v])
		if err := h.Reload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if !h.ContainsString("version-" + v) {
			t.Fatalf("after reload %d the handle does not serve version %s", i, v)
		}
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if seen[0].Load() == 0 || seen[1].Load() == 0 {
		t.Errorf("lookups saw A %d times and B %d times: the reloads were not exercised", seen[0].Load(), seen[1].Load())
	}
	t.Logf("%d lookups during 100 reloads", lookups.Load())

	// Old files are unmapped once unreachable: at most the current one
	// stays mapped (two while a cleanup is still pending).
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		n := mappingsOf(t, dir)
		if n <= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mappings of the index remain after 100 reloads, want 1", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHandleReloadUnmapsWithoutGC republishes the index 20 times with the
// garbage collector off, as in a process whose heap barely grows, and no
// goroutine holding the replaced Readers: each reload starts a collection
// itself, so the replaced files, which the renames deleted, are unmapped
// without anyone calling runtime.GC.
func TestHandleReloadUnmapsWithoutGC(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts mappings through /proc/self/maps")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	h, dir, path := publishedHandle(t)
	defer h.Close()
	for i := range 20 {
		publish(t, path, versionKeys(fmt.Sprint(i)))
		if err := h.Reload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	if n := mappingsWithin(t, dir, 10*time.Second); n > 1 {
		t.Fatalf("%d mappings of the index remain 10 s after 20 reloads with the collector off, want 1", n)
	}
	if !h.ContainsString("19-0000") {
		t.Error("the handle does not serve the last version")
	}
}

// TestHandleHeldReaderUnmappedWithoutGC holds the Handle's Reader, as a
// lookup in flight does, while a reload replaces it and the collection the
// reload starts runs, with the garbage collector off: once the Reader is
// dropped, the replaced file must be unmapped all the same, without
// anyone calling runtime.GC or reloading again.
func TestHandleHeldReaderUnmappedWithoutGC(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts mappings through /proc/self/maps")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	h, dir, path := publishedHandle(t)
	defer h.Close()
	held := h.Reader()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gcs := ms.NumGC
	publish(t, path, versionKeys("B"))
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	// The reload's collection runs while held is held.
	for deadline := time.Now().Add(20 * time.Second); ms.NumGC == gcs; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no collection 20 s after a reload with the collector off")
		}
		runtime.ReadMemStats(&ms)
	}
	if !held.ContainsString("version-A") || !h.ContainsString("version-B") {
		t.Fatal("the held Reader or the Handle answers from the wrong version")
	}
	held = nil
	if n := mappingsWithin(t, dir, 20*time.Second); n > 1 {
		t.Fatalf("%d mappings of the index remain 20 s after the replaced Reader was dropped, with the collector off; want 1", n)
	}
}

// TestHandleReloadFailureKeepsServing checks that a missing, damaged or
// foreign file at the path leaves the current index serving and returns
// the error.
func TestHandleReloadFailureKeepsServing(t *testing.T) {
	h, _, path := publishedHandle(t)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lay := h.Reader().Layout()
	damagedKeys := append([]byte(nil), good...)
	damagedKeys[lay[index.SectionKeys].Off] ^= 0x40 // passes Open, fails Verify
	// A slot's offset changed, checksums recomputed: only Verify's
	// structural checks can tell.
	damagedSlot := append([]byte(nil), good...)
	damagedSlot[lay[index.SectionBuckets].Off] ^= 0x01
	resealSection(t, damagedSlot, index.SectionBuckets)
	version1, err := os.ReadFile(filepath.Join("..", "testdata", "version1.stru"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		prepare func() error
		wantErr error
	}{
		{"missing", func() error { return os.Remove(path) }, os.ErrNotExist},
		{"not an index", func() error { return os.WriteFile(path, []byte("hello\n"), 0o644) }, index.ErrNotIndex},
		{"truncated", func() error { return os.WriteFile(path, good[:len(good)/2], 0o644) }, index.ErrCorrupt},
		{"damaged keys", func() error { return os.WriteFile(path, damagedKeys, 0o644) }, index.ErrCorrupt},
		{"damaged slot, checksums recomputed", func() error { return os.WriteFile(path, damagedSlot, 0o644) }, index.ErrCorrupt},
		{"version 1", func() error { return os.WriteFile(path, version1, 0o644) }, index.ErrVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.prepare(); err != nil {
				t.Fatal(err)
			}
			err := h.Reload()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Reload: %v, want %v", err, tt.wantErr)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || strings.Count(strings.ReplaceAll(msg, path, "FILE"), "stru: ") > 1 {
				t.Errorf("Reload: %q: want the path, and \"stru: \" at most once", msg)
			}
			if !h.ContainsString("version-A") || !h.ContainsString("A-0042") {
				t.Fatal("the handle stopped serving the old index")
			}
		})
	}
	publish(t, path, versionKeys("B"))
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if !h.ContainsString("version-B") || h.ContainsString("version-A") {
		t.Fatal("a good file after failures was not picked up")
	}
}

// TestHandleWatchClose checks that Watch returns once the Handle is
// closed, also while its path is missing, and that Close does not race
// with it (go test -race) nor reloads continue after it.
func TestHandleWatchClose(t *testing.T) {
	for _, missing := range []bool{false, true} {
		h, _, path := publishedHandle(t)
		if missing {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan struct{})
		go func() {
			h.Watch(context.Background(), time.Millisecond, func(err error) { t.Errorf("watch: %v", err) })
			close(done)
		}()
		time.Sleep(10 * time.Millisecond) // a few checks
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("path missing %v: Watch still running 10 s after Close", missing)
		}
		if !missing {
			publish(t, path, versionKeys("B"))
		}
		if err := h.Reload(); err == nil {
			t.Errorf("Reload after Close succeeded")
		}
		if !h.ContainsString("version-A") || h.ContainsString("version-B") {
			t.Errorf("path missing %v: the closed Handle no longer serves the file it had", missing)
		}
	}
}

// TestHandleWatch checks that Watch picks up a published file by itself.
func TestHandleWatch(t *testing.T) {
	h, _, path := publishedHandle(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Watch(ctx, 5*time.Millisecond, func(err error) { t.Errorf("watch: %v", err) })
	publish(t, path, versionKeys("B"))
	deadline := time.Now().Add(5 * time.Second)
	for !h.ContainsString("version-B") {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not switch to the published file within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
