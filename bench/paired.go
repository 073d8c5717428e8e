package main

// Paired rounds: stru, stru batch and the Go map answering the same queries
// in alternating windows, so that their ratios are taken under the same
// conditions.
//
// measure times each system on its own, one after the other, minutes apart
// at 10 million keys. On a machine shared with other work, what the other
// tenants do to the memory system changes in the meantime, and a ratio of
// two such medians moves with it: the Go map's hit at 100 thousand keys took
// 53 ns in one run of the suite and 130 to 351 ns in three others. In
// paired rounds the systems are open at once; each round runs one window of
// the same queries on each of them, back to back, and a ratio is taken
// within each round. The median of those ratios, with its quartiles, is
// the figure reported.

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// pairSystems are the systems measured in paired rounds: the ones issue 5's
// ratio targets compare. pairBase is the one ratios are taken to.
var pairSystems = []string{"stru", "stru batch", "Go map"}

const pairBase = "Go map"

// pairMixes are the query mixes of the paired rounds: those the targets name.
var pairMixes = []string{mixHit, mixMiss, mixMixed}

// A heldSystem is a system left open after its measurement, for the paired
// rounds.
type heldSystem struct {
	name    string
	w       worker
	release func() // releases the worker, closes the set, removes the files
}

// A pairedRun is the paired rounds on one dataset.
type pairedRun struct {
	Dataset string   `json:"dataset"`
	Keys    int      `json:"keys"`
	Systems []string `json:"systems"` // in the order of the first round
	Rounds  int      `json:"rounds"`
	Ops     int      `json:"lookup_ops_per_window"`
	// NsSamples is, per system and mix, the CPU time per lookup of each
	// round's window, in round order: NsSamples[s][mix][r] and
	// NsSamples[t][mix][r] answered the same queries, one after the other.
	NsSamples map[string]map[string][]float64 `json:"ns_per_lookup_samples"`
	// WrongAnswers counts, per system, the answers of its timed windows
	// that were wrong (every paired system is exact); none is listed when
	// all were right.
	WrongAnswers map[string]int `json:"wrong_answers,omitempty"`
}

// pairOptions set the effort of the paired rounds.
type pairOptions struct {
	Rounds int           // 0: no paired rounds
	Window time.Duration // the aim for the slowest system's window
}

// runPaired runs opts.Rounds rounds over the held systems. Each round runs,
// for each mix, one timed window of the same ops queries on every system,
// each after an untimed window of other queries on the same system; the
// order of the systems rotates from round to round, so that none always
// follows the same one. ops is set from the slowest system's median in
// results for d, so that its window lasts about opts.Window.
func runPaired(held []*heldSystem, results []*result, d *dataset, opts pairOptions) *pairedRun {
	p := &pairedRun{Dataset: d.Kind, Keys: len(d.Keys), Rounds: opts.Rounds, NsSamples: map[string]map[string][]float64{}}
	slowest := 1.0
	for _, r := range results {
		if r.Dataset != d.Kind || r.Keys != len(d.Keys) {
			continue // another set measured in the same run
		}
		if slices.ContainsFunc(held, func(h *heldSystem) bool { return h.name == r.System }) {
			for _, mix := range pairMixes {
				slowest = max(slowest, r.NsPerLookup[mix])
			}
		}
	}
	n := len(d.Mixed)
	p.Ops = max(min(int(float64(opts.Window.Nanoseconds())/slowest), n), min(4096, n))
	for _, h := range held {
		p.Systems = append(p.Systems, h.name)
		p.NsSamples[h.name] = map[string][]float64{}
		for _, mix := range pairMixes { // one unmeasured window each
			window(h.w, d.queries(mix), 0, p.Ops)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for round := range opts.Rounds {
		for mi, mix := range pairMixes {
			qs := d.queries(mix)
			start := (round*p.Ops + mi*len(qs)/len(pairMixes)) % max(1, len(qs))
			// The warm-up window asks other queries of the same set (the
			// whole set, if a window is as long), so that each system's
			// timed window finds its memory as its own measurement did, not
			// as the system before it left the caches and the TLB.
			warm := (start + len(qs)/2) % max(1, len(qs))
			for k := range held {
				h := held[(round+k)%len(held)]
				window(h.w, qs, warm, p.Ops)
				cpu0 := threadCPU()
				found := window(h.w, qs, start, p.Ops)
				ns := float64((threadCPU() - cpu0).Nanoseconds()) / float64(p.Ops)
				p.NsSamples[h.name][mix] = append(p.NsSamples[h.name][mix], ns)
				if wrong := wrongIn(true, d, mix, start, p.Ops, found); wrong > 0 { // every paired system is exact
					if p.WrongAnswers == nil {
						p.WrongAnswers = map[string]int{}
					}
					p.WrongAnswers[h.name] += wrong
				}
			}
		}
	}
	return p
}

// pairRatio is the distribution over the rounds of a ratio of two systems'
// times on one mix.
type pairRatio struct {
	Median, Q1, Q3 float64 // quartiles by quantile (linear interpolation)
	N              int     // rounds
}

// ratioOf returns the distribution of num's time over den's, round by
// round, on mix; N is 0 if p is nil or either system is missing from it.
func (p *pairedRun) ratioOf(num, den, mix string) pairRatio {
	if p == nil {
		return pairRatio{}
	}
	a, b := p.NsSamples[num][mix], p.NsSamples[den][mix]
	if len(a) == 0 || len(a) != len(b) {
		return pairRatio{}
	}
	rs := make([]float64, len(a))
	for i := range a {
		rs[i] = a[i] / b[i]
	}
	slices.Sort(rs)
	return pairRatio{Median: quantile(rs, 0.5), Q1: quantile(rs, 0.25), Q3: quantile(rs, 0.75), N: len(rs)}
}

// medianNs returns the median of system's times on mix.
func (p *pairedRun) medianNs(system, mix string) float64 {
	return median(p.NsSamples[system][mix])
}

// quantile returns the q-quantile of the sorted xs, interpolating linearly
// between the two nearest ranks (R's type 7, numpy's default).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(i)
	return sorted[i] + frac*(sorted[i+1]-sorted[i])
}

// findPaired returns the paired rounds on dataset kind at keys, or nil.
func findPaired(ps []*pairedRun, kind string, keys int) *pairedRun {
	for _, p := range ps {
		if p.Dataset == kind && p.Keys == keys {
			return p
		}
	}
	return nil
}

// String formats r as "1.32× (quartiles 1.25–1.40)".
func (r pairRatio) String() string {
	if r.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f× (quartiles %.2f–%.2f)", r.Median, r.Q1, r.Q3)
}

// writePaired writes p's table: each system's median time per mix, and the
// ratios the targets name, as distributions over the rounds.
func writePaired(w io.Writer, p *pairedRun) {
	fmt.Fprintf(w, "Paired rounds (%s in alternating windows of %d lookups of the same queries; %d rounds; ns per lookup: medians over the rounds; ratios taken within each round, then their median and quartiles):\n\n",
		strings.Join(p.Systems, ", "), p.Ops, p.Rounds)
	fmt.Fprintln(w, "| mix | stru ns | stru batch ns | Go map ns | stru ÷ map | map ÷ stru batch (the batch's speed-up over the map) | stru ÷ stru batch (over single Contains) |")
	fmt.Fprintln(w, "|---|--:|--:|--:|---|---|---|")
	for _, mix := range pairMixes {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", mix,
			nsOrDash(p.medianNs("stru", mix)), nsOrDash(p.medianNs("stru batch", mix)), nsOrDash(p.medianNs(pairBase, mix)),
			p.ratioOf("stru", pairBase, mix), p.ratioOf(pairBase, "stru batch", mix), p.ratioOf("stru", "stru batch", mix))
	}
	fmt.Fprintln(w)
}

func nsOrDash(ns float64) string {
	if ns == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f", ns)
}
