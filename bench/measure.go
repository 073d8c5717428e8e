package main

// Measuring one system on one dataset.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A result is everything measured for one system on one dataset. Times are
// in seconds or nanoseconds as their names say; sizes in bytes.
type result struct {
	System  string `json:"system"`
	Exact   bool   `json:"exact"`
	Note    string `json:"note"`
	Dataset string `json:"dataset"`
	Keys    int    `json:"keys"`

	KeyBytes     int64   `json:"key_bytes"`     // sum of the keys' lengths
	BuildSeconds float64 `json:"build_seconds"` // keys in memory to files fsynced
	FileBytes    int64   `json:"file_bytes"`    // everything build wrote
	// FileOverheadPerKey is (FileBytes − KeyBytes) / Keys.
	FileOverheadPerKey float64 `json:"file_overhead_per_key"`

	OpenSeconds []float64 `json:"open_seconds"` // each timed open, in order
	OpenMedian  float64   `json:"open_median_seconds"`
	// HeapBytes is HeapAlloc after a GC with the system open, minus
	// HeapAlloc after a GC before opening it.
	HeapBytes  int64   `json:"heap_bytes"`
	HeapPerKey float64 `json:"heap_per_key"`
	SysBytes   int64   `json:"sys_bytes"` // the same difference of MemStats.Sys
	LookupOps  int     `json:"lookup_ops_per_rep"`
	// NsPerLookup is, per mix, the median over the repetitions of the
	// CPU time of the measuring thread (CLOCK_THREAD_CPUTIME_ID, user and
	// system) per lookup: on a machine shared with other work, wall time
	// also counts the time the thread waited for a CPU.
	NsPerLookup map[string]float64   `json:"ns_per_lookup"`
	NsSamples   map[string][]float64 `json:"ns_per_lookup_samples"` // every repetition
	// WallNsPerLookup and WallNsSamples are the same by wall-clock time.
	WallNsPerLookup map[string]float64   `json:"wall_ns_per_lookup"`
	WallNsSamples   map[string][]float64 `json:"wall_ns_per_lookup_samples"`
	// AllocsPerLookup is the MemStats.Mallocs delta over a run of
	// lookups of the mixed queries, divided by their number.
	AllocsPerLookup float64 `json:"allocs_per_lookup"`
	// Parallel2 is lookups per second of two goroutines each running the
	// mixed queries (median of the repetitions).
	Parallel2        float64   `json:"lookups_per_second_2_goroutines"`
	Parallel2Samples []float64 `json:"lookups_per_second_2_goroutines_samples"`

	// FaultsPerLookup is the page faults (minor and major, of the whole
	// process) during the timed repetitions, divided by their lookups.
	FaultsPerLookup float64 `json:"page_faults_per_lookup"`

	// FalsePositiveRate is, for an approximate system, the fraction of
	// all miss queries it answered true.
	FalsePositiveRate float64 `json:"false_positive_rate,omitempty"`
	// WrongAnswers counts hit queries answered false, and, for an exact
	// system, miss queries answered true, over the full query sets.
	WrongAnswers int    `json:"wrong_answers"`
	Error        string `json:"error,omitempty"`
}

// measureOptions set the effort of a run.
type measureOptions struct {
	Reps    int           // timed repetitions per mix
	RepTime time.Duration // the aim for one repetition's duration
	Keep    bool          // keep the built files
}

// measure builds, opens and measures sys on d in a fresh directory under
// root, and removes the directory afterwards unless opts.Keep.
func measure(sys *system, d *dataset, root string, opts measureOptions) *result {
	res, _ := measureHeld(sys, d, root, opts, false)
	return res
}

// measureHeld is measure, which, if hold is true and the measurement
// succeeded, leaves the system open and returns it, with a worker, for
// paired rounds; its release does what measure does at the end.
func measureHeld(sys *system, d *dataset, root string, opts measureOptions, hold bool) (res *result, held *heldSystem) {
	var cleanup []func() // run last to first, unless held
	defer func() {
		if held != nil {
			return
		}
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()
	res = &result{
		System: sys.Name, Exact: sys.Exact, Note: sys.Note,
		Dataset: d.Kind, Keys: len(d.Keys), KeyBytes: d.KeyBytes,
		NsPerLookup: map[string]float64{}, NsSamples: map[string][]float64{},
		WallNsPerLookup: map[string]float64{}, WallNsSamples: map[string][]float64{},
	}
	defer func() {
		if p := recover(); p != nil {
			lf, ok := p.(lookupFailure)
			if !ok {
				panic(p)
			}
			res.Error = lf.err.Error()
		}
	}()

	dir := filepath.Join(root, fmt.Sprintf("%s-%d", d.Kind, len(d.Keys)), dirName(sys.Name))
	if err := os.RemoveAll(dir); err != nil {
		res.Error = err.Error()
		return res, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.Error = err.Error()
		return res, nil
	}
	if !opts.Keep {
		cleanup = append(cleanup, func() { os.RemoveAll(dir) })
	}

	settle()
	start := time.Now()
	if err := sys.build(dir, d); err != nil {
		res.Error = "build: " + err.Error()
		return res, nil
	}
	res.BuildSeconds = time.Since(start).Seconds()
	size, err := dirSize(dir)
	if err != nil {
		res.Error = err.Error()
		return res, nil
	}
	res.FileBytes = size
	if n := len(d.Keys); n > 0 {
		res.FileOverheadPerKey = float64(size-d.KeyBytes) / float64(n)
	}

	set, err := openTimed(sys, dir, opts.Reps, res)
	if err != nil {
		res.Error = "open: " + err.Error()
		return res, nil
	}
	cleanup = append(cleanup, func() { set.close() })

	w, err := set.newWorker()
	if err != nil {
		res.Error = "worker: " + err.Error()
		return res, nil
	}
	cleanup = append(cleanup, w.release)

	// The correctness pass over the full hit and miss sets is also the
	// warm-up: it reaches every page a random lookup can touch.
	passStart := time.Now()
	if got := w.count(d.Hits); got != len(d.Hits) {
		res.WrongAnswers += len(d.Hits) - got
	}
	got := w.count(d.Misses)
	if sys.Exact {
		res.WrongAnswers += got
	} else if len(d.Misses) > 0 {
		res.FalsePositiveRate = float64(got) / float64(len(d.Misses))
	}
	passNs := float64(time.Since(passStart).Nanoseconds()) / float64(max(1, len(d.Hits)+len(d.Misses)))

	// Each repetition runs ops lookups, chosen so that it lasts about
	// opts.RepTime by the pass's speed, and within one query set.
	ops := int(float64(opts.RepTime.Nanoseconds()) / max(passNs, 1))
	ops = max(min(ops, len(d.Mixed)), min(4096, len(d.Mixed)))
	res.LookupOps = ops

	for _, mix := range mixes { // one unmeasured repetition each
		window(w, d.queries(mix), 0, ops)
	}
	faults0 := pageFaults()
	runtime.LockOSThread() // so that the thread's CPU clock is the loop's
	for rep := range opts.Reps {
		for mi, mix := range mixes {
			qs := d.queries(mix)
			start := (rep*ops + mi*len(qs)/len(mixes)) % max(1, len(qs))
			cpu0, t0 := threadCPU(), time.Now()
			found := window(w, qs, start, ops)
			wall, cpu := time.Since(t0), threadCPU()-cpu0
			res.WrongAnswers += wrongIn(sys.Exact, d, mix, start, ops, found)
			res.NsSamples[mix] = append(res.NsSamples[mix], float64(cpu.Nanoseconds())/float64(ops))
			res.WallNsSamples[mix] = append(res.WallNsSamples[mix], float64(wall.Nanoseconds())/float64(ops))
		}
	}
	runtime.UnlockOSThread()
	res.FaultsPerLookup = float64(pageFaults()-faults0) / float64(opts.Reps*len(mixes)*ops)
	for mix, s := range res.NsSamples {
		res.NsPerLookup[mix] = median(s)
		res.WallNsPerLookup[mix] = median(res.WallNsSamples[mix])
	}

	res.AllocsPerLookup = allocsPerLookup(w, d.Mixed[:min(len(d.Mixed), 1<<16)])

	if err := parallel2(set, d, ops, opts.Reps, res); err != nil {
		res.Error = "parallel: " + err.Error()
		return res, nil
	}
	if hold {
		held = &heldSystem{name: sys.Name, w: w, release: func() {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}}
	}
	return res, held
}

// openTimed opens the system up to reps times, for at most about two
// seconds in all, records each open's duration, and returns the last set
// opened, with res.HeapBytes measured around it. No garbage collection runs
// between the opens: an open right after one is slower (its first
// allocations find no swept spans), which is not what a service pays.
func openTimed(sys *system, dir string, reps int, res *result) (openSet, error) {
	settle()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var total time.Duration
	for i := 0; ; i++ {
		t0 := time.Now()
		set, err := sys.open(dir)
		dt := time.Since(t0)
		if err != nil {
			return nil, err
		}
		res.OpenSeconds = append(res.OpenSeconds, dt.Seconds())
		total += dt
		if i+1 < reps && total < 2*time.Second {
			if err := set.close(); err != nil {
				return nil, err
			}
			continue
		}
		// The sets closed above are garbage now, and this GC collects them.
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		res.HeapBytes = int64(after.HeapAlloc) - int64(before.HeapAlloc)
		res.SysBytes = int64(after.Sys) - int64(before.Sys)
		if res.Keys > 0 {
			res.HeapPerKey = float64(res.HeapBytes) / float64(res.Keys)
		}
		res.OpenMedian = median(res.OpenSeconds)
		return set, nil
	}
}

// threadCPU returns the CPU time the calling thread has used.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// pageFaults returns the process's page faults so far, minor and major.
func pageFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt + ru.Majflt
}

// window runs ops lookups of qs starting at start, wrapping around.
func window(w worker, qs []string, start, ops int) int {
	n := 0
	for ops > 0 && len(qs) > 0 {
		end := min(len(qs), start+ops)
		n += w.count(qs[start:end])
		ops -= end - start
		start = 0
	}
	return n
}

// allocsPerLookup returns the heap allocations per lookup of qs.
func allocsPerLookup(w worker, qs []string) float64 {
	if len(qs) == 0 {
		return 0
	}
	w.count(qs)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w.count(qs)
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(len(qs))
}

// wrongIn returns how many answers of a window were wrong, given found,
// the count of keys it found: for an exact system, how far found is from
// the keys among the window's queries; for a filter, which may also find
// absent keys, the keys it did not find in a window of hits only.
func wrongIn(exact bool, d *dataset, mix string, start, ops, found int) int {
	want := d.hitsIn(mix, start, ops)
	switch {
	case exact:
		return max(want-found, found-want)
	case mix == mixHit || mix == mixHitSorted:
		return want - found
	}
	return 0
}

// parallel2 measures lookups per second of two goroutines, each with its own
// worker, running ops lookups of the mixed queries from different starting
// points.
func parallel2(set openSet, d *dataset, ops, reps int, res *result) error {
	var ws [2]worker
	for i := range ws {
		w, err := set.newWorker()
		if err != nil {
			return err
		}
		defer w.release()
		ws[i] = w
	}
	for rep := range reps + 1 { // the first is a warm-up
		var wg sync.WaitGroup
		t0 := time.Now()
		var failures [2]any // a lookupFailure panicked on a goroutine, passed on below
		for i, w := range ws {
			start := (rep*ops + i*len(d.Mixed)/2) % max(1, len(d.Mixed))
			wg.Go(func() {
				defer func() { failures[i] = recover() }()
				window(w, d.Mixed, start, ops)
			})
		}
		wg.Wait()
		for _, p := range failures {
			if p != nil {
				panic(p) // on measure's goroutine, which recovers it into the report
			}
		}
		dt := time.Since(t0)
		if rep > 0 {
			res.Parallel2Samples = append(res.Parallel2Samples, float64(2*ops)/dt.Seconds())
		}
	}
	res.Parallel2 = median(res.Parallel2Samples)
	return nil
}

// settle collects garbage and returns free memory to the operating system,
// so that one system's garbage does not land on the next one's figures.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// dirSize returns the total size of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			info, err := e.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return total, err
}

// dirName turns a system's name into a directory name.
func dirName(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
