package main

// End-to-end tests of --sorted, --mem and --tmp-dir, and unit tests of
// parseSize.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stru-index/stru/cmd/internal/clitest"
)

// testSeed fixes the hash key, so that builds of the same keys compare
// byte for byte.
const testSeed = "000102030405060708090a0b0c0d0e0f"

// dirNames returns the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// randomLines returns n distinct random keys of 1–30 letters and digits,
// some of them repeated once, in random order.
func randomLines(n int, rng *rand.Rand) []string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	seen := map[string]bool{}
	var keys []string
	for len(keys) < n {
		b := make([]byte, 1+rng.IntN(30))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if k := string(b); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	keys = append(keys, keys[:n/10]...)
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys
}

// TestLargeInputFlags builds the same keys with and without --sorted,
// with the default budget and with one small enough that the keys spill
// to several runs and the table is placed in several partitions, and
// checks that every build writes the same bytes, reports the same keys
// and duplicates, and leaves nothing in OUT's directory or --tmp-dir but
// OUT.
func TestLargeInputFlags(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	lines := randomLines(40000, rng)
	in := t.TempDir()
	unsorted := writeFile(t, in, "unsorted.txt", strings.Join(lines, "\n")+"\n")
	sorted := slices.Clone(lines)
	slices.Sort(sorted)
	half := len(sorted) / 2
	sorted1 := writeFile(t, in, "sorted1.txt", strings.Join(sorted[:half], "\n")+"\n")
	sorted2 := writeFile(t, in, "sorted2.txt", strings.Join(sorted[half:], "\r\n")) // CRLF, no final newline
	want := set(lines...)
	// 40000 keys at load factor 0.05: 100000 buckets, 2 blocks.
	common := []string{"--seed", testSeed, "--load-factor", "0.05"}
	cases := []struct {
		name string
		args []string
	}{
		{"default", []string{unsorted}},
		{"--mem 64KiB", []string{"--mem", "64KiB", unsorted}},
		{"--mem 1MB", []string{"--mem", "1MB", unsorted}},
		{"--sorted", []string{"--sorted", sorted1, sorted2}},
		{"--sorted --mem 64KiB", []string{"--sorted", "--mem", "64KiB", sorted1, sorted2}},
		{"--sorted from stdin", []string{"--sorted", "--mem", "65536", "-"}},
	}
	var first []byte
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			outDir, tmp := t.TempDir(), t.TempDir()
			out := filepath.Join(outDir, "out.stru")
			args := append(slices.Clone(common), "--tmp-dir", tmp, "-o", out)
			args = append(args, c.args...)
			res := clitest.Run(t, strings.NewReader(strings.Join(sorted, "\n")), idxbuild, args...)
			if res.Code != 0 {
				t.Fatalf("exit %d:\n%s", res.Code, res.Stderr)
			}
			keys, dups, _, _ := parseSummary(t, res.Stderr, out)
			if keys != int64(len(want)) || dups != int64(len(lines)-len(want)) {
				t.Errorf("summary: %d keys, %d duplicates; want %d, %d", keys, dups, len(want), len(lines)-len(want))
			}
			if got := readIndex(t, out); !slices.Equal(got, want) {
				t.Fatalf("the index holds %d keys, want %d", len(got), len(want))
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = data
			} else if !bytes.Equal(data, first) {
				t.Fatalf("%d bytes differ from the default build's %d", len(data), len(first))
			}
			if names := dirNames(t, outDir); !slices.Equal(names, []string{"out.stru"}) {
				t.Errorf("OUT's directory holds %q", names)
			}
			if names := dirNames(t, tmp); len(names) != 0 {
				t.Errorf("--tmp-dir holds %q after the build", names)
			}
		})
	}

	// Without --tmp-dir the temporary files go next to OUT, and go.
	outDir := t.TempDir()
	out := filepath.Join(outDir, "out.stru")
	res := clitest.Run(t, nil, idxbuild, append(common, "--mem", "64KiB", "-o", out, unsorted)...)
	if res.Code != 0 {
		t.Fatalf("exit %d:\n%s", res.Code, res.Stderr)
	}
	if names := dirNames(t, outDir); !slices.Equal(names, []string{"out.stru"}) {
		t.Errorf("OUT's directory holds %q", names)
	}
}

// TestSortedOutOfOrder gives --sorted input that is not sorted: idxbuild
// exits 1 naming the first line out of order, writes nothing, leaves an
// existing OUT as it was and removes its temporary files.
func TestSortedOutOfOrder(t *testing.T) {
	cases := []struct {
		name   string
		files  []string // contents; "-" reads stdin
		stdin  string
		nul    bool
		wantAt string // FILE:LINE, FILE being "f0", "f1" or "<stdin>"
		crlf   bool   // the error explains how sort(1) orders CRLF lines
	}{
		{"second line", []string{"b\na\n"}, "", false, "f0:2", false},
		{"after repeated lines", []string{"a\nb\nb\nb\nab\nc\n"}, "", false, "f0:5", false},
		{"empty line after a key", []string{"a\n\nb\n"}, "", false, "f0:2", false},
		{"byte order, not case order", []string{"a\nB\n"}, "", false, "f0:2", false},
		{"CRLF lines", []string{"a\r\nc\r\nb\r\n"}, "", false, "f0:3", false},
		// As LC_ALL=C sort orders them: "a\tb\r" < "a\r", as "\t" < "\r".
		{"CRLF lines sorted with their CR", []string{"a\tb\r\na\r\n"}, "", false, "f0:2", true},
		{"a control byte after a prefix, LF lines", []string{"a\tb\na\n"}, "", false, "f0:2", false},
		// sort(1) puts "a\r" before "a\rx\r": these lines were not
		// sorted with their CR.
		{"a CR after a prefix, CRLF lines", []string{"a\rx\r\na\r\n"}, "", false, "f0:2", false},
		{"a control byte after a key not a prefix, CRLF lines", []string{"b\tx\r\na\r\n"}, "", false, "f0:2", false},
		{"the second file starts too low", []string{"a\nm\n", "n\nz\n", "b\n"}, "", false, "f2:1", false},
		{"NUL-delimited records", []string{"a\x00c\x00b\x00"}, "", true, "f0:3", false},
		{"standard input", nil, "x\ny\nz\nw\n", false, "<stdin>:4", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, outDir, tmp := t.TempDir(), t.TempDir(), t.TempDir()
			out := writeFile(t, outDir, "out.stru", "old")
			args := []string{"--sorted", "--tmp-dir", tmp, "-o", out}
			if c.nul {
				args = append(args, "-0")
			}
			for i, content := range c.files {
				args = append(args, writeFile(t, in, fmt.Sprintf("f%d", i), content))
			}
			res := clitest.Run(t, strings.NewReader(c.stdin), idxbuild, args...)
			if res.Code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", res.Code, res.Stderr)
			}
			line := clitest.OneLineError(t, res.Stderr, "idxbuild: ")
			at := c.wantAt
			if !strings.HasPrefix(at, "<") {
				at = filepath.Join(in, at)
			}
			if !strings.HasPrefix(line, "idxbuild: "+at+": ") || !strings.Contains(line, "not sorted") {
				t.Errorf("error %q does not start with %s and say the input is not sorted", line, at)
			}
			if hint := strings.Contains(line, `tr -d '\r'`); hint != c.crlf {
				t.Errorf("error %q: explains CRLF sorting %v, want %v", line, hint, c.crlf)
			}
			if data, _ := os.ReadFile(out); string(data) != "old" {
				t.Errorf("OUT changed to %q", data)
			}
			if names := dirNames(t, outDir); !slices.Equal(names, []string{"out.stru"}) {
				t.Errorf("OUT's directory holds %q", names)
			}
			if names := dirNames(t, tmp); len(names) != 0 {
				t.Errorf("--tmp-dir holds %q", names)
			}
		})
	}
}

// TestSortedPipeArgument gives --sorted a FILE that can be read only
// once, as /dev/stdin or a shell's <(sort keys) does: idxbuild must not
// count its keys first, which would leave none to index.
func TestSortedPipeArgument(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no /dev/stdin")
	}
	keys := []string{"a", "b", "c"}
	out := filepath.Join(t.TempDir(), "out.stru")
	res := clitest.Run(t, strings.NewReader(strings.Join(keys, "\n")), idxbuild, "--sorted", "-o", out, "/dev/stdin")
	if res.Code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", res.Code, res.Stderr)
	}
	if got := readIndex(t, out); !slices.Equal(got, keys) {
		t.Errorf("keys = %q, want %q", got, keys)
	}
}

// TestSortedOutOfOrderLongKeys checks how the error of --sorted input
// out of order quotes its keys: whole up to 64 bytes, a longer one cut
// to its first 64 and "...".
func TestSortedOutOfOrderLongKeys(t *testing.T) {
	long, short := strings.Repeat("b", 65), strings.Repeat("a", 64)
	in := writeFile(t, t.TempDir(), "keys", long+"\n"+short+"\n")
	out := filepath.Join(t.TempDir(), "out.stru")
	res := clitest.Run(t, nil, idxbuild, "--sorted", "-o", out, in)
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", res.Code, res.Stderr)
	}
	line := clitest.OneLineError(t, res.Stderr, "idxbuild: ")
	if want := fmt.Sprintf("%q sorts before %q..., the line before it", short, long[:64]); !strings.Contains(line, want) {
		t.Errorf("error %q does not say %q", line, want)
	}
}

// TestLargeInputUsage checks the command-line errors of --mem, --tmp-dir
// and --sorted.
func TestLargeInputUsage(t *testing.T) {
	dir := t.TempDir() // stays empty
	notDir := writeFile(t, t.TempDir(), "file", "x")
	cases := []struct {
		args    []string
		code    int
		wantMsg string
	}{
		{[]string{"--mem", "lots"}, 2, `--mem "lots" is not a size`},
		{[]string{"--mem", "0"}, 2, "--mem"},
		{[]string{"--mem", "-5MiB"}, 2, "--mem"},
		{[]string{"--mem", "1KiB"}, 2, "64KiB"},
		{[]string{"--mem", "12XB"}, 2, "--mem"},
		{[]string{"--mem", "1e9"}, 2, "--mem"},
		{[]string{"--mem", "99999999999GiB"}, 2, "too large"},
		{[]string{"--sorted", "--pebble", dir}, 2, "--sorted"},
		{[]string{"--tmp-dir", filepath.Join(dir, "missing")}, 1, "--tmp-dir"},
		{[]string{"--tmp-dir", notDir}, 1, "not a directory"},
		{[]string{"--sorted", "--tmp-dir", filepath.Join(dir, "missing")}, 1, "--tmp-dir"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			outDir := t.TempDir()
			res := clitest.Run(t, strings.NewReader("a\nb\n"), idxbuild, append(c.args, "-o", filepath.Join(outDir, "out.stru"))...)
			if res.Code != c.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", res.Code, c.code, res.Stderr)
			}
			if line := clitest.OneLineError(t, res.Stderr, "idxbuild: "); !strings.Contains(line, c.wantMsg) {
				t.Errorf("error %q does not mention %q", line, c.wantMsg)
			}
			if names := dirNames(t, outDir); len(names) != 0 {
				t.Errorf("OUT's directory holds %q", names)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("%s holds %q", dir, names)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64 // 0: an error
	}{
		{"512MiB", 512 << 20},
		{"2GiB", 2 << 30},
		{"64KiB", 64 << 10},
		{"64kib", 64 << 10},
		{"1.5MiB", 3 << 19},
		{"2 GiB", 2 << 30},
		{"500MB", 500e6},
		{"1GB", 1e9},
		{"100KB", 100e3},
		{"65536", 65536},
		{"65536B", 65536},
		{"4000000000", 4e9},
		{"65535", 0},
		{"63KiB", 0},
		{"", 0},
		{"MiB", 0},
		{"-1MiB", 0},
		{"1e6", 0},
		{"0x100000", 0},
		{"1_000_000", 0},
		{"NaN", 0},
		{"Inf", 0},
		{"12 XB", 0},
		{"1GBMiB", 0},        // one unit at most
		{"8589934592GiB", 0}, // 2^63 bytes, one more than math.MaxInt64
		{"10000000000GiB", 0},
	}
	for _, c := range cases {
		got, err := parseSize(c.in)
		switch {
		case c.want == 0 && err == nil:
			t.Errorf("parseSize(%q) = %d, want an error", c.in, got)
		case c.want != 0 && (err != nil || got != c.want):
			t.Errorf("parseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

// TestSignalWhileReadingCleansUp stops idxbuild while it waits for more
// keys on a pipe, after it has written temporary files: runs spilled by
// the small budget, or the stream of --sorted. It exits at once, as
// without temporary files, and removes them.
func TestSignalWhileReadingCleansUp(t *testing.T) {
	for _, sorted := range []bool{false, true} {
		t.Run(fmt.Sprintf("sorted %v", sorted), func(t *testing.T) {
			outDir, tmp := t.TempDir(), t.TempDir()
			out := filepath.Join(outDir, "out.stru")
			args := []string{"--mem", "64KiB", "--tmp-dir", tmp, "-o", out}
			if sorted {
				args = append(args, "--sorted")
			}
			cmd, pw, stderr, done := startPiped(t, idxbuild, args...)
			defer pw.Close()
			// 2 MiB of distinct keys, in order: far more than a pipe
			// holds, so idxbuild has read most of them and spilled runs.
			var keys bytes.Buffer
			for i := 0; keys.Len() < 2<<20; i++ {
				fmt.Fprintf(&keys, "key%08d\n", i)
			}
			if _, err := pw.Write(keys.Bytes()); err != nil {
				t.Fatal(err)
			}
			// Wait for the temporary files, then signal.
			deadline := time.Now().Add(10 * time.Second)
			for len(dirNames(t, tmp)) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("no temporary files appeared")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waitStopped(t, cmd, done, syscall.SIGTERM, stderr)
			if names := dirNames(t, tmp); len(names) != 0 {
				t.Errorf("--tmp-dir holds %q after the signal", names)
			}
			if names := dirNames(t, outDir); len(names) != 0 {
				t.Errorf("OUT's directory holds %q after the signal", names)
			}
		})
	}
}

// TestTempGuardDo checks that tempGuard.do keeps abandon out while its
// function runs, so that abandon removes a file the function creates (as
// SortedWriter.Expect creates OUT's temporary file), and that do runs
// nothing once the build is abandoned.
func TestTempGuardDo(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temp")
	var g tempGuard
	if !g.hold(func() error { return os.Remove(file) }) {
		t.Fatal("hold refused a build not abandoned")
	}
	started, proceed := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- g.do(func() error {
			close(started)
			<-proceed
			return os.WriteFile(file, nil, 0o644)
		})
	}()
	<-started
	abandoned := make(chan struct{})
	go func() {
		g.abandon()
		close(abandoned)
	}()
	time.Sleep(10 * time.Millisecond) // give abandon the time to run ahead, which it must not
	select {
	case <-abandoned:
		t.Fatal("abandon returned while do's function ran")
	default:
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-abandoned
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after abandon, the file do's function created: %v, want it removed", err)
	}
	called := false
	if err := g.do(func() error { called = true; return nil }); !errors.Is(err, errAbandoned) || called {
		t.Errorf("do after abandon = %v and called its function: %v; want errAbandoned, not called", err, called)
	}
}
