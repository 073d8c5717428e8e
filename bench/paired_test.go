package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuantile checks quantile against values worked out by hand.
func TestQuantile(t *testing.T) {
	tests := []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{nil, 0.5, 0},
		{[]float64{7}, 0.25, 7},
		{[]float64{1, 2, 3, 4, 5}, 0.5, 3},
		{[]float64{1, 2, 3, 4, 5}, 0.25, 2},
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{1, 2, 3, 4}, 0.25, 1.75}, // position 0.75: 1 + 0.75×(2−1)
		{[]float64{1, 2, 3, 4}, 0.75, 3.25}, // position 2.25
		{[]float64{1, 2, 3, 4}, 1, 4},
		{[]float64{1, 2, 3, 4}, 0, 1},
	}
	for _, tt := range tests {
		if got := quantile(tt.xs, tt.q); got != tt.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", tt.xs, tt.q, got, tt.want)
		}
	}
}

// TestRatioOf checks that ratios are taken round by round, not as a ratio
// of medians: here num's median over den's median is 5/1.5 = 3.33, while
// the rounds' ratios are 2, 4, 3, 4.
func TestRatioOf(t *testing.T) {
	p := &pairedRun{NsSamples: map[string]map[string][]float64{
		"a": {mixHit: {2, 4, 6, 8}},
		"b": {mixHit: {1, 1, 2, 2}},
		"c": {mixHit: {1, 2, 3}},
	}}
	got := p.ratioOf("a", "b", mixHit)
	want := pairRatio{Median: 3.5, Q1: 2.75, Q3: 4, N: 4}
	if got != want {
		t.Errorf("ratioOf(a, b) = %+v, want %+v", got, want)
	}
	for _, tt := range []struct{ num, den, mix string }{
		{"a", "c", mixHit},  // different numbers of rounds
		{"a", "x", mixHit},  // no such system
		{"a", "b", mixMiss}, // no such mix
	} {
		if got := p.ratioOf(tt.num, tt.den, tt.mix); got.N != 0 {
			t.Errorf("ratioOf(%s, %s, %s) = %+v, want none", tt.num, tt.den, tt.mix, got)
		}
	}
	var none *pairedRun
	if got := none.ratioOf("a", "b", mixHit); got.N != 0 {
		t.Errorf("ratioOf on no paired rounds = %+v", got)
	}
}

// TestTargetsJudgedOnPairedRounds checks that a ratio target is judged on
// the paired rounds' median where the run has them, and on the medians
// measured one after the other where it does not.
func TestTargetsJudgedOnPairedRounds(t *testing.T) {
	results := []*result{
		{System: "stru", Dataset: "random", Keys: 100_000, NsPerLookup: map[string]float64{mixHit: 160}},
		{System: "Go map", Dataset: "random", Keys: 100_000, NsPerLookup: map[string]float64{mixHit: 100}},
	}
	paired := func(ratios ...float64) []*pairedRun {
		p := &pairedRun{Dataset: "random", Keys: 100_000, NsSamples: map[string]map[string][]float64{
			"stru": {mixHit: nil}, "Go map": {mixHit: nil},
		}}
		for _, r := range ratios {
			p.NsSamples["stru"][mixHit] = append(p.NsSamples["stru"][mixHit], 100*r)
			p.NsSamples["Go map"][mixHit] = append(p.NsSamples["Go map"][mixHit], 100)
		}
		return []*pairedRun{p}
	}
	tests := []struct {
		name   string
		paired []*pairedRun
		want   string
	}{
		{"no paired rounds: 1.60× one after the other", nil, "| 100k random: hit ≤ 1.5× map (in cache) | 1.60× (160 vs 100 ns) | **no** |"},
		{"paired median 1.20×", paired(1.1, 1.2, 1.9), "| 100k random: hit ≤ 1.5× map (in cache) | paired 1.20× (quartiles 1.15–1.55); one after the other 1.60× (160 vs 100 ns) | yes |"},
		{"paired median 1.70×", paired(1.2, 1.7, 1.8), "| 100k random: hit ≤ 1.5× map (in cache) | paired 1.70× (quartiles 1.45–1.75); one after the other 1.60× (160 vs 100 ns) | **no** |"},
		{"paired rounds of another size", []*pairedRun{{Dataset: "random", Keys: 1_000_000}}, "| 100k random: hit ≤ 1.5× map (in cache) | 1.60× (160 vs 100 ns) | **no** |"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeTargetTable(&b, results, tt.paired)
			if !strings.Contains(b.String(), tt.want+"\n") {
				t.Errorf("table lacks %q:\n%s", tt.want, b.String())
			}
		})
	}
}

// TestPaired holds stru, stru batch and the Go map open after measuring them
// on a small set, runs paired rounds, and checks what they recorded, that
// the report shows them, and that releasing the systems removes their files.
func TestPaired(t *testing.T) {
	d, err := generate(kindRandom, smokeKeys, 5)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	opts := measureOptions{Reps: 1, RepTime: time.Millisecond}
	var (
		results []*result
		held    []*heldSystem
	)
	for _, sys := range systems()[:3] {
		if !strings.Contains(strings.Join(pairSystems, "|"), sys.Name) {
			t.Fatalf("systems()[:3] holds %s, not one of the paired systems %v", sys.Name, pairSystems)
		}
		r, h := measureHeld(sys, d, root, opts, true)
		if r.Error != "" || h == nil {
			t.Fatalf("%s: %q, held %v", sys.Name, r.Error, h)
		}
		results, held = append(results, r), append(held, h)
	}
	// A system measured without holding is closed and its files removed.
	if r, h := measureHeld(systems()[0], d, filepath.Join(root, "unheld"), opts, false); r.Error != "" || h != nil {
		t.Fatalf("not held: %q, %v", r.Error, h)
	}
	if entries, err := os.ReadDir(filepath.Join(root, "unheld", "random-5000")); err != nil || len(entries) != 0 {
		t.Errorf("files of a system not held left behind: %v %v", entries, err)
	}

	const rounds = 4
	p := runPaired(held, results, d, pairOptions{Rounds: rounds, Window: time.Millisecond})
	if p.Dataset != kindRandom || p.Keys != smokeKeys || p.Rounds != rounds || p.Ops < min(4096, len(d.Mixed)) {
		t.Errorf("paired run %+v", p)
	}
	for _, name := range pairSystems {
		for _, mix := range pairMixes {
			s := p.NsSamples[name][mix]
			if len(s) != rounds {
				t.Errorf("%s %s: %d samples, want %d", name, mix, len(s), rounds)
			}
			for _, ns := range s {
				if ns <= 0 {
					t.Errorf("%s %s: sample %v", name, mix, ns)
				}
			}
		}
	}
	if len(p.WrongAnswers) != 0 {
		t.Errorf("wrong answers in the paired rounds: %v", p.WrongAnswers)
	}
	if r := p.ratioOf("stru", pairBase, mixHit); r.N != rounds || !(r.Q1 <= r.Median && r.Median <= r.Q3) {
		t.Errorf("stru ÷ map on hits: %+v", r)
	}

	dir := filepath.Join(root, "random-5000")
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != len(held) {
		t.Errorf("held systems' directories: %v %v, want %d", entries, err, len(held))
	}
	for _, h := range held {
		h.release()
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("released systems' files left behind: %v %v", entries, err)
	}

	var md bytes.Buffer
	writeMarkdown(&md, &runFile{Command: "test", Results: results, Paired: []*pairedRun{p}})
	for _, want := range []string{"Paired rounds (stru, stru batch, Go map", "| hit | ", "| 5k random: hit ≤ 1.5× map (in cache) | paired "} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
}

// TestPairedCountsWrongAnswers holds a system that answers wrongly (the
// Go map with every 100th hit forgotten) in paired rounds: its timed
// windows' wrong answers must be counted, as the measurement's are.
func TestPairedCountsWrongAnswers(t *testing.T) {
	d, err := generate(kindRandom, smokeKeys, 5)
	if err != nil {
		t.Fatal(err)
	}
	r, h := measureHeld(wrongSystem(), d, t.TempDir(), measureOptions{Reps: 1, RepTime: time.Millisecond}, true)
	if h == nil {
		t.Fatalf("%s not held: %q", r.System, r.Error)
	}
	defer h.release()
	p := runPaired([]*heldSystem{h}, []*result{r}, d, pairOptions{Rounds: 2, Window: time.Millisecond})
	if p.WrongAnswers[r.System] == 0 {
		t.Errorf("no wrong answers counted in the paired rounds of %s: %v", r.System, p.WrongAnswers)
	}
}
