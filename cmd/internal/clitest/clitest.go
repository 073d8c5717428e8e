// Package clitest builds the command-line tools and runs them, for the
// end-to-end tests of cmd/idxbuild and cmd/idxquery.
package clitest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Build compiles the main packages named by their import paths with
// "go build" into a new temporary directory and returns the directory.
// When the tests run with -race the tools are built with -race too.
// Call it from TestMain, and remove the directory when done.
func Build(pkgs ...string) (dir string, err error) {
	dir, err = os.MkdirTemp("", "stru-clitest-")
	if err != nil {
		return "", err
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	// The main module's files the tools are built from.
	cmd = exec.Command("go", append([]string{"list", "-deps", "-f",
		`{{if and .Module .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{.Module.GoMod}}{{"\n"}}{{end}}`}, pkgs...)...)
	out, err := cmd.Output()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go %s: %v", strings.Join(cmd.Args[1:], " "), err)
	}
	sources = strings.Fields(string(out))
	return dir, nil
}

// sources are the files the tools were built from. go test caches a test
// result until the test binary or a file the test read changes; the
// binaries under test are built by a subprocess, and the test binary of a
// main package leaves out the unreachable main function and everything
// only it calls, so a change to a tool would go unnoticed. Run therefore
// stats every source file, which go test records as an input of the test.
var (
	sources     []string
	statSources sync.Once
)

// A Result is what a finished command produced.
type Result struct {
	Stdout, Stderr string
	Code           int // exit status
}

// timeout bounds every command: a tool that hangs fails its test.
const timeout = 2 * time.Minute

// Run runs the program at path with args and the given standard input
// (nil for none) and returns its output and exit status. It fails the test
// if the program cannot be started or is killed by a signal.
func Run(t testing.TB, stdin io.Reader, path string, args ...string) Result {
	t.Helper()
	statSources.Do(func() {
		for _, f := range sources {
			os.Stat(f)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	if raceEnabled {
		// A race-enabled program that exits 0 sleeps a second first,
		// by default, to let racing goroutines be caught.
		cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=10"))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if strings.Contains(res.Stderr, "WARNING: DATA RACE") {
		t.Errorf("%s %q: data race:\n%s", filepath.Base(path), args, res.Stderr)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		res.Code = exit.ExitCode()
	default:
		t.Fatalf("%s %q: %v\nstderr:\n%s", filepath.Base(path), args, err, res.Stderr)
	}
	return res
}

// OneLineError checks that stderr is a single line starting with prefix,
// with no trace of a Go panic, and returns it without its newline.
func OneLineError(t testing.TB, stderr, prefix string) string {
	t.Helper()
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
		t.Fatalf("stderr shows a panic:\n%s", stderr)
	}
	line, ok := strings.CutSuffix(stderr, "\n")
	if !ok || strings.Contains(line, "\n") || !strings.HasPrefix(line, prefix) {
		t.Fatalf("stderr is not one line starting with %q:\n%s", prefix, stderr)
	}
	return line
}

// EncodeRecords returns records as a key list holds them, each ended by a
// NUL byte (nul) or a newline, "\r\n" where crlf[i] is set. With noFinal
// the last record lacks its delimiter (a CRLF line keeps its "\r", which
// the tools remove there too), unless it is empty: an unterminated empty
// record would be no record at all.
func EncodeRecords(records []string, crlf []bool, nul, noFinal bool) string {
	var b strings.Builder
	for i, k := range records {
		b.WriteString(k)
		last := i == len(records)-1
		switch {
		case nul:
			if !last || !noFinal || k == "" {
				b.WriteByte(0)
			}
		case last && noFinal && k != "":
			if crlf[i] {
				b.WriteByte('\r')
			}
		case crlf[i]:
			b.WriteString("\r\n")
		default:
			b.WriteString("\n")
		}
	}
	return b.String()
}

// RaceEnabled reports whether the tests, and so the tools Build builds,
// run with the race detector.
const RaceEnabled = raceEnabled

// RandomCases are the cases of a randomized test: case i has the seed
// seed+i, where seed is the -NAME-seed flag's value or else the clock's,
// and there are as many as the -NAME-n flag says, or else a default.
type RandomCases struct {
	name      string // of the flags, without "-seed" and "-n"
	n         *int
	seed      *uint64
	def, fast int // cases by default, and under -short or the race detector
}

// NewRandomCases registers the flags -NAME-n and -NAME-seed of the test
// named test, which runs def cases by default, or fast under -short or
// the race detector. Call it in a package-level var declaration.
func NewRandomCases(name, test string, def, fast int) *RandomCases {
	return &RandomCases{
		name: name,
		n:    flag.Int(name+"-n", 0, fmt.Sprintf("%s: number of cases (default %d, %d with -race or -short)", test, def, fast)),
		seed: flag.Uint64(name+"-seed", 0, test+": seed of the first case (default: from the clock, logged)"),
		def:  def,
		fast: fast,
	}
}

// Run logs the seed and the number of cases, and runs each case as a
// subtest of t named by its seed, giving run a generator seeded with the
// case's seed and stream. It stops at the first case that fails, saying
// how to run it alone.
func (c *RandomCases) Run(t *testing.T, stream uint64, run func(t *testing.T, rng *rand.Rand)) {
	n := *c.n
	if n == 0 {
		n = c.def
		if testing.Short() || RaceEnabled {
			n = c.fast
		}
	}
	seed := *c.seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("-%s-seed %d -%s-n %d", c.name, seed, c.name, n)
	for i := range n {
		caseSeed := seed + uint64(i)
		t.Run(fmt.Sprint(caseSeed), func(t *testing.T) {
			run(t, rand.New(rand.NewPCG(caseSeed, stream)))
		})
		if t.Failed() {
			t.Fatalf("rerun with -run '%s/^%d$' -%s-seed %d", t.Name(), caseSeed, c.name, caseSeed)
		}
	}
}
