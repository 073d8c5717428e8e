package main

// The block of stru's README.md that is generated from a committed result
// file (issue 5, section 1: the README's performance section comes from a
// result file, with the exact command and machine description).

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// readmeSource is the result file the README's block is generated from,
// relative to the repository root; readmeBegin and readmeEnd are the
// lines around the block.
const (
	readmeSource = "bench/results/suite-random-v3-s21.json"
	readmeBegin  = "<!-- begin: generated from " + readmeSource + " by `cd bench && go run . readme`; do not edit -->"
	readmeEnd    = "<!-- end: generated from " + readmeSource + " -->"
)

// readmeMain rewrites the generated block of README.md from the result file.
func readmeMain(args []string) int {
	fs := flag.NewFlagSet("bench readme", flag.ExitOnError)
	root := fs.String("root", "..", "the stru repository's root directory")
	fs.Parse(args)
	if err := updateReadme(*root); err != nil {
		fmt.Fprintln(os.Stderr, "bench readme:", err)
		return 1
	}
	return 0
}

// updateReadme rewrites root/README.md's generated block from
// root/readmeSource.
func updateReadme(root string) error {
	readmePath := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		return err
	}
	out, err := renderReadme(root, readme)
	if err != nil {
		return err
	}
	return os.WriteFile(readmePath, out, 0o644)
}

// renderReadme returns readme with its generated block made afresh from
// root/readmeSource.
func renderReadme(root string, readme []byte) ([]byte, error) {
	run, err := readRun(filepath.Join(root, readmeSource))
	if err != nil {
		return nil, err
	}
	var block bytes.Buffer
	writeReadmeBlock(&block, run, readmeSource)
	return replaceBlock(readme, readmeBegin, readmeEnd, block.Bytes())
}

// replaceBlock replaces the lines strictly between the line begin and the
// line end of doc with block.
func replaceBlock(doc []byte, begin, end string, block []byte) ([]byte, error) {
	i := bytes.Index(doc, []byte(begin+"\n"))
	if i < 0 {
		return nil, fmt.Errorf("README.md has no line %q", begin)
	}
	start := i + len(begin) + 1
	j := bytes.Index(doc[start:], []byte(end+"\n"))
	if j < 0 {
		return nil, errors.New("README.md has no line " + end + " after " + begin)
	}
	var out bytes.Buffer
	out.Write(doc[:start])
	out.Write(block)
	out.Write(doc[start+j:])
	return out.Bytes(), nil
}

// writeReadmeBlock writes the README's summary of run: its command and
// machine, the targets table, and the table of the largest random set.
func writeReadmeBlock(w io.Writer, run *runFile, source string) {
	m := run.Machine
	report := strings.TrimSuffix(source, ".json") + ".md"
	fmt.Fprintf(w, "From one run of the comparison suite, [%s](%s), which has every size and column. Command, in `bench/`: `%s`.\n",
		report, report, run.Command)
	fmt.Fprintf(w, "Machine: %d CPUs, %s, %s memory, %s, Linux %s; load average %s at the start, %s at the end; started %s.\n\n",
		m.CPUs, m.CPUModel, m.MemTotal, m.GoVersion, m.Kernel, m.LoadStart, m.LoadEnd, run.Started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintln(w, "Targets of issue 5, section 2, in this run:")
	fmt.Fprintln(w)
	writeTargetTable(w, run.Results, run.Paired)
	groups := groupResults(run.Results)
	if len(groups) == 0 {
		return
	}
	g := groups[len(groups)-1]
	first := g[0]
	base := find(g, "Go map")
	fmt.Fprintf(w, "%s keys, %s (%.1f bytes per key on average); ns per lookup, CPU time, median of %d repetitions:\n\n",
		count(first.Keys), first.Dataset, float64(first.KeyBytes)/float64(max(1, first.Keys)), run.Reps)
	fmt.Fprintln(w, "| system | file B/key beyond keys | open | heap after open MiB | hit ns | miss ns | mixed ns | hit × map | miss × map |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range g {
		if r.Error != "" {
			fmt.Fprintf(w, "| %s | error: %s |||||||| \n", r.System, r.Error)
			continue
		}
		fmt.Fprintf(w, "| %s | %.1f | %s | %.1f | %.0f | %.0f | %.0f | %s | %s |\n",
			systemLabel(r), r.FileOverheadPerKey, duration(r.OpenMedian), mib(r.HeapBytes),
			r.NsPerLookup[mixHit], r.NsPerLookup[mixMiss], r.NsPerLookup[mixMixed],
			ratio(r, base, mixHit), ratio(r, base, mixMiss))
	}
	fmt.Fprintln(w)
	if p := findPaired(run.Paired, first.Dataset, first.Keys); p != nil {
		writePaired(w, p)
	}
}
