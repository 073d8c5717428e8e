package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// newTestSpill returns a spill, in a scratch directory of its own, with
// one run file for each key list, which it sorts and rids of duplicates
// first, as writeRun does.
func newTestSpill(t *testing.T, lists [][]string) *spill {
	t.Helper()
	d, err := newScratch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.remove() })
	s := &spill{dir: d}
	for _, keys := range lists {
		keys = slices.Compact(slices.Sorted(slices.Values(keys)))
		w, err := s.newRun()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := w.add([]byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		r, err := w.finish()
		if err != nil {
			t.Fatal(err)
		}
		s.runs = append(s.runs, r)
	}
	return s
}

// readTestRun returns the keys of one run file, failing the test if they
// are not strictly ascending or not as many as the run says it holds.
func readTestRun(t *testing.T, r run) []string {
	t.Helper()
	var keys []string
	err := mergeRuns(context.Background(), []run{r}, minRunBuffer, func(key []byte) error {
		if n := len(keys); n > 0 && bytes.Compare([]byte(keys[n-1]), key) >= 0 {
			return fmt.Errorf("key %q after %q", key, keys[n-1])
		}
		keys = append(keys, string(key))
		return nil
	})
	if err != nil {
		t.Fatalf("run %s: %v", r.path, err)
	}
	if uint64(len(keys)) != r.keys {
		t.Fatalf("run %s holds %d keys, its record says %d", r.path, len(keys), r.keys)
	}
	return keys
}

// scratchFiles returns the sorted paths of the files in a scratch
// directory.
func scratchFiles(t *testing.T, s *spill) []string {
	t.Helper()
	entries, err := os.ReadDir(s.dir.dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		paths = append(paths, filepath.Join(s.dir.dir, e.Name()))
	}
	return paths
}

func runPaths(s *spill) []string {
	var paths []string
	for _, r := range s.runs {
		paths = append(paths, r.path)
	}
	slices.Sort(paths)
	return paths
}

// TestReduceRuns checks that reduceRuns leaves at most fanIn runs, whose
// files are the only ones left in the directory, and which hold, each
// strictly ascending, the same set of keys as the runs it was given.
func TestReduceRuns(t *testing.T) {
	for _, tc := range []struct {
		fan, runs int
	}{
		{2, 1}, {2, 2}, {2, 3}, {2, 9}, {3, 3}, {3, 4}, {3, 10}, {5, 17},
	} {
		t.Run(fmt.Sprintf("fan=%d/runs=%d", tc.fan, tc.runs), func(t *testing.T) {
			budget := int64(tc.fan) * 2 * minRunBuffer
			if got := fanIn(budget); got != tc.fan {
				t.Fatalf("fanIn(%d) = %d, want %d", budget, got, tc.fan)
			}
			rng := rand.New(rand.NewPCG(uint64(tc.fan), uint64(tc.runs)))
			lists := make([][]string, tc.runs)
			want := map[string]bool{}
			for i := range lists {
				// Keys from a small pool, the empty key among them, so
				// that runs share keys.
				for range 1 + rng.IntN(40) {
					k := ""
					if j := rng.IntN(51); j > 0 {
						k = fmt.Sprintf("k%02d", j)
					}
					lists[i] = append(lists[i], k)
					want[k] = true
				}
			}
			s := newTestSpill(t, lists)

			if err := s.reduceRuns(context.Background(), budget); err != nil {
				t.Fatal(err)
			}
			if wantRuns := min(tc.runs, tc.fan); len(s.runs) > wantRuns || len(s.runs) < 1 {
				t.Errorf("%d runs left, want 1 to %d", len(s.runs), wantRuns)
			}
			if got, want := scratchFiles(t, s), runPaths(s); !slices.Equal(got, want) {
				t.Errorf("files in the directory %q, want the runs' %q", got, want)
			}
			got := map[string]bool{}
			for _, r := range s.runs {
				for _, k := range readTestRun(t, r) {
					got[k] = true
				}
			}
			if len(got) != len(want) {
				t.Errorf("runs hold %d distinct keys, want %d", len(got), len(want))
			}
			for k := range want {
				if !got[k] {
					t.Errorf("key %q lost", k)
				}
			}
		})
	}
}

// TestReduceRunsErrors checks that a merge that fails returns its error
// and leaves the runs it was given, and no other file, in place.
func TestReduceRunsErrors(t *testing.T) {
	lists := [][]string{{"a", "c"}, {"b"}, {"a", "d"}}
	for _, tc := range []struct {
		name   string
		ctx    func() context.Context
		damage func(s *spill) // damages the spill before the merge
		want   error
	}{
		{
			name: "canceled",
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
			want: context.Canceled,
		},
		{
			name:   "run missing",
			ctx:    context.Background,
			damage: func(s *spill) { os.Remove(s.runs[1].path) },
			want:   fs.ErrNotExist,
		},
		{
			name:   "directory missing",
			ctx:    context.Background,
			damage: func(s *spill) { os.RemoveAll(s.dir.dir) },
			want:   fs.ErrNotExist,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSpill(t, lists)
			if tc.damage != nil {
				tc.damage(s)
			}
			var before []string
			if _, err := os.Stat(s.dir.dir); err == nil {
				before = scratchFiles(t, s)
			}
			runs := slices.Clone(s.runs)

			err := s.reduceRuns(tc.ctx(), 2*2*minRunBuffer)
			if !errors.Is(err, tc.want) {
				t.Fatalf("reduceRuns: %v, want %v", err, tc.want)
			}
			if !slices.Equal(s.runs, runs) {
				t.Errorf("runs %v after the failure, want %v", s.runs, runs)
			}
			if before != nil {
				if after := scratchFiles(t, s); !slices.Equal(after, before) {
					t.Errorf("files %q after the failure, want %q", after, before)
				}
			}
		})
	}
}
