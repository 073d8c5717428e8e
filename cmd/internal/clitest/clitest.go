// Package clitest builds the command-line tools and runs them, for the
// end-to-end tests of cmd/idxbuild and cmd/idxquery.
package clitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// RaceEnabled reports whether the tests, and so the tools Build builds,
// run with the race detector.
const RaceEnabled = raceEnabled
