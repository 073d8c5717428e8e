package main

// End-to-end tests: TestMain builds the real idxbuild binary, and each test
// runs it on real files and reads what it wrote with package reader.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/cmd/internal/clitest"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// idxbuild is the path of the binary under test, idxquery that of the
// reader the crash tests run while idxbuild replaces its file, and keygen
// that of the key generator format.md §10.6 uses.
var idxbuild, idxquery, keygen string

func TestMain(m *testing.M) {
	dir, err := clitest.Build("github.com/stru-index/stru/cmd/idxbuild", "github.com/stru-index/stru/cmd/idxquery",
		"github.com/stru-index/stru/builder/internal/keygen")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	idxbuild, idxquery, keygen = filepath.Join(dir, "idxbuild"), filepath.Join(dir, "idxquery"), filepath.Join(dir, "keygen")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const wordsFile = "../../testdata/words.txt"

// words returns the lines of testdata/words.txt.
func words(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(wordsFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// readIndex opens the index at path, verifies it fully and returns its
// keys in file order.
func readIndex(t *testing.T, path string) []string {
	t.Helper()
	r, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var keys []string
	for k := range r.All() {
		keys = append(keys, string(k))
	}
	return keys
}

// set returns the distinct keys in ascending byte order.
func set(keys ...string) []string {
	s := slices.Clone(keys)
	slices.Sort(s)
	return slices.Compact(s)
}

// writeFile writes data to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var summaryRE = regexp.MustCompile(`^idxbuild: wrote (.+): (\d+) keys \((\d+) duplicates dropped\), (\d+) bytes, (\d+\.\d) bytes/key overhead, \d+\.\d\d s\n$`)

// parseSummary checks that stderr is exactly the summary line and returns
// its numbers: keys, duplicates, bytes.
func parseSummary(t *testing.T, stderr, out string) (keys, dups, size int64, overhead float64) {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr is not the one-line summary:\n%q", stderr)
	}
	if m[1] != out {
		t.Errorf("summary names %q, want %q", m[1], out)
	}
	n := func(s string) int64 {
		v, _ := strconv.ParseInt(s, 10, 64)
		return v
	}
	overhead, _ = strconv.ParseFloat(m[5], 64)
	return n(m[2]), n(m[3]), n(m[4]), overhead
}

func TestWords(t *testing.T) {
	out := filepath.Join(t.TempDir(), "words.stru")
	res := clitest.Run(t, nil, idxbuild, "-o", out, wordsFile)
	if res.Code != 0 || res.Stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	want := words(t)
	keys, dups, size, overhead := parseSummary(t, res.Stderr, out)
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	keyBytes := 0
	for _, w := range want {
		keyBytes += len(w)
	}
	wantOverhead := float64(fi.Size()-int64(keyBytes)) / float64(len(want))
	if keys != int64(len(want)) || dups != 0 || size != fi.Size() || fmt.Sprintf("%.1f", wantOverhead) != fmt.Sprintf("%.1f", overhead) {
		t.Errorf("summary says %d keys, %d duplicates, %d bytes, %.1f overhead; want %d, 0, %d, %.1f",
			keys, dups, size, overhead, len(want), fi.Size(), wantOverhead)
	}
	if got := readIndex(t, out); !slices.Equal(got, set(want...)) {
		t.Errorf("index holds %d keys, want the %d words in byte order", len(got), len(want))
	}
}

// TestInput checks how input is split into keys: newline and NUL
// delimiters, CR stripping, unterminated last lines, empty keys, standard
// input and several files, and duplicates.
func TestInput(t *testing.T) {
	tests := []struct {
		name     string
		files    []string // contents of FILE arguments; "-" for standard input
		stdin    string
		flags    []string
		want     []string
		wantDups int64
	}{
		{name: "LF", files: []string{"b\na\nc\n"}, want: []string{"a", "b", "c"}},
		{name: "CRLF", files: []string{"b\r\na\r\nc\r\n"}, want: []string{"a", "b", "c"}},
		{name: "CRLF and LF give the same keys", files: []string{"a\r\nb\n", "a\nb\r\n"}, want: []string{"a", "b"}, wantDups: 2},
		{name: "embedded CR is kept", files: []string{"a\rb\nc\r\r\n"}, want: []string{"a\rb", "c\r"}},
		{name: "unterminated last line", files: []string{"a\nb"}, want: []string{"a", "b"}},
		{name: "empty line is the empty key", files: []string{"a\n\nb\n"}, want: []string{"", "a", "b"}},
		{name: "only the empty key", files: []string{"\n"}, want: []string{""}},
		{name: "empty file", files: []string{""}, want: nil},
		{name: "NUL and invalid UTF-8 bytes in a line", files: []string{"a\x00b\n\xff\xfe\n"}, want: []string{"a\x00b", "\xff\xfe"}},
		{name: "-0", flags: []string{"-0"}, files: []string{"a\x00b\r\x00c\nd\x00"}, want: []string{"a", "b\r", "c\nd"}},
		{name: "-0 unterminated and empty", flags: []string{"-0"}, files: []string{"\x00x"}, want: []string{"", "x"}},
		{name: "stdin without FILE", stdin: "y\nx\n", want: []string{"x", "y"}},
		{name: "stdin as -", files: []string{"a\n", "-", "c\n"}, stdin: "b\n", want: []string{"a", "b", "c"}},
		{name: "-0 stdin", flags: []string{"-0"}, stdin: "p\x00q\x00", want: []string{"p", "q"}},
		{name: "duplicates within a file", files: []string{"a\nb\na\na\n"}, want: []string{"a", "b"}, wantDups: 2},
		{name: "duplicates across files", files: []string{"a\nb\n", "b\nc\n", "c\na\n"}, want: []string{"a", "b", "c"}, wantDups: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.stru")
			args := append(slices.Clone(tt.flags), "-o", out)
			for i, data := range tt.files {
				if data == "-" {
					args = append(args, "-")
					continue
				}
				args = append(args, writeFile(t, dir, fmt.Sprintf("in%d", i), data))
			}
			res := clitest.Run(t, strings.NewReader(tt.stdin), idxbuild, args...)
			if res.Code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", res.Code, res.Stderr)
			}
			keys, dups, _, _ := parseSummary(t, res.Stderr, out)
			if keys != int64(len(tt.want)) || dups != tt.wantDups {
				t.Errorf("summary says %d keys, %d duplicates; want %d, %d", keys, dups, len(tt.want), tt.wantDups)
			}
			if got := readIndex(t, out); !slices.Equal(got, tt.want) {
				t.Errorf("keys = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStderrClosed runs a build whose standard error is a pipe nobody
// reads: the summary cannot be written, but the build has replaced OUT
// by then, so idxbuild must exit 0, not die of SIGPIPE (exit 141 in a
// shell), which would tell a pipeline that OUT was not built.
func TestStderrClosed(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.stru")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	cmd := exec.Command(idxbuild, "-o", out, wordsFile)
	cmd.Stderr = w
	if err := cmd.Run(); err != nil {
		t.Fatalf("idxbuild with a closed standard error: %v, want exit status 0", err)
	}
	ix, err := reader.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Verify(); err != nil || ix.Len() == 0 {
		t.Fatalf("OUT: %d keys, Verify: %v", ix.Len(), err)
	}
}

// TestSeed checks that --seed fixes the hash key, byte for byte, and with
// it the whole file whatever the input order.
func TestSeed(t *testing.T) {
	const seed = "000102030405060708090a0b0c0d0e0F"
	dir := t.TempDir()
	w := words(t)
	reversed := slices.Clone(w)
	slices.Reverse(reversed)
	shuffled := slices.Clone(w)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	orders := map[string][]string{"sorted": w, "reversed": reversed, "shuffled": append(shuffled, w[:100]...)}

	build := func(name string, args ...string) []byte {
		out := filepath.Join(dir, name+".stru")
		res := clitest.Run(t, nil, idxbuild, append([]string{"-q", "-o", out}, args...)...)
		if res.Code != 0 || res.Stderr != "" {
			t.Fatalf("%s: exit %d, stderr (want none with -q):\n%s", name, res.Code, res.Stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	var first []byte
	for name, keys := range orders {
		in := writeFile(t, dir, name+".txt", strings.Join(keys, "\n"))
		got := build(name, "--seed", seed, in)
		if first == nil {
			first = got
		} else if !bytes.Equal(got, first) {
			t.Errorf("--seed build from %s input differs from the first build", name)
		}
	}
	if other := build("other-seed", "--seed", "f"+seed[1:], wordsFile); bytes.Equal(other, first) {
		t.Error("a different --seed gave the same file")
	}
	if a, b := build("random1", wordsFile), build("random2", wordsFile); bytes.Equal(a, b) {
		t.Error("two builds without --seed gave the same file: the hash key is not random")
	}

	// The seed's 16 bytes are the header's hash key, in order. (A set of
	// three keys fits one bucket, so the builder never needs to re-key.)
	in := writeFile(t, dir, "three.txt", "a\nb\nc\n")
	build("three", "--seed", seed, in)
	r, err := reader.Open(filepath.Join(dir, "three.stru"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want, _ := hex.DecodeString(seed)
	if hk := r.Header().HashKey; !bytes.Equal(hk[:], want) {
		t.Errorf("header hash key = %x, want the seed %x", hk, want)
	}
}

func TestLoadFactor(t *testing.T) {
	dir := t.TempDir()
	sizes := map[string]int64{}
	for _, lf := range []string{"0.05", "0.5", "0.95"} {
		out := filepath.Join(dir, lf+".stru")
		res := clitest.Run(t, nil, idxbuild, "--load-factor", lf, "--seed", strings.Repeat("ab", 16), "-o", out, wordsFile)
		if res.Code != 0 {
			t.Fatalf("--load-factor %s: exit %d:\n%s", lf, res.Code, res.Stderr)
		}
		r, err := reader.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		h := r.Header()
		r.Close()
		want, _ := strconv.ParseFloat(lf, 64)
		if got := float64(h.Keys) / float64(h.Buckets*index.BucketSlots); got > want || got < want*0.99 {
			t.Errorf("--load-factor %s: file's load factor is %.4f", lf, got)
		}
		_, _, sizes[lf], _ = parseSummary(t, res.Stderr, out)
	}
	if !(sizes["0.05"] > sizes["0.5"] && sizes["0.5"] > sizes["0.95"]) {
		t.Errorf("file sizes by load factor = %v, want decreasing", sizes)
	}
}

// TestFilterBits checks that --filter-bits sizes the file's filter, and
// that 0 leaves it out.
func TestFilterBits(t *testing.T) {
	dir := t.TempDir()
	n := uint64(len(words(t)))
	for _, tc := range []struct {
		flags []string
		bits  uint64
	}{
		{nil, builder.DefaultFilterBitsPerKey},
		{[]string{"--filter-bits", "0"}, 0},
		{[]string{"--filter-bits", "1"}, 1},
		{[]string{"--filter-bits", "64"}, builder.MaxFilterBitsPerKey},
	} {
		out := filepath.Join(dir, fmt.Sprintf("%d.stru", tc.bits))
		res := clitest.Run(t, nil, idxbuild, append(tc.flags, "-q", "-o", out, wordsFile)...)
		if res.Code != 0 {
			t.Fatalf("%q: exit %d:\n%s", tc.flags, res.Code, res.Stderr)
		}
		r, err := reader.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		h := r.Header()
		r.Close()
		if want := index.FilterBlocks(n, tc.bits); h.FilterBlocks != want {
			t.Errorf("%q: %d filter blocks, want %d (%d bits a key)", tc.flags, h.FilterBlocks, want, tc.bits)
		}
	}
}

// TestUsageErrors checks that a bad command line exits 2 with one line on
// standard error and writes nothing.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantMsg string // in the error line
	}{
		{"no -o", []string{wordsFile}, "missing -o"},
		{"unknown flag", []string{"--bogus", "-o", "OUT", wordsFile}, "not defined: --bogus"},
		{"-o without value", []string{"-o"}, "-o"},
		{"short seed", []string{"--seed", "0011", "-o", "OUT"}, `--seed "0011" is 4 hex digits, want exactly 32`},
		{"long seed", []string{"--seed", strings.Repeat("0", 34), "-o", "OUT"}, "is 34 hex digits, want exactly 32"},
		{"non-ASCII seed", []string{"--seed", strings.Repeat("é", 10), "-o", "OUT"}, "is not hexadecimal"},          // 20 bytes
		{"32 non-ASCII characters", []string{"--seed", strings.Repeat("é", 32), "-o", "OUT"}, "is not hexadecimal"}, // 64 bytes
		{"non-hex seed", []string{"--seed", strings.Repeat("g", 32), "-o", "OUT"}, "is not hexadecimal"},
		{"non-hex digit in a seed", []string{"--seed", strings.Repeat("0", 15) + "-" + strings.Repeat("0", 16), "-o", "OUT"}, "is not hexadecimal"},
		{"load factor 0", []string{"--load-factor", "0", "-o", "OUT"}, "--load-factor"},
		{"load factor 1", []string{"--load-factor", "1", "-o", "OUT"}, "--load-factor"},
		{"load factor too small", []string{"--load-factor", "0.01", "-o", "OUT"}, "--load-factor"},
		{"load factor NaN", []string{"--load-factor", "NaN", "-o", "OUT"}, "--load-factor"},
		{"load factor not a number", []string{"--load-factor", "high", "-o", "OUT"}, `invalid value "high" for flag --load-factor`},
		{"filter bits negative", []string{"--filter-bits", "-1", "-o", "OUT"}, "--filter-bits"},
		{"filter bits 65", []string{"--filter-bits", "65", "-o", "OUT"}, "--filter-bits"},
		{"filter bits not a number", []string{"--filter-bits", "six", "-o", "OUT"}, `invalid value "six" for flag --filter-bits`},
		{"filter bits in hex", []string{"--filter-bits", "0x10", "-o", "OUT"}, `invalid value "0x10" for flag --filter-bits: not a decimal integer`},
		{"--mem without value", []string{"-o", "OUT", "--mem"}, "flag needs an argument: --mem"},
		// package flag stops at the first FILE: a flag after it is not a
		// missing file (exit 1) but a usage error.
		{"flag after FILE", []string{"-o", "OUT", wordsFile, "-q"}, "flag -q after the first FILE"},
		{"long flag after FILE", []string{"-o", "OUT", wordsFile, "--load-factor=0.5", wordsFile}, "flag --load-factor=0.5 after the first FILE"},
		// An empty value, as from an unset shell variable, is not the
		// default: --seed "" would silently give a random key.
		{"empty seed", []string{"--seed", "", "-o", "OUT"}, "--seed given an empty value"},
		{"empty -o", []string{"-o", ""}, "-o given an empty value"},
		{"empty --mem and --tmp-dir", []string{"--mem", "", "--tmp-dir", "", "-o", "OUT"}, "--mem and --tmp-dir given an empty value"},
		{"empty --pebble", []string{"--pebble", "", "-o", "OUT"}, "--pebble given an empty value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := slices.Clone(tt.args)
			for i, a := range args {
				if a == "OUT" {
					args[i] = filepath.Join(dir, "out.stru")
				}
			}
			res := clitest.Run(t, strings.NewReader("a\n"), idxbuild, args...)
			if res.Code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", res.Code, res.Stderr)
			}
			if line := clitest.OneLineError(t, res.Stderr, "idxbuild: "); !strings.Contains(line, tt.wantMsg) {
				t.Errorf("error %q does not mention %q", line, tt.wantMsg)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a usage error left files behind: %v", entries)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, flag := range []string{"-h", "--help"} {
		res := clitest.Run(t, nil, idxbuild, flag)
		if res.Code != 0 || !strings.HasPrefix(res.Stdout, "usage: idxbuild") || res.Stderr != "" {
			t.Errorf("%s: exit %d, stdout %.40q, stderr %q; want the usage on stdout and exit 0", flag, res.Code, res.Stdout, res.Stderr)
		}
	}
}

// TestFailure checks that a failed build exits 1 with one line naming the
// problem, leaves an existing OUT exactly as it was, creates no OUT when
// there was none, and leaves no temporary file behind.
func TestFailure(t *testing.T) {
	tooLong := strings.Repeat("x", index.MaxKeyLen+1)
	longest := strings.Repeat("x", index.MaxKeyLen)
	tests := []struct {
		name    string
		files   []string // contents; "MISSING" names a file that does not exist
		flags   []string
		stdin   string
		wantMsg string
	}{
		{name: "key too long", files: []string{"a\nb\n", "c\nd\n" + tooLong + "\ne\n"}, wantMsg: "in1:3: key is 65536 bytes long"},
		{name: "key too long with CRLF", files: []string{"a\r\n" + tooLong + "\r\n"}, wantMsg: "in0:2: key is 65536 bytes long"},
		{name: "key too long unterminated", files: []string{"a\n" + longest + "yz"}, wantMsg: "in0:2: key is 65537 bytes long"},
		{name: "key too long in NUL record", flags: []string{"-0"}, files: []string{"a\x00b\x00" + longest + "\r\x00"}, wantMsg: "in0:3: key is 65536 bytes long"},
		{name: "key far too long on stdin", stdin: "a\n" + strings.Repeat("y", 3<<20), wantMsg: "<stdin>:2: key is at least"},
		{name: "missing input", files: []string{"a\n", "MISSING"}, wantMsg: "no such file"},
		{name: "input is a directory", files: []string{"DIR"}, wantMsg: "is a directory"},
		// --sorted first counts the keys of the FILEs that are regular
		// files, and leaves the error of a missing one to the reading.
		{name: "missing first input, --sorted", flags: []string{"--sorted"}, files: []string{"MISSING", "a\n"}, wantMsg: "no such file"},
	}
	for _, tt := range tests {
		for _, existing := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/existing OUT %v", tt.name, existing), func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, "out.stru")
				const old = "the previous contents of OUT"
				if existing {
					writeFile(t, dir, "out.stru", old)
				}
				args := append(slices.Clone(tt.flags), "-o", out)
				for i, data := range tt.files {
					switch data {
					case "MISSING":
						args = append(args, filepath.Join(dir, "missing.txt"))
					case "DIR":
						args = append(args, dir)
					default:
						args = append(args, writeFile(t, dir, fmt.Sprintf("in%d", i), data))
					}
				}
				before, _ := os.ReadDir(dir)
				res := clitest.Run(t, strings.NewReader(tt.stdin), idxbuild, args...)
				if res.Code != 1 {
					t.Errorf("exit %d, want 1; stderr:\n%s", res.Code, res.Stderr)
				}
				line := clitest.OneLineError(t, res.Stderr, "idxbuild: ")
				if !strings.Contains(line, tt.wantMsg) {
					t.Errorf("error %q does not contain %q", line, tt.wantMsg)
				}
				data, err := os.ReadFile(out)
				switch {
				case existing && string(data) != old:
					t.Errorf("OUT changed to %d bytes (err %v), want it untouched", len(data), err)
				case !existing && !os.IsNotExist(err):
					t.Errorf("OUT exists after a failed build (err %v)", err)
				}
				if after, _ := os.ReadDir(dir); len(after) != len(before) {
					t.Errorf("directory held %v before the build, %v after", before, after)
				}
			})
		}
	}
}

// TestBadOutput checks builds whose OUT cannot be written: they fail
// before reading any key (the input's over-long key would otherwise be the
// error), with exit status 1 and one line naming OUT, and change nothing.
func TestBadOutput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "plain", "x")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	stdin := "a\n" + strings.Repeat("x", index.MaxKeyLen+1) + "\n"
	type badOut struct {
		out, want string // OUT, inside dir unless absolute; what the error says
	}
	cases := []badOut{
		{"no-such-dir/out.stru", "no such file or directory"},
		{"sub", "it is a directory"},
		{"sub/", "it is a directory"},
		{"plain/out.stru", "is not a directory"},
	}
	// A directory that takes no new file: /proc, even for root, on
	// Linux; one without write permission for anyone else.
	if runtime.GOOS == "linux" {
		cases = append(cases, badOut{"/proc/out.stru", "no such file or directory"})
	}
	if runtime.GOOS != "windows" {
		// A device: renaming over it would replace /dev/null itself.
		cases = append(cases, badOut{"/dev/null", "it is not a regular file"})
	}
	if os.Geteuid() != 0 && runtime.GOOS != "windows" {
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, badOut{filepath.Join(ro, "out.stru"), "permission denied"})
	} else {
		t.Log("running as root (or on Windows): no read-only directory case")
	}
	for _, tt := range cases {
		for _, flags := range [][]string{nil, {"--sorted"}} {
			t.Run(fmt.Sprintf("%s %q", tt.out, flags), func(t *testing.T) {
				out := tt.out
				if !filepath.IsAbs(out) {
					out = filepath.Join(dir, out)
				}
				if strings.HasSuffix(tt.out, "/") {
					out += "/"
				}
				res := clitest.Run(t, strings.NewReader(stdin), idxbuild, append(flags, "-o", out)...)
				if res.Code != 1 {
					t.Errorf("exit %d, want 1", res.Code)
				}
				line := clitest.OneLineError(t, res.Stderr, "idxbuild: writing "+out+": ")
				if !strings.Contains(line, tt.want) {
					t.Errorf("error %q does not say %q", line, tt.want)
				}
				for _, d := range []string{dir, filepath.Join(dir, "sub")} {
					if names, _ := os.ReadDir(d); len(names) != map[string]int{dir: 2}[d] {
						t.Errorf("%s holds %v", d, names)
					}
				}
			})
		}
	}
}

// raceExitEnv is the environment for a test's child process: with -race,
// the race detector's exit delay (1 s by default) cut to 10 ms, so that
// the time a signaled child takes to exit is its own.
func raceExitEnv() []string {
	return append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=10"))
}

// startPiped starts the program bin with args and a pipe for standard
// input, and returns the command, the pipe's writing end, the buffer
// collecting standard error and a channel that receives Wait's result.
func startPiped(t *testing.T, bin string, args ...string) (cmd *exec.Cmd, stdin *os.File, stderr *bytes.Buffer, done <-chan error) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, args...)
	cmd.Env = raceExitEnv()
	stderr = new(bytes.Buffer)
	cmd.Stdin, cmd.Stderr = pr, stderr
	if err := cmd.Start(); err != nil {
		pw.Close()
		t.Fatal(err)
	}
	pr.Close()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	return cmd, pw, stderr, waited
}

// waitStopped waits for the idxbuild that startPiped started, and that
// has been sent sig, to end, killing it if it runs 10 s more, and checks
// that sig stopped it: exit status 128 plus its number.
func waitStopped(t *testing.T, cmd *exec.Cmd, done <-chan error, sig syscall.Signal, stderr *bytes.Buffer) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("idxbuild still running 10 s after %v", sig)
	}
	if code := cmd.ProcessState.ExitCode(); code != 128+int(sig) {
		t.Errorf("%v: exit %v, want %d; stderr:\n%s", sig, cmd.ProcessState, 128+int(sig), stderr.String())
	}
}
