package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestMain lets the test binary serve as the pss subcommand's child
// process, as the bench binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == pssChildCommand {
		os.Exit(pssChildMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

const smokeKeys = 5000

// TestDatasets checks the properties every measurement relies on.
func TestDatasets(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			d, err := generate(kind, smokeKeys, 7)
			if err != nil {
				t.Fatal(err)
			}
			again, err := generate(kind, smokeKeys, 7)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Keys, again.Keys) || !slices.Equal(d.Misses, again.Misses) || !slices.Equal(d.Mixed, again.Mixed) {
				t.Error("two generations with the same seed differ")
			}
			other, _ := generate(kind, smokeKeys, 8)
			if slices.Equal(d.Keys, other.Keys) {
				t.Error("seeds 7 and 8 gave the same keys")
			}

			if len(d.Keys) != smokeKeys {
				t.Fatalf("%d keys, want %d", len(d.Keys), smokeKeys)
			}
			var keyBytes int64
			keys := map[string]bool{}
			for i, k := range d.Keys {
				keyBytes += int64(len(k))
				if i > 0 && d.Keys[i-1] >= k {
					t.Fatalf("keys not strictly ascending at %d", i)
				}
				if strings.ContainsAny(k, "\x00\r\n") {
					t.Fatalf("key %q holds NUL, CR or LF", k)
				}
				keys[k] = true
			}
			if keyBytes != d.KeyBytes {
				t.Errorf("KeyBytes %d, keys hold %d", d.KeyBytes, keyBytes)
			}
			switch kind {
			case kindRandom:
				for _, k := range d.Keys {
					if len(k) < 8 || len(k) > 64 {
						t.Fatalf("random key of %d bytes", len(k))
					}
				}
			case kindUUID:
				for _, k := range d.Keys {
					if len(k) != 36 || k[14] != '4' || !strings.ContainsRune("89ab", rune(k[19])) {
						t.Fatalf("not a version 4 UUID: %q", k)
					}
				}
			case kindURL:
				for _, k := range d.Keys {
					if !strings.HasPrefix(k, "http://") && !strings.HasPrefix(k, "https://") {
						t.Fatalf("not a URL: %q", k)
					}
				}
			}

			if len(d.Hits) != smokeKeys || len(d.Misses) != smokeKeys || len(d.Mixed) != smokeKeys {
				t.Fatalf("query sets of %d, %d, %d", len(d.Hits), len(d.Misses), len(d.Mixed))
			}
			if slices.Equal(d.Hits, d.HitsSorted) {
				t.Error("hits are not shuffled")
			}
			if !slices.IsSorted(d.HitsSorted) || !slices.Equal(slices.Sorted(slices.Values(d.Hits)), d.HitsSorted) {
				t.Error("HitsSorted is not Hits in order")
			}
			keyMem := map[*byte]bool{}
			for _, k := range d.Keys {
				keyMem[unsafe.StringData(k)] = true
			}
			for _, q := range d.Hits {
				if !keys[q] {
					t.Fatalf("hit %q is not a key", q)
				}
				if keyMem[unsafe.StringData(q)] {
					t.Fatalf("hit %q shares memory with its key", q)
				}
			}
			for _, q := range d.Misses {
				if keys[q] {
					t.Fatalf("miss %q is a key", q)
				}
			}
			hits := 0
			for _, q := range d.Mixed {
				if keys[q] {
					hits++
				}
			}
			if hits != smokeKeys/2 {
				t.Errorf("mixed has %d hits of %d", hits, smokeKeys)
			}
		})
	}
}

// TestSystemsAnswerCorrectly builds and opens every system on every data
// set and asks it every hit and every miss, one by one and through count,
// from two workers.
// buildAndOpen builds sys for d's keys in a temporary directory and opens
// it; the test's cleanup closes it.
func buildAndOpen(t *testing.T, sys *system, d *dataset) openSet {
	t.Helper()
	dir := t.TempDir()
	if err := sys.build(dir, d); err != nil {
		t.Fatal("build:", err)
	}
	set, err := sys.open(dir)
	if err != nil {
		t.Fatal("open:", err)
	}
	t.Cleanup(func() {
		if err := set.close(); err != nil {
			t.Error("close:", err)
		}
	})
	return set
}

func TestSystemsAnswerCorrectly(t *testing.T) {
	for _, kind := range kinds {
		d, err := generate(kind, smokeKeys, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, sys := range systems() {
			t.Run(kind+"/"+dirName(sys.Name), func(t *testing.T) {
				set := buildAndOpen(t, sys, d)
				for wi := range 2 {
					w, err := set.newWorker()
					if err != nil {
						t.Fatal(err)
					}
					for _, q := range d.Hits {
						if !w.contains(q) {
							t.Fatalf("worker %d: hit %q answered false", wi, q)
						}
					}
					if got := w.count(d.Hits); got != len(d.Hits) {
						t.Errorf("worker %d: count(hits) = %d, want %d", wi, got, len(d.Hits))
					}
					positives := 0
					for _, q := range d.Misses {
						if w.contains(q) {
							if sys.Exact {
								t.Fatalf("worker %d: miss %q answered true", wi, q)
							}
							positives++
						}
					}
					if got := w.count(d.Misses); got != positives {
						t.Errorf("worker %d: count(misses) = %d, contains said %d", wi, got, positives)
					}
					// A binary fuse filter with 8-bit fingerprints has a
					// false-positive rate near 1/256.
					if rate := float64(positives) / float64(len(d.Misses)); rate > 0.02 {
						t.Errorf("worker %d: false-positive rate %.4f", wi, rate)
					}
					if got, want := w.count(d.Mixed), len(d.Mixed)/2; sys.Exact && got != want {
						t.Errorf("worker %d: count(mixed) = %d, want %d", wi, got, want)
					}
					w.release()
				}
			})
		}
	}
}

// TestPebbleBloomReadsFilters looks up absent keys in the pebble+bloom
// row and checks, in Pebble's metrics, that its bloom filters turned most
// of them away. DB.Get, which that row once used, never reads the filters
// of the bottom level, where the build compacts every key: the row then
// measured Pebble with a large cache, and the filter counters stayed 0.
func TestPebbleBloomReadsFilters(t *testing.T) {
	d, err := generate("random", smokeKeys, 1)
	if err != nil {
		t.Fatal(err)
	}
	set := buildAndOpen(t, pebbleSystem(true), d)
	w, err := set.newWorker()
	if err != nil {
		t.Fatal(err)
	}
	if n := w.count(d.Misses); n != 0 {
		t.Fatalf("%d misses found", n)
	}
	w.release()
	m := set.(*pebbleSet).db.Metrics()
	// 10 bits a key: about 1% of absent keys get past a table's filter.
	if turnedAway := m.Filter.Hits; turnedAway < int64(len(d.Misses))*9/10 {
		t.Errorf("the filters turned away %d of %d absent keys (and let %d through)", turnedAway, len(d.Misses), m.Filter.Misses)
	}
}

// wrongSystem is the Go map row with every 100th hit forgotten.
func wrongSystem() *system {
	s := *mapSystem()
	open := s.open
	s.Name = "forgetful map"
	s.open = func(dir string) (openSet, error) {
		set, err := open(dir)
		if err != nil {
			return nil, err
		}
		m := set.(mapSet).m
		i := 0
		for k := range m {
			if i%100 == 0 {
				delete(m, k)
			}
			i++
		}
		return set, nil
	}
	return &s
}

// TestMeasure runs the measurement of every system on a small set, and
// checks that it reports a system that answers wrongly.
func TestMeasure(t *testing.T) {
	d, err := generate(kindRandom, smokeKeys, 3)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	opts := measureOptions{Reps: 2, RepTime: time.Millisecond}
	var results []*result
	for _, sys := range append(systems(), wrongSystem()) {
		r := measure(sys, d, root, opts)
		results = append(results, r)
		if r.Error != "" {
			t.Errorf("%s: %s", sys.Name, r.Error)
			continue
		}
		if sys.Name == "forgetful map" {
			if r.WrongAnswers == 0 {
				t.Errorf("%s: no wrong answers reported", sys.Name)
			}
			continue
		}
		if r.WrongAnswers != 0 {
			t.Errorf("%s: %d wrong answers", sys.Name, r.WrongAnswers)
		}
		for _, mix := range mixes {
			if len(r.NsSamples[mix]) != opts.Reps || r.NsPerLookup[mix] <= 0 {
				t.Errorf("%s: %s samples %v", sys.Name, mix, r.NsSamples[mix])
			}
		}
		if r.FileBytes <= 0 || r.BuildSeconds <= 0 || len(r.OpenSeconds) == 0 || r.Parallel2 <= 0 {
			t.Errorf("%s: missing figures: %+v", sys.Name, r)
		}
		if sys.Name == "stru" {
			if r.AllocsPerLookup != 0 {
				t.Errorf("stru: %.3f allocs per lookup", r.AllocsPerLookup)
			}
			if r.FileBytes < d.KeyBytes {
				t.Errorf("stru file of %d bytes holds %d key bytes", r.FileBytes, d.KeyBytes)
			}
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "random-5000"))
	if err != nil || len(entries) != 0 {
		t.Errorf("built files left behind: %v %v", entries, err)
	}

	run := &runFile{Command: "test", Machine: describeMachine(), Results: results}
	var md bytes.Buffer
	writeMarkdown(&md, run)
	for _, want := range []string{"| stru |", "| Go map |", "| bbolt |", "| pebble |", "| vellum FST |", "binary fuse 8 (approximate", "WRONG ANSWERS", "hit ≤ 1.5× map"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	js, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	var back runFile
	if err := json.Unmarshal(js, &back); err != nil || len(back.Results) != len(results) {
		t.Errorf("JSON round trip: %v, %d results", err, len(back.Results))
	}
}

// TestPSS runs the pss measurement with two small processes per mode and
// checks that the mapped index is shared: each process's Rss includes the
// whole index, but its Pss only its share.
func TestPSS(t *testing.T) {
	const keys, procs = 50_000, 2
	pr, err := runPSS(t.TempDir(), kindRandom, keys, 1, procs, []string{pssModeStru, pssModeMap}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Modes) != 2 {
		t.Fatalf("%d modes measured", len(pr.Modes))
	}
	indexKB := pr.IndexSize / 1024
	for _, m := range pr.Modes {
		if len(m.Processes) != procs {
			t.Fatalf("%s: %d processes", m.Mode, len(m.Processes))
		}
		for _, p := range m.Processes {
			rss, pss := p.Rollup["Rss"], p.Rollup["Pss"]
			if p.Touched != keys || pss <= 0 || rss < pss {
				t.Errorf("%s: process %+v", m.Mode, p)
			}
			if m.Mode == pssModeStru {
				if rss < indexKB {
					t.Errorf("stru process Rss %d kB < index %d kB: not every page touched", rss, indexKB)
				}
				// The index's pages are shared by procs processes.
				if shared := rss - pss; shared < indexKB/procs*9/10 {
					t.Errorf("stru process Rss %d kB − Pss %d kB = %d kB, want ≥ 90%% of %d kB", rss, pss, shared, indexKB/procs)
				}
			}
		}
	}
	var md bytes.Buffer
	writePSS(&md, pr)
	if !strings.Contains(md.String(), "| stru | 2 |") || !strings.Contains(md.String(), "| map | 2 |") {
		t.Errorf("report:\n%s", md.String())
	}
}
