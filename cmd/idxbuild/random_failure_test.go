package main

// TestRandomFailures: random configurations of idxbuild, each with one
// fault or none, run end to end.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stru-index/stru/cmd/internal/clitest"
	"github.com/stru-index/stru/cmd/internal/keyio"
	"github.com/stru-index/stru/index"
)

var failureCases = clitest.NewRandomCases("failure", "TestRandomFailures", 100, 40)

// A fault is what goes wrong in a random case.
type fault int

const (
	noFault             fault = iota
	faultLongKey              // a key longer than index.MaxKeyLen at a random line of a random input
	faultMissingFile          // a FILE that does not exist, among valid ones
	faultDirFile              // a FILE that is a directory, among valid ones
	faultUnsorted             // --sorted input with a line that sorts before the line above it
	faultNoOutDir             // OUT's directory does not exist
	faultOutDirReadOnly       // OUT's directory cannot be written
	faultOutIsDir             // OUT is a directory
	faultNoTmpDir             // --tmp-dir names no file
	faultUsage                // a bad --seed, --load-factor, --filter-bits or --mem
	numFaults
)

var faultNames = [numFaults]string{"none", "key too long", "missing FILE", "FILE is a directory", "--sorted input out of order",
	"OUT's directory missing", "OUT's directory not writable", "OUT is a directory", "--tmp-dir missing", "usage error"}

func (f fault) String() string { return faultNames[f] }

// faultWeights draws the faults: those of the input, where most of the
// code runs before the failure, and successes more often than the rest.
var faultWeights = []fault{
	noFault, noFault, noFault, noFault,
	faultLongKey, faultLongKey, faultLongKey,
	faultMissingFile, faultDirFile,
	faultUnsorted, faultUnsorted, faultUnsorted,
	faultNoOutDir, faultOutDirReadOnly, faultOutIsDir, faultNoTmpDir,
	faultUsage, faultUsage,
}

// failureAlphabet holds the bytes of the random keys: the delimiters, the
// "\r" removed before a newline, a tab (which sorts before "\r"), a byte
// that is not UTF-8, and a few letters and digits.
const failureAlphabet = "\x00\n\r\t\xffabz09"

// An input is one FILE argument, or standard input.
type input struct {
	path    string   // the FILE argument: "-" for standard input
	keys    []string // its records in order, from the first line
	crlf    []bool   // newline mode: whether each record's line ends in "\r\n"
	noFinal bool     // the last record lacks its delimiter
	missing bool     // path names no file
	isDir   bool     // path is a directory
}

// display is the name idxbuild gives the input in messages.
func (in *input) display() string {
	if in.path == "-" {
		return stdinName
	}
	return in.path
}

// encode returns the input's contents as a file holds them.
func (in *input) encode(nul bool) string {
	return clitest.EncodeRecords(in.keys, in.crlf, nul, in.noFinal)
}

// A failureCase is a random run of idxbuild: its inputs, flags and fault.
type failureCase struct {
	fault   fault
	nul     bool     // -0
	inputs  []*input // the FILE arguments in order, or standard input alone
	noFiles bool     // no FILE argument: inputs is standard input alone
	flags   []string // every flag but -o and -0
	sorted  bool     // --sorted
	tmpDir  bool     // --tmp-dir, a directory of its own
	want    []string // the set of keys, for a build that succeeds
	records int      // the records read, duplicates included, for one that succeeds
	oldOut  bool     // OUT exists beforehand, a valid index

	// The fault's details: where it is, and what the message must say.
	at, prev      string // FILE:LINE of the long key or the line out of order; of the line above it
	longLen       int    // the long key's length
	usageFlag     string // the flag a usage error is about
	readOnlyProcs bool   // faultOutDirReadOnly in /proc, for root
}

// randomFailureKey returns a key of n bytes over failureAlphabet without
// delim.
func randomFailureKey(rng *rand.Rand, n int, delim byte) string {
	b := make([]byte, n)
	for i := range b {
		for b[i] = delim; b[i] == delim; {
			b[i] = failureAlphabet[rng.IntN(len(failureAlphabet))]
		}
	}
	return string(b)
}

// newFailureCase draws a case; inDir is where its FILEs go. With root
// set, an OUT directory without write permission would not fail: the case
// puts OUT in /proc instead, on Linux, and draws another fault elsewhere.
func newFailureCase(rng *rand.Rand, inDir string, root bool) *failureCase {
	c := &failureCase{fault: faultWeights[rng.IntN(len(faultWeights))]}
	if c.fault == faultOutDirReadOnly && root {
		if runtime.GOOS == "linux" {
			c.readOnlyProcs = true
		} else {
			c.fault = noFault
		}
	}
	c.nul = rng.IntN(3) == 0
	delim := byte('\n')
	if c.nul {
		delim = 0
	}
	c.sorted = c.fault == faultUnsorted || rng.IntN(3) == 0

	// The records: distinct keys, some repeated, sorted for --sorted.
	n := rng.IntN(60)
	if rng.IntN(5) == 0 {
		n = 2000 + rng.IntN(4000) // enough to spill with --mem 64KiB
	}
	seen := map[string]bool{}
	var records []string
	for i := range n {
		size := 1 + rng.IntN(12)
		switch {
		case rng.IntN(12) == 0:
			size = 0
		case i < 2 && rng.IntN(4) == 0:
			size = index.MaxKeyLen // the longest key, with its "\r" in CRLF lines
		}
		k := randomFailureKey(rng, size, delim)
		if !seen[k] {
			seen[k] = true
			c.want = append(c.want, k)
		}
		records = append(records, k)
	}
	for range rng.IntN(n/4 + 2) {
		if len(c.want) > 0 {
			records = append(records, c.want[rng.IntN(len(c.want))])
		}
	}
	slices.Sort(c.want)
	if c.sorted {
		slices.Sort(records)
	} else {
		rng.Shuffle(len(records), func(i, j int) { records[i], records[j] = records[j], records[i] })
	}
	c.records = len(records)

	// The inputs: standard input alone, or FILEs, one of which may be
	// standard input; each gets a run of the records, perhaps none.
	nIn := 1
	if rng.IntN(4) == 0 {
		c.noFiles = true
	} else {
		nIn = 1 + rng.IntN(4)
	}
	stdin := -1
	if c.noFiles {
		stdin = 0
	} else if rng.IntN(3) == 0 {
		stdin = rng.IntN(nIn)
	}
	cuts := []int{0, len(records)}
	for range nIn - 1 {
		cuts = append(cuts, rng.IntN(len(records)+1))
	}
	slices.Sort(cuts)
	style := rng.IntN(3) // line endings: LF, CRLF or mixed
	for i := range nIn {
		in := &input{path: filepath.Join(inDir, fmt.Sprintf("in%d", i)), keys: records[cuts[i]:cuts[i+1]], noFinal: rng.IntN(2) == 0}
		if i == stdin {
			in.path = "-"
		}
		c.inputs = append(c.inputs, in)
	}

	switch c.fault {
	case faultLongKey:
		// A key over the maximum, at a random line of a random input: just
		// over it, or past the Scanner's buffer, or at its edge.
		switch rng.IntN(4) {
		case 0:
			c.longLen = index.MaxKeyLen + 1
		case 1:
			c.longLen = index.MaxKeyLen + 1 + rng.IntN(1000)
		case 2:
			c.longLen = keyio.BufferSize - 2 + rng.IntN(5)
		default:
			c.longLen = index.MaxKeyLen + 1 + rng.IntN(2*keyio.BufferSize)
		}
		key := []byte(strings.Repeat("k", c.longLen))
		if c.nul && rng.IntN(2) == 0 {
			key[len(key)-1] = '\r' // part of the key with -0
		}
		in := c.inputs[rng.IntN(len(c.inputs))]
		line := rng.IntN(len(in.keys) + 1)
		in.keys = slices.Insert(slices.Clone(in.keys), line, string(key))
		c.at = fmt.Sprintf("%s:%d", in.display(), line+1)
	case faultMissingFile, faultDirFile:
		if c.noFiles {
			c.noFiles = false
			c.inputs[0].path = "-"
		}
		bad := &input{path: filepath.Join(inDir, "missing"), missing: true}
		if c.fault == faultDirFile {
			bad = &input{path: filepath.Join(inDir, "dir"), isDir: true}
		}
		c.inputs = slices.Insert(c.inputs, rng.IntN(len(c.inputs)+1), bad)
	case faultUnsorted:
		c.insertUnsorted(rng)
	}
	for _, in := range c.inputs {
		in.crlf = make([]bool, len(in.keys))
		for i, k := range in.keys {
			in.crlf[i] = !c.nul && (style == 1 || style == 2 && rng.IntN(2) == 0 || strings.HasSuffix(k, "\r"))
		}
	}

	// The flags, valid but for a usage error, which replaces its flag.
	var bad []string
	if c.fault == faultUsage {
		bad = c.badFlag(rng)
		c.flags = bad
	}
	valid := func(name string, values ...string) {
		if rng.IntN(2) == 0 && (bad == nil || bad[0] != name) {
			c.flags = append(c.flags, name, values[rng.IntN(len(values))])
		}
	}
	valid("--mem", "64KiB", "65536", "100KB", "0.0625MiB", "1MiB")
	valid("--seed", fmt.Sprintf("%016x%016X", rng.Uint64(), rng.Uint64()))
	valid("--load-factor", "0.05", "0.5", "0.95")
	valid("--filter-bits", "0", "1", "6", "64")
	if rng.IntN(2) == 0 || c.fault == faultNoTmpDir {
		c.tmpDir = true
	}
	if c.sorted {
		c.flags = append(c.flags, "--sorted")
	}
	if rng.IntN(4) == 0 {
		c.flags = append(c.flags, "-q")
	}
	c.oldOut = rng.IntN(2) == 0 && c.fault != faultNoOutDir && c.fault != faultOutIsDir && !c.readOnlyProcs
	return c
}

// insertUnsorted inserts, after a random nonempty record, a proper prefix
// of it, which sorts before it: the first line out of order.
func (c *failureCase) insertUnsorted(rng *rand.Rand) {
	type pos struct{ in, line int }
	var cands []pos
	for i, in := range c.inputs {
		for l, k := range in.keys {
			if k != "" {
				cands = append(cands, pos{i, l})
			}
		}
	}
	if len(cands) == 0 {
		in := c.inputs[rng.IntN(len(c.inputs))]
		in.keys = append(slices.Clone(in.keys), "b")
		c.insertUnsorted(rng)
		return
	}
	// Half the time the line above is last in its input, which the
	// error then names with the line out of order in another input.
	p := cands[rng.IntN(len(cands))]
	if rng.IntN(2) == 0 {
		var lasts []pos
		for _, q := range cands {
			if q.line == len(c.inputs[q.in].keys)-1 && q.in < len(c.inputs)-1 {
				lasts = append(lasts, q)
			}
		}
		if len(lasts) > 0 {
			p = lasts[rng.IntN(len(lasts))]
		}
	}
	before := c.inputs[p.in]
	prev := before.keys[p.line]
	c.prev = fmt.Sprintf("%s:%d", before.display(), p.line+1)
	// The line after it: in the same input, or first in a later one.
	in, line := p.in, p.line+1
	if line == len(before.keys) && in < len(c.inputs)-1 && rng.IntN(4) > 0 {
		in, line = in+1+rng.IntN(len(c.inputs)-1-in), 0
		for i := p.in + 1; i < in; i++ {
			c.inputs[i].keys = nil // so that the line above stays prev
		}
	}
	after := c.inputs[in]
	after.keys = slices.Insert(slices.Clone(after.keys), line, prev[:rng.IntN(len(prev))])
	c.at = fmt.Sprintf("%s:%d", after.display(), line+1)
}

// badFlag returns a flag and a value that is a usage error, and sets
// c.usageFlag.
func (c *failureCase) badFlag(rng *rand.Rand) []string {
	const hexDigits = "0123456789abcdefABCDEF"
	switch rng.IntN(4) {
	case 0:
		c.usageFlag = "--seed"
		b := make([]byte, 32)
		for i := range b {
			b[i] = hexDigits[rng.IntN(len(hexDigits))]
		}
		if rng.IntN(2) == 0 {
			b[rng.IntN(len(b))] = "gGxz -_.:"[rng.IntN(9)] // not hex
		} else if n := rng.IntN(41); n <= 32 {
			b = b[:n] // too short, or empty
			if n == 32 {
				b = b[:0]
			}
		} else {
			b = append(b, "0f1e2d3c"[:n-32]...) // too long
		}
		return []string{"--seed", string(b)}
	case 1:
		c.usageFlag = "-load-factor" // "--" or, from package flag, "-"
		v := []string{"0", "-0.5", "0.0499", "0.9501", "1", "2", "NaN", "Inf", "-Inf", "1e3", "high", ""}[rng.IntN(12)]
		if rng.IntN(2) == 0 {
			v = strconv.FormatFloat(rng.Float64()*0.05, 'g', -1, 64)
			if rng.IntN(2) == 0 {
				v = strconv.FormatFloat(0.95+(1-rng.Float64())*2, 'g', -1, 64)
			}
		}
		return []string{"--load-factor", v}
	case 2:
		c.usageFlag = "-filter-bits"
		v := []string{"-1", "65", "0x41", "1000", "6.5", "six", ""}[rng.IntN(7)]
		if rng.IntN(2) == 0 {
			v = strconv.Itoa(65 + rng.IntN(1000))
		}
		return []string{"--filter-bits", v}
	default:
		c.usageFlag = "--mem"
		v := []string{"0", "65535", "63KiB", "1KB", "-64KiB", "12XB", "1e9", "0x10000", "lots", "KiB", "99999999999GiB", ""}[rng.IntN(12)]
		if rng.IntN(2) == 0 {
			v = strconv.Itoa(rng.IntN(64 << 10))
		}
		return []string{"--mem", v}
	}
}

// TestRandomFailures runs idxbuild on -failure-n random configurations
// (newline or -0 input, LF, CRLF or mixed endings, standard input or
// several FILEs, --sorted with sorted input or not, a --mem that spills,
// --tmp-dir, --seed, --load-factor, --filter-bits, -q), each with one
// fault or none: a key over 65535 bytes at a random line of a random
// input, a FILE that is missing or a directory among valid ones, --sorted
// input out of order at a random line, OUT's directory missing or not
// writable, OUT a directory, --tmp-dir missing, or a usage error; half of
// them over an existing valid OUT. A failure must exit with the status the
// help gives, 1 or 2, print one line naming what the help promises
// (FILE:LINE of a long key or of the line out of order, and of the line
// above it), leave OUT as it was and leave no temporary file in OUT's
// directory or --tmp-dir; a success must write the index of the keys.
func TestRandomFailures(t *testing.T) {
	root := os.Geteuid() == 0
	if root {
		t.Logf("running as root, which can write a directory without write permission: cases of an unwritable OUT directory put OUT in /proc instead (on Linux; elsewhere they have no fault)")
	}

	// A valid index to stand as the previous OUT.
	oldOut := filepath.Join(t.TempDir(), "old.stru")
	if res := clitest.Run(t, strings.NewReader("old\nkeys\n"), idxbuild, "-q", "-o", oldOut); res.Code != 0 {
		t.Fatalf("building the old OUT: exit %d:\n%s", res.Code, res.Stderr)
	}
	old, err := os.ReadFile(oldOut)
	if err != nil {
		t.Fatal(err)
	}

	failureCases.Run(t, 0xfa11, func(t *testing.T, rng *rand.Rand) {
		testFailureCase(t, rng, old, root)
	})
}

// longKeyRE matches the error of a key too long.
var longKeyRE = regexp.MustCompile(`^idxbuild: (.*): key is (at least )?(\d+) bytes long, more than the maximum of (\d+)$`)

func testFailureCase(t *testing.T, rng *rand.Rand, old []byte, root bool) {
	inDir, outDir, tmp := t.TempDir(), t.TempDir(), t.TempDir()
	c := newFailureCase(rng, inDir, root)
	out := filepath.Join(outDir, "out.stru")

	// The files, the flags and the arguments, the flags in random order.
	stdin := ""
	var files []string
	for _, in := range c.inputs {
		switch {
		case in.path == "-":
			stdin = in.encode(c.nul)
		case in.isDir:
			if err := os.Mkdir(in.path, 0o755); err != nil {
				t.Fatal(err)
			}
		case !in.missing:
			writeFile(t, inDir, filepath.Base(in.path), in.encode(c.nul))
		}
		if !c.noFiles {
			files = append(files, in.path)
		}
	}
	if c.oldOut {
		if err := os.WriteFile(out, old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	switch c.fault {
	case faultNoOutDir:
		out = filepath.Join(outDir, "missing", "out.stru")
	case faultOutIsDir:
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
	case faultOutDirReadOnly:
		if c.readOnlyProcs {
			out = "/proc/out.stru"
			break
		}
		if err := os.Chmod(outDir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(outDir, 0o755) })
	case faultNoTmpDir:
		tmp = filepath.Join(tmp, "missing")
	}
	groups := [][]string{{"-o", out}}
	if c.nul {
		groups = append(groups, []string{"-0"})
	}
	if c.tmpDir {
		groups = append(groups, []string{"--tmp-dir", tmp})
	}
	for i := 0; i < len(c.flags); i++ {
		if strings.HasPrefix(c.flags[i], "--") && c.flags[i] != "--sorted" {
			groups = append(groups, c.flags[i:i+2])
			i++
		} else {
			groups = append(groups, c.flags[i:i+1])
		}
	}
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	args := slices.Concat(append(groups, files)...)
	t.Logf("fault %v, old OUT %v, %d keys, %d records, -0 %v, stdin only %v, args %q", c.fault, c.oldOut, len(c.want), c.records, c.nul, c.noFiles, shortArgs(args, inDir))

	outNames := dirNames(t, outDir)
	res := clitest.Run(t, strings.NewReader(stdin), idxbuild, args...)
	if res.Stdout != "" {
		t.Errorf("stdout: %q", res.Stdout)
	}

	// Nothing left behind: OUT's directory holds OUT (or the directory
	// OUT names) if it did before, and --tmp-dir nothing.
	defer func() {
		if c.readOnlyProcs {
			return // nothing is written to /proc
		}
		if names := dirNames(t, outDir); !slices.Equal(names, outNames) && (c.fault != noFault || !slices.Equal(names, []string{"out.stru"})) {
			t.Errorf("OUT's directory holds %q, held %q before", names, outNames)
		}
		if c.tmpDir && c.fault != faultNoTmpDir {
			if names := dirNames(t, tmp); len(names) != 0 {
				t.Errorf("--tmp-dir holds %q", names)
			}
		}
	}()

	if c.fault == noFault {
		if res.Code != 0 {
			t.Fatalf("exit %d, want 0; stderr:\n%s", res.Code, res.Stderr)
		}
		if slices.Contains(c.flags, "-q") {
			if res.Stderr != "" {
				t.Errorf("-q, stderr: %q", res.Stderr)
			}
		} else if keys, dups, _, _ := parseSummary(t, res.Stderr, out); keys != int64(len(c.want)) || dups != int64(c.records-len(c.want)) {
			t.Errorf("summary says %d keys, %d duplicates; want %d, %d", keys, dups, len(c.want), c.records-len(c.want))
		}
		if got := readIndex(t, out); !slices.Equal(got, c.want) {
			t.Errorf("the index holds %d keys, want %d", len(got), len(c.want))
		}
		return
	}

	wantCode := 1
	if c.fault == faultUsage {
		wantCode = 2
	}
	if res.Code != wantCode {
		t.Errorf("exit %d, want %d", res.Code, wantCode)
	}
	line := clitest.OneLineError(t, res.Stderr, "idxbuild: ")
	if len(line) > 1000 {
		t.Errorf("the error line is %d bytes long: %.200q...", len(line), line)
	}
	switch c.fault {
	case faultLongKey:
		m := longKeyRE.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("error %q is not that of a key too long", line)
			break
		}
		size, _ := strconv.Atoi(m[3])
		switch {
		case m[1] != c.at:
			t.Errorf("error %q names %s, want %s", line, m[1], c.at)
		case m[2] == "" && size != c.longLen, m[2] != "" && c.longLen < size:
			t.Errorf("error %q: the key is %d bytes long", line, c.longLen)
		case m[4] != strconv.Itoa(index.MaxKeyLen):
			t.Errorf("error %q: the maximum is %d", line, index.MaxKeyLen)
		}
	case faultMissingFile:
		wantSubstrings(t, line, filepath.Join(inDir, "missing"), "no such file or directory")
	case faultDirFile:
		wantSubstrings(t, line, filepath.Join(inDir, "dir"), "is a directory")
	case faultUnsorted:
		if !strings.HasPrefix(line, "idxbuild: "+c.at+": the input is not sorted: ") {
			t.Errorf("error %q does not start with %s and say the input is not sorted", line, c.at)
		}
		wantSubstrings(t, line, "the line before it ("+c.prev+")")
	case faultNoOutDir:
		wantSubstrings(t, line, "writing "+out+": ", "no such file or directory")
	case faultOutDirReadOnly:
		wantSubstrings(t, line, filepath.Dir(out))
		if !c.readOnlyProcs {
			wantSubstrings(t, line, "permission denied")
		}
	case faultOutIsDir:
		wantSubstrings(t, line, "writing "+out+": it is a directory")
	case faultNoTmpDir:
		wantSubstrings(t, line, "--tmp-dir", tmp)
	case faultUsage:
		wantSubstrings(t, line, c.usageFlag)
		if !strings.HasSuffix(line, " (run 'idxbuild -h' for help)") {
			t.Errorf("usage error %q does not point to -h", line)
		}
	}

	// OUT as it was.
	data, err := os.ReadFile(out)
	switch {
	case c.fault == faultOutIsDir:
		if names := dirNames(t, out); len(names) != 0 {
			t.Errorf("the directory OUT names holds %q", names)
		}
	case c.oldOut && !bytes.Equal(data, old):
		t.Errorf("OUT changed: %d bytes (%v), was %d", len(data), err, len(old))
	case !c.oldOut && !os.IsNotExist(err):
		t.Errorf("OUT exists after a failed build (%v)", err)
	}
}

// wantSubstrings checks that line holds each of subs.
func wantSubstrings(t *testing.T, line string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(line, s) {
			t.Errorf("error %q does not say %q", line, s)
		}
	}
}

// shortArgs returns args for the log: paths in inDir by their base names,
// and values longer than 40 bytes shortened.
func shortArgs(args []string, inDir string) []string {
	var short []string
	for _, a := range args {
		a = strings.TrimPrefix(a, inDir+string(filepath.Separator))
		if len(a) > 40 {
			a = a[:40] + "..."
		}
		short = append(short, a)
	}
	return short
}
