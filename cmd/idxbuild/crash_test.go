//go:build unix

package main

// Crash tests: the real idxbuild binary replaces an existing index and is
// killed (SIGKILL) or stopped (SIGINT, SIGTERM) at random points of the
// build. Afterwards OUT must be the complete old index or the complete new
// one, never partial or missing, and a stopped build must leave no
// temporary file.
//
// The number of runs is STRU_CRASH_RUNS (default 20): that many SIGKILLs,
// and half as many each of SIGINT and SIGTERM. For a long run:
//
//	STRU_CRASH_RUNS=500 go test -run Crash ./cmd/idxbuild

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stru-index/stru/cmd/internal/clitest"
	"github.com/stru-index/stru/reader"
)

// crashRuns returns the number of runs STRU_CRASH_RUNS asks for.
func crashRuns(t *testing.T) int {
	t.Helper()
	s := os.Getenv("STRU_CRASH_RUNS")
	if s == "" {
		return 20
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 2 {
		t.Fatalf("STRU_CRASH_RUNS=%q: want a number of at least 2", s)
	}
	return n
}

// crashSeed fixes the hash key, so that every complete build of the new
// keys gives the same bytes.
const crashSeed = "000102030405060708090a0b0c0d0e0f"

// A crashFixture is an existing index OUT, a larger set of new keys to
// replace it with, and what a complete build of them looks like.
type crashFixture struct {
	dir      string // OUT's directory, holding nothing else
	out      string
	newInput string // the new keys, one per line

	old, new []byte // OUT before and after a complete build
	samples  [3][]string
	// samples[0] are keys only in old, samples[1] only in new, samples[2]
	// in neither.

	duration time.Duration // of a complete build, from start to exit
	tmpAt    time.Duration // when its temporary file was first seen holding data (writing)
	tmpFor   time.Duration // how long it was seen
}

// tmpRE matches the temporary files idxbuild writes next to OUT.
var tmpRE = regexp.MustCompile(`^\.out\.stru\.tmp-[0-9]+$`)

// newCrashFixture writes crashOldKeys random keys as OUT, and
// crashNewKeys others as the input of the builds under test, then runs one
// complete build to learn its result and time it.
func newCrashFixture(t *testing.T) *crashFixture {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("keys from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	inputs := t.TempDir()
	f := &crashFixture{dir: t.TempDir()}
	f.out = filepath.Join(f.dir, "out.stru")
	f.newInput = filepath.Join(inputs, "new.txt")
	oldInput := filepath.Join(inputs, "old.txt")
	f.samples[0] = writeKeys(t, oldInput, "old", crashOldKeys, rng)
	f.samples[1] = writeKeys(t, f.newInput, "new", crashNewKeys, rng)
	for i := range 100 {
		f.samples[2] = append(f.samples[2], fmt.Sprintf("old-%d", i), fmt.Sprintf("new-%d", i), fmt.Sprintf("none-%d", i))
	}

	res := clitest.Run(t, nil, idxbuild, "-q", "--seed", crashSeed, "-o", f.out, oldInput)
	if res.Code != 0 {
		t.Fatalf("building the old index: exit %d\n%s", res.Code, res.Stderr)
	}
	f.old = f.read(t)
	f.check(t, 0)

	// The complete build, with the directory watched for the temporary
	// file.
	stop := make(chan struct{})
	watched := make(chan [2]time.Duration, 1) // when the file appeared and went
	start := time.Now()
	go func() {
		var times [2]time.Duration
		defer func() { watched <- times }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			exists := f.writing(t)
			switch {
			case exists && times[0] == 0:
				times[0] = time.Since(start)
			case !exists && times[0] != 0:
				times[1] = time.Since(start)
				return
			}
			time.Sleep(500 * time.Microsecond)
		}
	}()
	res = clitest.Run(t, nil, idxbuild, "-q", "--seed", crashSeed, "-o", f.out, f.newInput)
	f.duration = time.Since(start)
	close(stop)
	times := <-watched
	if res.Code != 0 {
		t.Fatalf("building the new index: exit %d\n%s", res.Code, res.Stderr)
	}
	if times[0] == 0 || times[1] == 0 {
		t.Fatalf("the temporary file of a complete build was not seen to appear and go (%v)", times)
	}
	f.tmpAt, f.tmpFor = times[0], times[1]-times[0]
	f.new = f.read(t)
	f.check(t, 1)
	f.restore(t)
	t.Logf("old index: %d keys, %d bytes; new: %d keys, %d bytes, built in %v, temporary file from %v for %v",
		crashOldKeys, len(f.old), crashNewKeys, len(f.new), f.duration.Round(time.Millisecond),
		f.tmpAt.Round(time.Millisecond), f.tmpFor.Round(time.Millisecond))
	return f
}

// writeKeys writes n distinct random keys starting with prefix to path,
// one per line, and returns 100 of them.
func writeKeys(t *testing.T, path, prefix string, n int, rng *rand.Rand) (sample []string) {
	t.Helper()
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(file)
	for i := range n {
		// The number makes the key distinct; random hex digits make its
		// length vary from about 10 to 50 bytes.
		k := fmt.Sprintf("%s-%d-%x", prefix, i, rng.Uint64()>>rng.IntN(64))
		k += strings.Repeat("z", rng.IntN(24))
		if i%(n/100) == 0 {
			sample = append(sample, k)
		}
		fmt.Fprintln(w, k)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	return sample
}

// read returns OUT's contents.
func (f *crashFixture) read(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(f.out)
	if err != nil {
		t.Fatalf("OUT: %v", err)
	}
	return data
}

// check opens OUT with package reader, verifies it, and checks that it
// answers as version v does (0 old, 1 new) for the sample keys.
func (f *crashFixture) check(t *testing.T, v int) {
	t.Helper()
	r, err := reader.Open(f.out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := []int{crashOldKeys, crashNewKeys}[v]; r.Len() != want {
		t.Fatalf("OUT holds %d keys, want %d", r.Len(), want)
	}
	for i, keys := range f.samples {
		for _, k := range keys {
			if got := r.ContainsString(k); got != (i == v) {
				t.Fatalf("Contains(%q) = %v in the %s index", k, got, []string{"old", "new"}[v])
			}
		}
	}
}

// version returns 0 if OUT is byte for byte the old index and 1 if it is
// the new one, after checking it as check does; it fails the test if OUT
// is anything else.
func (f *crashFixture) version(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(f.out)
	var v int
	switch {
	case err != nil:
		t.Fatalf("OUT: %v", err)
	case bytes.Equal(data, f.old):
		v = 0
	case bytes.Equal(data, f.new):
		v = 1
	default:
		t.Fatalf("OUT is %d bytes, neither the old index (%d bytes) nor the new (%d)", len(data), len(f.old), len(f.new))
	}
	f.check(t, v)
	return v
}

// temps returns the temporary files in OUT's directory, failing the test
// if it holds anything but OUT and those.
func (f *crashFixture) temps(t *testing.T) []string {
	es, err := os.ReadDir(f.dir)
	if err != nil {
		t.Error(err)
		return nil
	}
	var temps []string
	for _, e := range es {
		switch {
		case e.Name() == filepath.Base(f.out):
		case tmpRE.MatchString(e.Name()):
			temps = append(temps, e.Name())
		default:
			t.Errorf("unexpected file %s next to OUT", e.Name())
		}
	}
	return temps
}

// writing reports whether a build is writing its temporary file next to
// OUT: one of the temporary files holds data. The file that
// builder.CheckDestination creates and removes at once, before any key is
// read, to learn that the directory takes new files, has the same kind of
// name but stays empty; taken for the build's, it would time the signals
// meant for the writing to land while the keys are read.
func (f *crashFixture) writing(t *testing.T) bool {
	for _, name := range f.temps(t) {
		if fi, err := os.Stat(filepath.Join(f.dir, name)); err == nil && fi.Size() > 0 {
			return true
		}
	}
	return false
}

// restore makes OUT the old index again, through a rename so that it is
// never partial either, and removes any temporary files.
func (f *crashFixture) restore(t *testing.T) {
	t.Helper()
	for _, name := range f.temps(t) {
		if err := os.Remove(filepath.Join(f.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(t.TempDir(), "old.stru")
	if err := os.WriteFile(tmp, f.old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.out); err != nil {
		t.Fatal(err)
	}
}

// A delay is when to send a signal to a build.
type delay struct {
	delay     time.Duration
	afterTemp bool // delay counts from the moment the temporary file appears, not from the start
}

func (d delay) String() string {
	if d.afterTemp {
		return fmt.Sprintf("%v after the temporary file appeared", d.delay.Round(time.Millisecond))
	}
	return fmt.Sprintf("%v after the start", d.delay.Round(time.Millisecond))
}

// delays returns n delays at random: the first half spread evenly over
// the time a build takes, the rest over the time its temporary file
// exists and a little beyond, past the rename, counted from the file's
// appearance so that a loaded machine does not make them miss it.
func (f *crashFixture) delays(n int, rng *rand.Rand) []delay {
	var ds []delay
	spread := func(n int, length time.Duration, afterTemp bool) {
		for i := range n {
			ds = append(ds, delay{time.Duration((float64(i) + rng.Float64()) / float64(n) * float64(length)), afterTemp})
		}
	}
	spread(n/2, f.duration, false)
	spread(n-n/2, f.tmpFor*5/4, true)
	return ds
}

// A crashRun is the outcome of one build sent a signal.
type crashRun struct {
	tmpBefore bool // the build was writing its temporary file when the signal was sent
	state     *os.ProcessState
	stderr    string
	exited    time.Duration // from the signal to the exit
}

// runAndSignal starts a build of the new keys over OUT and sends it sig
// after d.delay, counted from the start or, with d.afterTemp, from the
// moment the build's temporary file appears.
func (f *crashFixture) runAndSignal(t *testing.T, d delay, sig syscall.Signal) crashRun {
	t.Helper()
	cmd := exec.Command(idxbuild, "-q", "--seed", crashSeed, "-o", f.out, f.newInput)
	cmd.Env = raceExitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	var run crashRun
	exited := false
	if d.afterTemp {
		for !exited && !f.writing(t) {
			select {
			case err = <-done:
				exited = true
			case <-time.After(time.Millisecond):
			}
		}
	}
	if !exited {
		select {
		case err = <-done:
		case <-time.After(d.delay):
			run.tmpBefore = f.writing(t)
			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
			err = <-done
			run.exited = time.Since(sent)
		}
	}
	run.state, run.stderr = cmd.ProcessState, stderr.String()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if strings.Contains(run.stderr, "DATA RACE") {
		t.Errorf("data race:\n%s", run.stderr)
	}
	return run
}

// signaled reports whether the process was killed by sig.
func signaled(state *os.ProcessState, sig syscall.Signal) bool {
	ws, ok := state.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// TestCrashSIGKILL kills idxbuild at random points of a build over an
// existing index: OUT is always the complete old index or the complete new
// one. A kill while the temporary file exists leaves it behind, and only
// then.
func TestCrashSIGKILL(t *testing.T) {
	f := newCrashFixture(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var outcomes [2]int
	leftTemp := 0
	for _, delay := range f.delays(crashRuns(t), rng) {
		f.restore(t)
		run := f.runAndSignal(t, delay, syscall.SIGKILL)
		v := f.version(t)
		temps := f.temps(t)
		killed := signaled(run.state, syscall.SIGKILL)
		switch {
		case !killed && run.state.ExitCode() != 0:
			t.Fatalf("SIGKILL %v: exit %v\n%s", delay, run.state, run.stderr)
		case !killed && v != 1:
			t.Fatalf("SIGKILL %v: the build finished (exit 0) but OUT is the old index", delay)
		case len(temps) > 0 && v == 1:
			t.Fatalf("SIGKILL %v: OUT is the new index, and %q remain", delay, temps)
		case len(temps) > 1:
			t.Fatalf("SIGKILL %v: several temporary files remain: %q", delay, temps)
		}
		outcomes[v]++
		if len(temps) > 0 {
			leftTemp++
		}
	}
	t.Logf("%d kills: OUT old after %d, new after %d; %d left a temporary file", outcomes[0]+outcomes[1], outcomes[0], outcomes[1], leftTemp)
	if leftTemp == 0 {
		t.Errorf("no kill came while the temporary file existed: the test missed the writing")
	}
}

// TestCrashSignals stops idxbuild with SIGINT and SIGTERM at random points
// of a build over an existing index: it exits 130 or 143 with one line on
// standard error and OUT the old index, or, if the build had finished, 0
// with OUT the new index; either way no temporary file remains.
func TestCrashSignals(t *testing.T) {
	f := newCrashFixture(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		name := signalName(sig)
		t.Run(name, func(t *testing.T) {
			wantMsg := fmt.Sprintf("idxbuild: stopped by %s: %s left unchanged\n", name, f.out)
			var stopped, stoppedWriting, finished, early int
			var slowest time.Duration
			for _, delay := range f.delays(max(crashRuns(t)/2, 2), rng) {
				f.restore(t)
				run := f.runAndSignal(t, delay, sig)
				v := f.version(t)
				code := run.state.ExitCode()
				switch {
				case code == 128+int(sig) && v == 0:
					if run.stderr != wantMsg {
						t.Errorf("%s %v: stderr\n%q\nwant\n%q", name, delay, run.stderr, wantMsg)
					}
					stopped++
					if run.tmpBefore {
						stoppedWriting++
					}
					slowest = max(slowest, run.exited)
				case code == 0 && v == 1:
					finished++
				case signaled(run.state, sig) && v == 0:
					// The signal came before idxbuild listened for it.
					early++
				default:
					t.Fatalf("%s %v: %v, and OUT is the %s index; stderr:\n%s",
						name, delay, run.state, []string{"old", "new"}[v], run.stderr)
				}
				if temps := f.temps(t); len(temps) > 0 {
					t.Fatalf("%s %v (%v): temporary files remain: %q", name, delay, run.state, temps)
				}
			}
			t.Logf("stopped %d times (%d while writing the temporary file; slowest exit %v after the signal), finished %d, killed before start-up %d",
				stopped, stoppedWriting, slowest.Round(time.Millisecond), finished, early)
			if stoppedWriting == 0 {
				t.Errorf("no %s came while the temporary file existed: the test missed the clean-up", name)
			}
		})
	}
}

// TestSignalWhileReading stops idxbuild while it waits for more keys on
// standard input, a pipe whose writer stays silent: it stops at once, with
// OUT as it was. SIGHUP, which a build gets when its terminal goes away,
// stops it as cleanly as SIGINT and SIGTERM.
func TestSignalWhileReading(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		name := signalName(sig)
		for _, existing := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/existing OUT %v", name, existing), func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, "out.stru")
				const old = "the previous contents of OUT"
				if existing {
					writeFile(t, dir, "out.stru", old)
				}
				cmd, pw, stderr, done := startPiped(t, idxbuild, "-o", out)
				defer pw.Close()
				// Once idxbuild has taken 1 MiB of keys, far more than a
				// pipe holds, it is reading, and so listening for signals.
				if _, err := pw.Write(bytes.Repeat([]byte("key\n"), 1<<18)); err != nil {
					t.Fatal(err)
				}
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				waitStopped(t, cmd, done, sig, stderr)
				if want := fmt.Sprintf("idxbuild: stopped by %s: %s left unchanged\n", name, out); stderr.String() != want {
					t.Errorf("stderr\n%q\nwant\n%q", stderr.String(), want)
				}
				data, err := os.ReadFile(out)
				switch {
				case existing && string(data) != old:
					t.Errorf("OUT changed to %d bytes (%v), want it untouched", len(data), err)
				case !existing && !os.IsNotExist(err):
					t.Errorf("OUT exists after an interrupted build (%v)", err)
				}
				if es, _ := os.ReadDir(dir); len(es) != map[bool]int{false: 0, true: 1}[existing] {
					t.Errorf("directory holds %v", es)
				}
			})
		}
	}
}

// TestIgnoredSignals starts idxbuild, as nohup or sh's & would, with SIGHUP
// and SIGINT ignored, and sends it SIGHUP, SIGINT and then SIGTERM while
// it reads: the first two must stay ignored, so that SIGTERM, which it
// catches, is what stops it. (Had it caught SIGINT, the SIGINT sent before
// SIGTERM would stop it first: exit 130.)
func TestIgnoredSignals(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.stru")
	cmd, pw, stderr, done := startPiped(t, "/bin/sh", "-c", `trap '' HUP INT; exec "$0" "$@"`, idxbuild, "-o", out)
	defer pw.Close()
	// Once idxbuild has taken 1 MiB of keys, far more than a pipe holds,
	// the shell has become idxbuild, and it is reading.
	if _, err := pw.Write(bytes.Repeat([]byte("key\n"), 1<<18)); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM} {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	waitStopped(t, cmd, done, syscall.SIGTERM, stderr)
	if want := fmt.Sprintf("idxbuild: stopped by SIGTERM: %s left unchanged\n", out); stderr.String() != want {
		t.Errorf("stderr\n%q\nwant\n%q", stderr.String(), want)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("directory holds %v", es)
	}
}

// A queryProcess is idxquery reading keys from a pipe and answering each
// batch as it comes.
type queryProcess struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

// startQuery starts idxquery on the index at path.
func startQuery(t *testing.T, path string) *queryProcess {
	t.Helper()
	q := &queryProcess{cmd: exec.Command(idxquery, path)}
	q.cmd.Env = raceExitEnv()
	q.cmd.Stderr = &q.stderr
	in, err := q.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := q.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	q.in, q.out = in, bufio.NewReader(out)
	if err := q.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		q.cmd.Process.Kill()
		q.cmd.Wait()
	})
	return q
}

// ask sends keys and returns idxquery's answers, "present\tKEY" or
// "absent\tKEY", or the error that cut them short.
func (q *queryProcess) ask(keys []string) ([]string, error) {
	if _, err := io.WriteString(q.in, strings.Join(keys, "\n")+"\n"); err != nil {
		return nil, err
	}
	var answers []string
	for range keys {
		line, err := q.out.ReadString('\n')
		if err != nil {
			return answers, err
		}
		answers = append(answers, strings.TrimSuffix(line, "\n"))
	}
	return answers, nil
}

// wait closes idxquery's input and waits for it to exit.
func (q *queryProcess) wait() *os.ProcessState {
	q.in.Close()
	io.Copy(io.Discard, q.out)
	q.cmd.Wait()
	return q.cmd.ProcessState
}

// TestReplaceUnderReader replaces an index that a running idxquery has
// mapped, with a smaller one. Through idxbuild, which renames, idxquery
// keeps answering from the old file and the new file has a new inode. With
// cp, which rewrites the file in place, idxquery's next lookups read pages
// the file no longer has (SIGBUS): it stops with one line naming the file,
// exit status 2 — the reason a mapped index must only be replaced by a
// rename.
func TestReplaceUnderReader(t *testing.T) {
	dir := t.TempDir()
	var oldKeys, newKeys []string
	for i := range 50_000 {
		oldKeys = append(oldKeys, fmt.Sprintf("old-%06d", i))
	}
	for i := range 100 {
		newKeys = append(newKeys, fmt.Sprintf("new-%03d", i))
	}
	oldInput := writeFile(t, dir, "old.txt", strings.Join(oldKeys, "\n"))
	newInput := writeFile(t, dir, "new.txt", strings.Join(newKeys, "\n"))
	oldIndex, newIndex := filepath.Join(dir, "old.stru"), filepath.Join(dir, "new.stru")
	for _, b := range [][2]string{{oldIndex, oldInput}, {newIndex, newInput}} {
		if res := clitest.Run(t, nil, idxbuild, "-q", "-o", b[0], b[1]); res.Code != 0 {
			t.Fatalf("idxbuild -o %s: exit %d\n%s", b[0], res.Code, res.Stderr)
		}
	}
	oldData, err := os.ReadFile(oldIndex)
	if err != nil {
		t.Fatal(err)
	}
	// Old keys from all over the file, and new ones.
	var sample, wantOld, wantNew []string
	for i := 0; i < len(oldKeys); i += 250 {
		sample = append(sample, oldKeys[i])
		wantOld, wantNew = append(wantOld, "present\t"+oldKeys[i]), append(wantNew, "absent\t"+oldKeys[i])
	}
	for _, k := range newKeys[:10] {
		sample = append(sample, k)
		wantOld, wantNew = append(wantOld, "absent\t"+k), append(wantNew, "present\t"+k)
	}
	inode := func(path string) uint64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	// setup makes OUT a fresh copy of the old index and starts idxquery on
	// it, checking its first answers.
	setup := func(t *testing.T) (out string, q *queryProcess) {
		t.Helper()
		out = filepath.Join(t.TempDir(), "out.stru")
		if err := os.WriteFile(out, oldData, 0o644); err != nil {
			t.Fatal(err)
		}
		q = startQuery(t, out)
		if got, err := q.ask(sample); err != nil || !slices.Equal(got, wantOld) {
			t.Fatalf("idxquery answers %d of %d keys as the old index should (%v); stderr:\n%s", countEqual(got, wantOld), len(sample), err, &q.stderr)
		}
		return out, q
	}

	t.Run("idxbuild renames", func(t *testing.T) {
		out, q := setup(t)
		before := inode(out)
		if res := clitest.Run(t, nil, idxbuild, "-q", "-o", out, newInput); res.Code != 0 {
			t.Fatalf("idxbuild: exit %d\n%s", res.Code, res.Stderr)
		}
		if inode(out) == before {
			t.Errorf("OUT has the same inode after idxbuild: it was written in place")
		}
		got, err := q.ask(sample)
		if err != nil || !slices.Equal(got, wantOld) {
			t.Errorf("after idxbuild replaced OUT, the running idxquery answers %d of %d keys as the old index (%v); stderr:\n%s",
				countEqual(got, wantOld), len(sample), err, &q.stderr)
		}
		if state := q.wait(); state.ExitCode() != 1 { // 1: some keys absent
			t.Errorf("idxquery: %v, want exit status 1; stderr:\n%s", state, &q.stderr)
		}
		fresh := startQuery(t, out)
		if got, err := fresh.ask(sample); err != nil || !slices.Equal(got, wantNew) {
			t.Errorf("a new idxquery answers %d of %d keys as the new index (%v)", countEqual(got, wantNew), len(sample), err)
		}
	})

	t.Run("cp in place", func(t *testing.T) {
		out, q := setup(t)
		before := inode(out)
		if msg, err := exec.Command("cp", newIndex, out).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, msg)
		}
		if inode(out) != before {
			t.Fatalf("cp gave OUT a new inode: this cp does not write in place")
		}
		got, err := q.ask(sample)
		state := q.wait()
		if err == nil {
			t.Fatalf("idxquery still answers after cp rewrote its file in place (%d of %d as the old index)", countEqual(got, wantOld), len(sample))
		}
		if state.ExitCode() != 2 {
			t.Errorf("idxquery: %v, want exit status 2", state)
		}
		line := clitest.OneLineError(t, q.stderr.String(), "idxquery: "+out+": memory fault reading the mapped file")
		t.Logf("idxquery after cp: %v after %d answers: %s", state, len(got), line)
	})
}

// countEqual returns how many elements of got equal want's at the same
// index.
func countEqual(got, want []string) int {
	n := 0
	for i := range min(len(got), len(want)) {
		if got[i] == want[i] {
			n++
		}
	}
	return n
}
