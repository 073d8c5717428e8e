// Command bench measures stru's reader against the systems a user would
// pick instead — Go's map, a sorted slice, bbolt, Pebble, a vellum FST and a
// binary fuse filter — in one run, on identical keys and queries, and writes
// a JSON result file and a markdown report (issue 5, section 1).
//
// Usage:
//
//	go run . [flags]                 the comparison suite
//	go run . -quick                  a smoke run on small sets
//	go run . pss [flags]             shared memory of 4 processes (section 4)
//	go run . report FILE.json...     rewrite FILE.md from a result file
//	go run . readme                  rewrite README.md's block generated from
//	                                 the result file readmeSource names
//
// It lives in its own module so that the systems it compares never enter
// the go.mod of stru itself.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "pss":
			os.Exit(pssMain(os.Args[2:]))
		case pssChildCommand:
			os.Exit(pssChildMain(os.Args[2:]))
		case "report":
			os.Exit(reportMain(os.Args[2:]))
		case "readme":
			os.Exit(readmeMain(os.Args[2:]))
		}
	}
	os.Exit(suiteMain(os.Args[1:]))
}

func suiteMain(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	sizesFlag := fs.String("sizes", "100000,1000000,10000000", "comma-separated key counts")
	large := fs.Bool("large", false, "add 100 million keys to -sizes (tens of GiB of memory)")
	datasetsFlag := fs.String("datasets", strings.Join(kinds, ","), "comma-separated data sets: "+strings.Join(kinds, ", "))
	systemsFlag := fs.String("systems", "", "comma-separated systems to run (default all): "+strings.Join(systemNames(), ", "))
	reps := fs.Int("reps", 5, "timed repetitions per query mix")
	repTime := fs.Duration("rep-time", 250*time.Millisecond, "aim for one repetition's duration")
	out := fs.String("out", "results", "directory for the result files")
	name := fs.String("name", "", "base name of the result files (default result-<date>)")
	dataDir := fs.String("data", "", "directory for the built files (default a new temporary directory)")
	seed := fs.Uint64("seed", 1, "seed of the data sets and queries")
	quick := fs.Bool("quick", false, "smoke run: 20 thousand keys, 3 repetitions of 20 ms, 3 paired rounds (unless -paired is given)")
	keep := fs.Bool("keep", false, "keep the built files")
	rounds := fs.Int("paired", 21, "paired rounds of "+strings.Join(pairSystems, ", ")+" in alternating windows (0: none)")
	pairWindow := fs.Duration("pair-window", 100*time.Millisecond, "aim for the slowest system's window in a paired round")
	fs.Parse(args)

	if *quick {
		*sizesFlag, *reps, *repTime = "20000", 3, 20*time.Millisecond
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if !given["paired"] {
			*rounds = 3
		}
		if !given["pair-window"] {
			*pairWindow = 10 * time.Millisecond
		}
	}
	sizes, err := parseSizes(*sizesFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if *large {
		sizes = append(sizes, 100_000_000)
	}
	datasets := splitList(*datasetsFlag)
	for _, k := range datasets {
		if _, err := generator(k); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
	}
	syss, err := selectSystems(*systemsFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if *reps < 1 || *rounds < 0 {
		fmt.Fprintln(os.Stderr, "bench: -reps must be at least 1, -paired at least 0")
		return 2
	}

	root := *dataDir
	if root == "" {
		root, err = os.MkdirTemp("", "stru-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		if !*keep {
			defer os.RemoveAll(root)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	base := *name
	if base == "" {
		base = "result-" + time.Now().UTC().Format("2006-01-02T150405")
	}

	run := &runFile{
		Command: "go run . " + strings.Join(args, " "),
		Started: time.Now(),
		Machine: describeMachine(),
		Seed:    *seed,
		Reps:    *reps,
		Settings: fmt.Sprintf("Settings: seed %d, %d repetitions of about %v per mix, query sets of min(keys, %d) hits and as many misses; "+
			"stru files at the default load factor with a fixed hash key.", *seed, *reps, *repTime, maxQueries),
	}
	if *rounds > 0 {
		run.Settings += fmt.Sprintf(" Paired rounds: %d, windows of about %v for the slowest of %s.", *rounds, *pairWindow, strings.Join(pairSystems, ", "))
	}
	opts := measureOptions{Reps: *reps, RepTime: *repTime, Keep: *keep}
	popts := pairOptions{Rounds: *rounds, Window: *pairWindow}
	for _, size := range sizes {
		for _, kind := range datasets {
			t0 := time.Now()
			logf("generating %s, %d keys", kind, size)
			d, err := generate(kind, size, *seed)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				return 1
			}
			logf("generated in %.1f s: %d key bytes", time.Since(t0).Seconds(), d.KeyBytes)
			// The systems of the paired rounds stay open after their
			// measurement until all of them are, then run their rounds.
			toPair := 0
			for _, sys := range syss {
				if popts.Rounds > 0 && slices.Contains(pairSystems, sys.Name) {
					toPair++
				}
			}
			var held []*heldSystem
			releaseHeld := func() {
				for _, h := range held {
					h.release()
				}
				held = nil
			}
			for _, sys := range syss {
				logf("%s %d: %s", kind, size, sys.Name)
				r, h := measureHeld(sys, d, root, opts, toPair > 1 && slices.Contains(pairSystems, sys.Name))
				run.Results = append(run.Results, r)
				if h != nil {
					held = append(held, h)
				}
				logf("  build %.2f s, file %d B, open %s, heap %d B, hit %.0f ns, miss %.0f ns, allocs %.2f, faults/lookup %.4f, 2g %.2f M/s, wrong %d %s",
					r.BuildSeconds, r.FileBytes, duration(r.OpenMedian), r.HeapBytes,
					r.NsPerLookup[mixHit], r.NsPerLookup[mixMiss], r.AllocsPerLookup, r.FaultsPerLookup, r.Parallel2/1e6, r.WrongAnswers, r.Error)
				if toPair > 1 && len(held) == toPair {
					logf("%s %d: %d paired rounds of %d systems", kind, size, popts.Rounds, len(held))
					p := runPaired(held, run.Results, d, popts)
					run.Paired = append(run.Paired, p)
					releaseHeld()
					logf("  stru ÷ map: hit %s, miss %s", p.ratioOf("stru", pairBase, mixHit), p.ratioOf("stru", pairBase, mixMiss))
				}
				settle()
			}
			releaseHeld() // if one of them failed, the others were never paired
			d = nil
			settle()
			run.Machine.LoadEnd = loadAvg()
			run.Seconds = time.Since(run.Started).Seconds()
			if err := writeRun(*out, base, run); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				return 1
			}
		}
	}
	logf("wrote %s", filepath.Join(*out, base+".md"))
	for _, r := range run.Results {
		if r.Error != "" || r.WrongAnswers > 0 {
			fmt.Fprintf(os.Stderr, "bench: %s on %s %d: %d wrong answers %s\n", r.System, r.Dataset, r.Keys, r.WrongAnswers, r.Error)
			return 1
		}
	}
	for _, p := range run.Paired {
		for system, n := range p.WrongAnswers {
			fmt.Fprintf(os.Stderr, "bench: %s on %s %d: %d wrong answers in the paired rounds\n", system, p.Dataset, p.Keys, n)
			return 1
		}
	}
	return 0
}

// reportMain rewrites the markdown report of each result file named.
func reportMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: bench report FILE.json...")
		return 2
	}
	for _, path := range args {
		run, err := readRun(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench report:", err)
			return 1
		}
		f, err := os.Create(strings.TrimSuffix(path, ".json") + ".md")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench report:", err)
			return 1
		}
		writeMarkdown(f, run)
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench report:", err)
			return 1
		}
	}
	return 0
}

// readRun reads the result file at path.
func readRun(path string) (*runFile, error) {
	js, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var run runFile
	if err := json.Unmarshal(js, &run); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &run, nil
}

// writeRun writes run as DIR/BASE.json and DIR/BASE.md.
func writeRun(dir, base string, run *runFile) error {
	js, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, base+".json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, base+".md"))
	if err != nil {
		return err
	}
	writeMarkdown(f, run)
	return f.Close()
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || n < 2 {
			return nil, fmt.Errorf("bad size %q in -sizes", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func systemNames() []string {
	var names []string
	for _, s := range systems() {
		names = append(names, dirName(s.Name))
	}
	return names
}

// selectSystems returns the systems named in list (by their directory
// names, as systemNames gives them), or all of them for an empty list.
func selectSystems(list string) ([]*system, error) {
	all := systems()
	if list == "" {
		return all, nil
	}
	var out []*system
	for _, n := range splitList(list) {
		i := slices.IndexFunc(all, func(s *system) bool { return dirName(s.Name) == n || s.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown system %q (want some of %v)", n, systemNames())
		}
		out = append(out, all[i])
	}
	return out, nil
}

func logf(format string, args ...any) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "%s [heap %d MiB] %s\n", time.Now().Format("15:04:05"), ms.HeapAlloc>>20, fmt.Sprintf(format, args...))
}
