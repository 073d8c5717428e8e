package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stru-index/stru/cmd/internal/clitest"
)

var randomCases = clitest.NewRandomCases("random", "TestRandomRoundTrip", 30, 8)

// randomAlphabet holds the bytes random keys are made of: the delimiters
// and the "\r" idxbuild and idxquery treat specially, a tab (which sorts
// before "\r"), bytes that are not UTF-8, and two letters.
const randomAlphabet = "\x00\n\r\t\x80\xffab"

// randomKey returns a key over randomAlphabet, mostly short, so that keys
// share prefixes and differ by a byte, sometimes up to 300 bytes long and
// sometimes 255 or 256 bytes long, either side of a one-byte length.
func randomKey(rng *rand.Rand) string {
	var n int
	switch r := rng.IntN(20); {
	case r < 2:
		n = 0
	case r < 14:
		n = 1 + rng.IntN(6)
	case r < 17:
		n = rng.IntN(301)
	default:
		n = 255 + rng.IntN(2)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = randomAlphabet[rng.IntN(len(randomAlphabet))]
	}
	return string(b)
}

// A randomCase is a key set and how it is given to idxbuild.
type randomCase struct {
	set     []string // the distinct keys, sorted
	nul     bool     // -0
	crlf    []bool   // newline mode: whether each record ends in "\r\n"
	records []string // the keys in input order, with duplicates
	files   int      // how many FILEs the records are split into; 0 for stdin
	noFinal []bool   // whether each input's last record lacks its delimiter
	sorted  bool     // --sorted
	mem     string   // --mem, or ""
	seed    string   // --seed, or ""
	quiet   bool     // -q
}

// newRandomCase draws a key set and an input mode that can carry it, as
// the usage text documents: newline mode needs keys without "\n", and a
// key ending in "\r" survives there only on a line ending in "\r\n" (one
// "\r" before the newline is removed); -0 needs keys without NUL.
func newRandomCase(rng *rand.Rand) *randomCase {
	n := rng.IntN(40)
	switch rng.IntN(10) {
	case 0:
		n = 0
	case 1:
		n = 500 + rng.IntN(3000) // enough to spill with --mem 64KiB
	}
	seen := map[string]bool{}
	for range n {
		seen[randomKey(rng)] = true
	}
	hasNL, hasNUL := false, false
	for k := range seen {
		hasNL = hasNL || strings.Contains(k, "\n")
		hasNUL = hasNUL || strings.Contains(k, "\x00")
	}
	c := &randomCase{}
	// Most sets drawn hold both a "\n" and a NUL: a third of the time the
	// mode follows the set, else it is drawn and the keys it cannot carry
	// are dropped.
	drop := ""
	switch mode := rng.IntN(3); {
	case mode == 1:
		drop = "\n"
	case mode == 2:
		drop, c.nul = "\x00", true
	case hasNL:
		drop, c.nul = "\x00", true
	case hasNUL:
	default:
		c.nul = rng.IntN(3) == 0
	}
	for k := range seen {
		if drop != "" && strings.Contains(k, drop) {
			delete(seen, k)
		}
	}
	for k := range seen {
		c.set = append(c.set, k)
	}
	slices.Sort(c.set)

	// The records: every key once, some more than once.
	c.records = slices.Clone(c.set)
	if len(c.set) > 0 {
		for range rng.IntN(len(c.set)/2 + 3) {
			c.records = append(c.records, c.set[rng.IntN(len(c.set))])
		}
	}
	c.sorted = rng.IntN(3) == 0
	if c.sorted {
		slices.Sort(c.records) // by key, as the usage text asks, not by line
	} else {
		rng.Shuffle(len(c.records), func(i, j int) { c.records[i], c.records[j] = c.records[j], c.records[i] })
	}
	// Line endings: all LF, all CRLF or mixed; a key ending in "\r" needs
	// a CRLF ending.
	if !c.nul {
		style := rng.IntN(3)
		c.crlf = make([]bool, len(c.records))
		for i, k := range c.records {
			c.crlf[i] = style == 1 || style == 2 && rng.IntN(2) == 0 || strings.HasSuffix(k, "\r")
		}
	}
	if rng.IntN(3) == 0 && len(c.records) > 1 {
		c.files = 1 + rng.IntN(3)
	}
	c.noFinal = make([]bool, max(c.files, 1))
	for i := range c.noFinal {
		c.noFinal[i] = rng.IntN(2) == 0
	}
	if rng.IntN(3) == 0 {
		c.mem = []string{"64KiB", "65536", "100KB"}[rng.IntN(3)]
	}
	if rng.IntN(2) == 0 {
		c.seed = fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
	}
	c.quiet = rng.IntN(4) == 0
	return c
}

// inputs returns the contents of the inputs: the records split into
// c.files parts (one for stdin), each ending with its delimiter or not.
func (c *randomCase) inputs() []string {
	parts := max(c.files, 1)
	var out []string
	for p := range parts {
		lo, hi := p*len(c.records)/parts, (p+1)*len(c.records)/parts
		crlf := c.crlf // nil with -0
		if crlf != nil {
			crlf = crlf[lo:hi]
		}
		out = append(out, clitest.EncodeRecords(c.records[lo:hi], crlf, c.nul, c.noFinal[p]))
	}
	return out
}

// build runs idxbuild on the case's inputs with the given extra flags and
// returns the file written.
func (c *randomCase) build(t *testing.T, dir, name string, inputs []string, extra ...string) string {
	t.Helper()
	out := filepath.Join(dir, name+".stru")
	args := []string{"-o", out}
	if c.nul {
		args = append(args, "-0")
	}
	if c.quiet {
		args = append(args, "-q")
	}
	args = append(args, extra...)
	stdin := ""
	if c.files == 0 {
		stdin = inputs[0]
	} else {
		for i, data := range inputs {
			in := filepath.Join(dir, fmt.Sprintf("%s-%d.txt", name, i))
			if err := os.WriteFile(in, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, in)
		}
	}
	res := clitest.Run(t, strings.NewReader(stdin), idxbuild, args...)
	if res.Code != 0 {
		t.Fatalf("idxbuild %q: exit %d:\n%s", args, res.Code, res.Stderr)
	}
	if c.quiet {
		if res.Stderr != "" {
			t.Errorf("idxbuild -q wrote to stderr:\n%s", res.Stderr)
		}
	} else {
		m := regexp.MustCompile(`^idxbuild: wrote .*: (\d+) keys \((\d+) duplicates dropped\), `).FindStringSubmatch(res.Stderr)
		if m == nil {
			t.Fatalf("idxbuild: no summary:\n%s", res.Stderr)
		}
		keys, _ := strconv.Atoi(m[1])
		dups, _ := strconv.Atoi(m[2])
		if keys != len(c.set) || dups != len(c.records)-len(c.set) {
			t.Errorf("summary says %d keys, %d duplicates; want %d, %d", keys, dups, len(c.set), len(c.records)-len(c.set))
		}
	}
	return out
}

// nonMembers returns keys that are not in set: random ones, and members
// one byte longer or shorter.
func nonMembers(rng *rand.Rand, set []string, in map[string]bool) []string {
	var keys []string
	add := func(k string) {
		if !in[k] && len(keys) < 60 {
			keys = append(keys, k)
		}
	}
	for range 20 {
		add(randomKey(rng))
	}
	for range min(len(set), 20) {
		k := set[rng.IntN(len(set))]
		add(k + string(randomAlphabet[rng.IntN(len(randomAlphabet))]))
		if k != "" {
			add(k[:len(k)-1])
			add(k[1:])
		}
	}
	if !in[""] {
		add("")
	}
	return keys
}

// TestRandomRoundTrip builds random key sets over an alphabet of the
// bytes the input rules treat specially, in random documented input modes
// (newline or -0, LF, CRLF or mixed endings, with or without a final
// delimiter, duplicates, stdin or several FILEs, --sorted, a small --mem
// that spills, --seed), and checks what idxquery answers against the set:
// queries of members and non-members as arguments and on standard input
// (newline and -0, plain, --present and --absent) print the right records
// and exit status, --list and --list --prefix print the sorted (filtered)
// set, --info --json counts the keys and --verify passes. With --seed, a
// second build from the keys reshuffled, with other duplicates, line
// endings and flags, must give the same bytes.
func TestRandomRoundTrip(t *testing.T) {
	randomCases.Run(t, 0x5eed, testRandomCase)
}

func testRandomCase(t *testing.T, rng *rand.Rand) {
	c := newRandomCase(rng)
	dir := t.TempDir()
	var extra []string
	if c.sorted {
		extra = append(extra, "--sorted")
	}
	if c.mem != "" {
		extra = append(extra, "--mem", c.mem)
	}
	if c.seed != "" {
		extra = append(extra, "--seed", c.seed)
	}
	t.Logf("%d keys, %d records, -0 %v, files %d, no final delimiter %v, flags %q",
		len(c.set), len(c.records), c.nul, c.files, c.noFinal, extra)
	file := c.build(t, dir, "a", c.inputs(), extra...)

	in := make(map[string]bool, len(c.set))
	for _, k := range c.set {
		in[k] = true
	}
	// The keys to query: members and non-members, shuffled.
	var members []string
	for range min(len(c.set), 60) {
		members = append(members, c.set[rng.IntN(len(c.set))])
	}
	queries := append(members, nonMembers(rng, c.set, in)...)
	rng.Shuffle(len(queries), func(i, j int) { queries[i], queries[j] = queries[j], queries[i] })
	if rng.IntN(4) == 0 {
		queries = queries[:rng.IntN(len(queries)+1)]
	}

	// expect returns the output and exit status of a query of keys.
	expect := func(keys []string, filter, term string) (string, int) {
		var b strings.Builder
		code := 0
		for _, k := range keys {
			if !in[k] {
				code = 1
			}
			switch {
			case filter == "--present" && !in[k], filter == "--absent" && in[k]:
				continue
			case filter == "" && in[k]:
				b.WriteString("present\t")
			case filter == "":
				b.WriteString("absent\t")
			}
			b.WriteString(k + term)
		}
		return b.String(), code
	}
	check := func(what, stdin string, args []string, want string, wantCode int) {
		t.Helper()
		res := runQuery(t, stdin, args...)
		if res.Code != wantCode || res.Stdout != want {
			t.Errorf("%s: idxquery %q: exit %d, want %d; output:\n%q\nwant:\n%q", what, args, res.Code, wantCode, res.Stdout, want)
		}
	}
	filter := func() []string {
		return [][]string{nil, {"--present"}, {"--absent"}}[rng.IntN(3)]
	}
	flagOf := func(f []string) string {
		if f == nil {
			return ""
		}
		return f[0]
	}

	// KEY arguments, which cannot hold a NUL.
	var argKeys []string
	for _, k := range queries {
		if !strings.Contains(k, "\x00") {
			argKeys = append(argKeys, k)
		}
	}
	for _, nul := range []bool{false, true} {
		f := filter()
		args := slices.Clone(f)
		term := "\n"
		if nul {
			args, term = append(args, "-0"), "\x00"
		}
		want, code := expect(argKeys, flagOf(f), term)
		check("KEY arguments", "", append(append(args, file), argKeys...), want, code)
	}

	// Standard input, newline mode: keys without "\n", lines ending in LF
	// or CRLF ("\r\n" for a key ending in "\r"), the last one perhaps
	// unterminated.
	var nlKeys []string
	for _, k := range queries {
		if !strings.Contains(k, "\n") {
			nlKeys = append(nlKeys, k)
		}
	}
	var stdin strings.Builder
	for i, k := range nlKeys {
		stdin.WriteString(k)
		crlf := strings.HasSuffix(k, "\r") || rng.IntN(2) == 0
		switch {
		case i == len(nlKeys)-1 && k != "" && !crlf && rng.IntN(2) == 0:
		case crlf:
			stdin.WriteString("\r\n")
		default:
			stdin.WriteString("\n")
		}
	}
	f := filter()
	want, code := expect(nlKeys, flagOf(f), "\n")
	check("stdin", stdin.String(), append(f, file), want, code)

	// Standard input, -0: keys without NUL.
	var nulKeys []string
	for _, k := range queries {
		if !strings.Contains(k, "\x00") {
			nulKeys = append(nulKeys, k)
		}
	}
	stdin.Reset()
	for i, k := range nulKeys {
		stdin.WriteString(k)
		if i < len(nulKeys)-1 || k == "" || rng.IntN(2) == 0 {
			stdin.WriteByte(0)
		}
	}
	f = filter()
	want, code = expect(nulKeys, flagOf(f), "\x00")
	check("stdin -0", stdin.String(), append(append([]string{"-0"}, f...), file), want, code)

	// --list, with -0 when a key holds a newline or, at random, when none
	// holds a NUL; --prefix with prefixes of members, other random keys
	// and the empty prefix.
	listTerm := func() (args []string, term string) {
		if c.nul && (slices.ContainsFunc(c.set, func(k string) bool { return strings.Contains(k, "\n") }) || rng.IntN(2) == 0) {
			return []string{"-0"}, "\x00"
		}
		return nil, "\n"
	}
	args, term := listTerm()
	check("--list", "", append(append([]string{"--list"}, args...), file), lines(c.set, term), 0)
	var prefixes []string
	for range 4 {
		p := randomKey(rng)
		if len(c.set) > 0 && rng.IntN(3) > 0 {
			k := c.set[rng.IntN(len(c.set))]
			p = k[:rng.IntN(len(k)+1)]
		}
		if rng.IntN(8) == 0 {
			p = ""
		}
		if !strings.Contains(p, "\x00") {
			prefixes = append(prefixes, p)
		}
	}
	for _, p := range prefixes {
		var want []string
		for _, k := range c.set {
			if strings.HasPrefix(k, p) {
				want = append(want, k)
			}
		}
		args, term := listTerm()
		check(fmt.Sprintf("--list --prefix %q", p), "", append(append([]string{"--list", "--prefix", p}, args...), file), lines(want, term), 0)
	}

	// --info --json and --verify.
	res := runQuery(t, "", "--info", "--json", file)
	if res.Code != 0 {
		t.Errorf("--info --json: exit %d", res.Code)
	} else if info := parseInfo(t, res.Stdout); info.Keys != uint64(len(c.set)) {
		t.Errorf("--info --json: keys %d, want %d", info.Keys, len(c.set))
	}
	check("--verify", "", []string{"--verify", file}, file+": ok\n", 0)

	// The same seed from the keys in another order, with other duplicates,
	// line endings and flags: the same bytes.
	if c.seed == "" {
		return
	}
	c2 := *c
	c2.records = slices.Clone(c.set)
	if len(c.set) > 0 {
		for range rng.IntN(len(c.set) + 1) {
			c2.records = append(c2.records, c.set[rng.IntN(len(c.set))])
		}
	}
	c2.sorted = rng.IntN(3) == 0
	if c2.sorted {
		slices.Sort(c2.records)
	} else {
		rng.Shuffle(len(c2.records), func(i, j int) { c2.records[i], c2.records[j] = c2.records[j], c2.records[i] })
	}
	if !c.nul {
		c2.crlf = make([]bool, len(c2.records))
		for i, k := range c2.records {
			c2.crlf[i] = strings.HasSuffix(k, "\r") || rng.IntN(2) == 0
		}
	}
	c2.files = 0
	if rng.IntN(2) == 0 && len(c2.records) > 1 {
		c2.files = 1 + rng.IntN(3)
	}
	c2.noFinal = make([]bool, max(c2.files, 1))
	for i := range c2.noFinal {
		c2.noFinal[i] = rng.IntN(2) == 0
	}
	extra = []string{"--seed", c.seed}
	if c2.sorted {
		extra = append(extra, "--sorted")
	}
	if rng.IntN(2) == 0 {
		extra = append(extra, "--mem", "64KiB")
	}
	file2 := c2.build(t, dir, "b", c2.inputs(), extra...)
	a, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("--seed %s: the build from reordered input (flags %q, %d FILEs) differs: %d bytes, the first %d", c.seed, extra, c2.files, len(b), len(a))
	}
}
