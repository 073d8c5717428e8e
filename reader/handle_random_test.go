package reader_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

var (
	handleN    = flag.Int("handle-n", 0, "TestRandomHandle: how many schedules it runs (0: 30, or 15 with -race or -short)")
	handleSeed = flag.Uint64("handle-seed", 0, "TestRandomHandle: the seed of its first schedule (0: derived from the time, and logged); schedule i has seed+i")
)

// handleWait bounds every wait for what runs in the background (Watch, a
// collection and its cleanups): far more than they need, so that only a
// thing that never happens fails, however loaded the machine.
const handleWait = 20 * time.Second

// sharedKeys are in every valid version TestRandomHandle publishes.
var sharedKeys = func() []string {
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprintf("shared-%02d", i)
	}
	return keys
}()

// A handleRun is one schedule of TestRandomHandle: the versions published
// at its path, which the lookups of its workers check their answers
// against, and what its driver knows the Handle serves.
type handleRun struct {
	h    *reader.Handle
	keys [100][]string // the sorted keys of each valid version, written before published grows past it
	// published counts the valid versions that may have reached the path:
	// 0 to published-1, in that order.
	published atomic.Int64
	// low is the newest version the driver saw served: the Handle never
	// goes back to an older one.
	low     atomic.Int64
	damaged atomic.Int64 // damaged files published: their keys are marked "damaged-0" to "damaged-(damaged-1)"

	heldAcross atomic.Int64 // Readers held while the Handle replaced them

	mu   sync.Mutex
	errs []error // failures of the workers and of Watch's onError
	stop atomic.Bool

	// own is a Reader of version 0 opened apart from the Handle, which
	// the workers look keys up on while the test closes it.
	own                *reader.Reader
	closing, ownClosed atomic.Bool // Close of own has begun, has returned
}

func (run *handleRun) fail(format string, args ...any) {
	run.mu.Lock()
	defer run.mu.Unlock()
	if len(run.errs) < 10 {
		run.errs = append(run.errs, fmt.Errorf(format, args...))
	}
	run.stop.Store(true)
}

// versionKeysOf returns the sorted keys of version v: its marker
// "version-v", the shared keys and 10 to 300 keys only it holds.
func versionKeysOf(rng *rand.Rand, marker string) []string {
	keys := append([]string{marker}, sharedKeys...)
	for i := range 10 + rng.IntN(291) {
		keys = append(keys, fmt.Sprintf("%s-own-%03d", marker, i))
	}
	slices.Sort(keys)
	return keys
}

// versionOf returns the version r serves, which must be exactly one of
// those published.
func (run *handleRun) versionOf(r *reader.Reader) (int, error) {
	n := int(run.published.Load()) // after r was taken: its version is counted
	v := -1
	for i := range n {
		if r.ContainsString(fmt.Sprintf("version-%d", i)) {
			if v >= 0 {
				return -1, fmt.Errorf("a Reader holds the markers of versions %d and %d", v, i)
			}
			v = i
		}
	}
	if v < 0 {
		return -1, fmt.Errorf("a Reader holds none of the markers of the %d versions published", n)
	}
	return v, nil
}

// work looks keys up until the run stops: through the Handle, and on a
// Reader it takes from the Handle and holds for a while, checking that
// every answer comes from one valid version, not older than the one the
// driver last saw served, and that a held Reader keeps answering from
// its own.
func (run *handleRun) work(rng *rand.Rand) {
	for !run.stop.Load() {
		low := int(run.low.Load())
		switch rng.IntN(5) {
		case 0:
			run.lookUpOwn(rng)
		case 1, 2:
			run.lookUp(rng, low)
		default:
			run.hold(rng, low)
		}
		runtime.Gosched()
	}
}

// lookUp checks lookups made through the Handle, each on the Reader it
// serves at that moment.
func (run *handleRun) lookUp(rng *rand.Rand, low int) {
	h := run.h
	if k := sharedKeys[rng.IntN(len(sharedKeys))]; !h.ContainsString(k) {
		run.fail("Handle.ContainsString(%q) = false: every version holds it", k)
	}
	if low > 0 {
		if k := fmt.Sprintf("version-%d", rng.IntN(low)); h.ContainsString(k) {
			run.fail("Handle.ContainsString(%q) = true after version %d was served", k, low)
		}
	}
	if d := run.damaged.Load(); d > 0 {
		if k := fmt.Sprintf("damaged-%d", rng.Int64N(d)); h.ContainsString(k) {
			run.fail("Handle.ContainsString(%q) = true: a damaged file is served", k)
		}
	}
	if ok, err := h.Reader().TryContains([]byte("absent")); ok || err != nil {
		run.fail("TryContains(absent) = %v, %v", ok, err)
	}
}

// lookUpOwn looks keys up on own, which the test may be closing: an
// answer must be right if Close had not begun when it came, and a lookup
// that starts after Close returned must say no.
func (run *handleRun) lookUpOwn(rng *rand.Rand) {
	keys := run.keys[0]
	closed := run.ownClosed.Load()
	j := rng.IntN(len(keys))
	got, tryGot, err := run.own.ContainsString(keys[j]), false, error(nil)
	if rng.IntN(2) == 0 {
		tryGot, err = run.own.TryContains([]byte(keys[j]))
	}
	k := string(run.own.Key(j))
	switch {
	case closed && (got || tryGot || k != "" || run.own.Len() != 0):
		run.fail("Reader after Close: ContainsString(%q) = %v, TryContains %v, Key(%d) = %q, Len %d", keys[j], got, tryGot, j, k, run.own.Len())
	case err != nil:
		run.fail("TryContains on a Reader being closed: %v", err)
	case !run.closing.Load() && (!got || k != keys[j]):
		run.fail("Reader before Close: ContainsString(%q) = %v, Key(%d) = %q", keys[j], got, j, k)
	}
}

// closeOwn closes own while the workers look keys up on it.
func (run *handleRun) closeOwn() error {
	if run.closing.Swap(true) {
		return nil
	}
	err := run.own.Close()
	run.ownClosed.Store(true)
	return err
}

// hold takes the Handle's Reader and looks keys up on it for a while, as
// the driver replaces it, then drops it.
func (run *handleRun) hold(rng *rand.Rand, low int) {
	r := run.h.Reader()
	v, err := run.versionOf(r)
	if err != nil {
		run.fail("%v", err)
		return
	}
	if v < low {
		run.fail("the Handle serves version %d after version %d", v, low)
	}
	keys := run.keys[v]
	for i := range 1 + rng.IntN(30) {
		switch rng.IntN(5) {
		case 0:
			if k := keys[rng.IntN(len(keys))]; !r.ContainsString(k) {
				run.fail("version %d, held: ContainsString(%q) = false", v, k)
			}
		case 1:
			w := rng.IntN(int(run.published.Load()))
			if k := fmt.Sprintf("version-%d-own-%03d", w, 0); r.ContainsString(k) != (w == v) {
				run.fail("version %d, held: ContainsString(%q) = %v", v, k, w != v)
			}
		case 2:
			j := rng.IntN(len(keys))
			if k := r.Key(j); string(k) != keys[j] || r.Len() != len(keys) {
				run.fail("version %d, held: Key(%d) = %q, Len %d; want %q, %d", v, j, k, r.Len(), keys[j], len(keys))
			}
		case 3:
			k := keys[rng.IntN(len(keys))]
			if ok, err := r.TryContains([]byte(k)); !ok || err != nil {
				run.fail("version %d, held: TryContains(%q) = %v, %v", v, k, ok, err)
			}
		case 4:
			j := 0
			for k := range r.All() {
				if j >= len(keys) || string(k) != keys[j] {
					run.fail("version %d, held: All yields %q at %d", v, k, j)
					break
				}
				j++
			}
			if j != len(keys) {
				run.fail("version %d, held: All yields %d keys, want %d", v, j, len(keys))
			}
		}
		if i%4 == 3 {
			runtime.Gosched() // let the driver replace r
		}
	}
	if run.h.Reader() != r {
		run.heldAcross.Add(1)
	}
}

// A damage makes a file that no Reload may serve, and names the sentinel
// its error must wrap.
type damage struct {
	name   string
	want   error
	verify bool // only Verify finds it: not for SkipVerify
	make   func(rng *rand.Rand, good []byte, lay index.Layout) []byte
}

var damages = []damage{
	{"a section's byte flipped", index.ErrCorrupt, true, func(rng *rand.Rand, good []byte, lay index.Layout) []byte {
		b := slices.Clone(good)
		var in []index.Section
		for s := index.SectionBuckets; s < index.NumSections; s++ {
			if lay[s].Size > 0 {
				in = append(in, s)
			}
		}
		s := in[rng.IntN(len(in))]
		b[lay[s].Off+rng.Uint64N(lay[s].Size)] ^= byte(1 + rng.IntN(255))
		return b
	}},
	{"a header byte flipped", index.ErrCorrupt, false, func(rng *rand.Rand, good []byte, _ index.Layout) []byte {
		b := slices.Clone(good)
		b[8+rng.IntN(index.HeaderSize-8)] ^= byte(1 + rng.IntN(255)) // past magic and version: the header checksum fails
		return b
	}},
	{"truncated", index.ErrCorrupt, false, func(rng *rand.Rand, good []byte, _ index.Layout) []byte {
		return slices.Clone(good[:index.HeaderSize+rng.IntN(len(good)-index.HeaderSize)])
	}},
	{"an unknown version", index.ErrVersion, false, func(rng *rand.Rand, good []byte, _ index.Layout) []byte {
		b := slices.Clone(good)
		b[4] = byte(4 + rng.IntN(200))
		return b
	}},
	{"not a STRU file", index.ErrNotIndex, false, func(rng *rand.Rand, _ []byte, _ index.Layout) []byte {
		return []byte(fmt.Sprintf("key-%d\nkey-%d\n", rng.Int(), rng.Int()))
	}},
}

// TestRandomHandle runs random schedules of a Handle's life with the
// garbage collector off, as in a process whose heap barely grows. In each,
// three workers look keys up (through the Handle, and on a Reader they
// take from it and hold for a while) while the test publishes new valid
// versions by rename, damaged files and none, and reloads or lets Watch
// pick the changes up, with random HandleOptions, until it closes the
// Handle. Every answer must come from one valid version, not older than
// one served before; a held Reader keeps answering from its own; a
// damaged or missing file never serves, and Reload's and Watch's errors
// wrap the right sentinel. Once the workers drop their Readers, the
// replaced files must be unmapped without anyone calling runtime.GC (on
// Linux, where /proc/self/maps shows them).
func TestRandomHandle(t *testing.T) {
	n := *handleN
	if n == 0 {
		n = 30
		if raceEnabled() || testing.Short() {
			n = 15
		}
	}
	seed := *handleSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d, %d schedules (replay one with -handle-seed SEED -handle-n 1)", seed, n)
	var tally handleTally
	for i := range n {
		if !runHandleSchedule(t, seed+uint64(i), &tally) {
			t.Fatalf("schedule with seed %d failed (replay with -handle-seed %d -handle-n 1)", seed+uint64(i), seed+uint64(i))
		}
	}
	t.Logf("%+v", tally)
}

// A handleTally counts what TestRandomHandle's schedules did, to show
// they did it.
type handleTally struct {
	Valid, Damaged, Removed, Reloads int   // files published, paths removed, Reloads by the test
	WatchErrors                      int64 // failed reloads Watch reported
	HeldAcross                       int64 // Readers a worker held while the Handle replaced them
}

// runHandleSchedule runs the schedule of seed and reports whether it
// passed.
func runHandleSchedule(t *testing.T, seed uint64, tally *handleTally) bool {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer runtime.GC() // what this schedule left, before the collector is on again
	rng := rand.New(rand.NewPCG(seed, 0x5354_5255))
	opts := reader.HandleOptions{SkipVerify: rng.IntN(2) == 0, Preload: rng.IntN(2) == 0}
	dir := t.TempDir()
	path := filepath.Join(dir, "set.stru")
	failed := false
	errorf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("seed %d, %+v: "+format, append([]any{seed, opts}, args...)...)
		failed = true
	}

	run := &handleRun{}
	run.keys[0] = versionKeysOf(rng, "version-0")
	run.published.Store(1)
	publish(t, path, run.keys[0])
	h, err := reader.OpenHandle(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	run.h = h
	if run.own, err = reader.Open(path); err != nil {
		t.Fatal(err)
	}

	// Watch reports each failed reload; onErrors counts them.
	var onErrors atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watched := make(chan struct{})
	interval := time.Duration(1+rng.IntN(5)) * time.Millisecond
	go func() {
		defer close(watched)
		h.Watch(ctx, interval, func(err error) {
			if !errors.Is(err, index.ErrCorrupt) && !errors.Is(err, index.ErrNotIndex) && !errors.Is(err, index.ErrVersion) && !errors.Is(err, fs.ErrNotExist) {
				run.fail("Watch's onError: %v: wraps none of the sentinels", err)
			}
			onErrors.Add(1)
		})
	}()
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run.work(rand.New(rand.NewPCG(seed, uint64(w))))
		}()
	}

	// at is what the path holds: a valid version (its number), a damaged
	// file (-1, wantErr its sentinel) or nothing (-2).
	at, wantErr := 0, error(nil)
	served := func(v int) { // the driver saw version v served
		run.low.Store(int64(v))
	}
	waitFor := func(what string, done func() bool) bool {
		for deadline := time.Now().Add(handleWait); !done(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				errorf("%s: not within %v", what, handleWait)
				return false
			}
		}
		return true
	}
	reload := func() {
		err := h.Reload()
		switch {
		case at >= 0 && err != nil:
			errorf("Reload of version %d: %v", at, err)
		case at >= 0:
			if v, err := run.versionOf(h.Reader()); err != nil || v != at {
				errorf("after the Reload of version %d the Handle serves %d (%v)", at, v, err)
			}
			served(at)
		case !errors.Is(err, wantErr):
			errorf("Reload: %v, want an error wrapping %v", err, wantErr)
		}
		if v, err := run.versionOf(h.Reader()); err != nil || v < int(run.low.Load()) || v >= int(run.published.Load()) {
			errorf("after a Reload the Handle serves %d (%v), last seen %d", v, err, run.low.Load())
		}
	}
	ops := 4 + rng.IntN(12)
	var trace []string
	for op := 0; op < ops && !failed && !run.stop.Load(); op++ {
		switch p := rng.IntN(11); {
		case p < 4 && int(run.published.Load()) < len(run.keys): // publish a new valid version
			v := int(run.published.Load())
			run.keys[v] = versionKeysOf(rng, fmt.Sprintf("version-%d", v))
			run.published.Store(int64(v + 1))
			publish(t, path, run.keys[v])
			at = v
			tally.Valid++
			trace = append(trace, fmt.Sprintf("publish %d", v))
		case p < 7: // publish a damaged file
			var ds []damage
			for _, d := range damages {
				if !d.verify || !opts.SkipVerify {
					ds = append(ds, d)
				}
			}
			d := ds[rng.IntN(len(ds))]
			var keys [][]byte
			for _, k := range versionKeysOf(rng, fmt.Sprintf("damaged-%d", run.damaged.Load())) {
				keys = append(keys, []byte(k))
			}
			run.damaged.Add(1)
			good := buildIndex(t, keys, builder.Options{})
			r, err := reader.FromBytes(good)
			if err != nil {
				t.Fatal(err)
			}
			errorsBefore := onErrors.Load()
			tmp := filepath.Join(dir, "damaged.tmp")
			if err := os.WriteFile(tmp, d.make(rng, good, r.Layout()), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			at, wantErr = -1, d.want
			tally.Damaged++
			trace = append(trace, "publish "+d.name)
			if rng.IntN(2) == 0 {
				trace = append(trace, "wait for Watch's error")
				waitFor("Watch's onError after "+d.name, func() bool { return onErrors.Load() > errorsBefore })
			}
		case p < 8: // remove the path
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			at, wantErr = -2, fs.ErrNotExist
			tally.Removed++
			trace = append(trace, "remove")
		case p < 9:
			trace = append(trace, "Reload")
			tally.Reloads++
			reload()
		case p == 10:
			trace = append(trace, "close the Reader of version 0 opened apart")
			if err := run.closeOwn(); err != nil {
				errorf("Close: %v", err)
			}
		default: // wait for Watch to serve the version at the path, or a while
			if at >= 0 {
				trace = append(trace, fmt.Sprintf("wait for Watch to serve %d", at))
				v := at
				if waitFor(fmt.Sprintf("Watch serving version %d", v), func() bool {
					w, err := run.versionOf(h.Reader())
					return err == nil && w == v
				}) {
					served(v)
				}
			} else {
				trace = append(trace, "pause")
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
		}
	}
	if err := h.Close(); err != nil {
		errorf("Close: %v", err)
	}
	waitFor("Watch returning after Close", func() bool {
		select {
		case <-watched:
			return true
		default:
			return false
		}
	})
	if err := h.Reload(); err == nil {
		errorf("Reload after Close succeeded")
	}
	run.stop.Store(true)
	wg.Wait()
	if v, err := run.versionOf(h.Reader()); err != nil || v < int(run.low.Load()) {
		errorf("after Close the Handle serves %d (%v), last seen %d", v, err, run.low.Load())
	}
	if err := run.closeOwn(); err != nil {
		errorf("Close: %v", err)
	}
	for _, err := range run.errs {
		errorf("%v", err)
	}

	tally.WatchErrors += onErrors.Load()
	tally.HeldAcross += run.heldAcross.Load()

	// The workers have dropped their Readers: every replaced file must be
	// unmapped, though nothing calls runtime.GC.
	if runtime.GOOS == "linux" && !waitFor("the replaced files unmapped", func() bool { return mappingsOf(t, dir) <= 1 }) {
		t.Logf("%d files of the schedule mapped, want at most the one served", mappingsOf(t, dir))
	}
	runtime.KeepAlive(h)
	if failed {
		t.Logf("seed %d: %v", seed, trace)
	}
	return !failed
}
