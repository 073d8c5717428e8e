// Command idxbuild builds a STRU index file from lists of keys.
//
// Usage:
//
//	idxbuild [-0] [-q] [--seed HEX] [--load-factor F] [--filter-bits N] [--sorted] [--mem SIZE] [--tmp-dir DIR] -o OUT [FILE...]
//	idxbuild --pebble DIR [--prefix P [--strip-prefix]] [--lower L] [--upper U] [-q] [--seed HEX] [--load-factor F] [--filter-bits N] [--mem SIZE] [--tmp-dir DIR] -o OUT
//
// Run "idxbuild -h" for the full description of the input format, the
// flags, the output and the exit status.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/cmd/internal/cliflag"
	"github.com/stru-index/stru/cmd/internal/keyio"
	"github.com/stru-index/stru/index"
)

const usage = `usage: idxbuild [-0] [-q] [--seed HEX] [--load-factor F] [--filter-bits N]
                [--sorted] [--mem SIZE] [--tmp-dir DIR] -o OUT [FILE...]
       idxbuild --pebble DIR [--prefix P [--strip-prefix]] [--lower L] [--upper U]
                [-q] [--seed HEX] [--load-factor F] [--filter-bits N]
                [--mem SIZE] [--tmp-dir DIR] -o OUT

idxbuild reads keys from each FILE in turn, or from standard input when no
FILE is given or FILE is "-", and writes the set of distinct keys as a STRU
index file OUT.

OUT is replaced atomically: idxbuild writes a temporary file ".OUT.tmp-N"
in OUT's directory, fsyncs it, and renames it to OUT; OUT is never written
in place. Programs that have the old OUT open or mapped keep reading it
whole. A build that fails or is interrupted leaves OUT as it was and
removes its temporary files. Only a build killed outright (SIGKILL, the
out-of-memory killer, a power loss) can leave a ".OUT.tmp-N" file behind,
and a ".stru-tmp-N" directory of spilled keys in the temporary directory
(--tmp-dir), never a partial OUT; nothing reads those, and they can be
removed.
OUT must be a regular file or not exist: a directory, a device such as
/dev/null or a named pipe is refused before any key is read, as is an OUT
whose directory is missing or does not let idxbuild create a file (it
creates and removes one to find out), and a symbolic link at OUT is
replaced by the index, not followed. OUT gets mode 0666 less the umask,
as a file the shell's ">" creates, whatever the mode of the file it
replaces.

Input: one key per line. A line ends at a newline ("\n"); one "\r" at the
end of a line (just before its newline, or last in an input whose last
line has none) is removed, so files with CRLF line endings work, while a
"\r" anywhere else is part of the key. An empty line is the empty key. The
last line need not end with a newline. Keys are bytes: any encoding, any
byte but the delimiter, at most 65535 bytes each; a longer key is an
error that names FILE:LINE. Duplicate keys are dropped and counted.

Flags (they must come before the FILE arguments; an empty value, as from an
unset shell variable, is a usage error for -o, --seed, --mem, --tmp-dir and
--pebble):
  -o OUT             write the index to OUT (required)
  -0                 keys end at NUL bytes instead of newlines, and nothing
                     is removed from them (for find -print0, xargs -0)
  --seed HEX         fix the 128-bit SipHash key as 32 hex digits, the 16
                     bytes of the key in order; the same keys and seed give
                     a byte-identical file whatever the input order
                     (default: a fresh random key for each build)
  --load-factor F    fraction of hash table slots used, in [0.05, 0.95]
                     (default 0.8); lower is larger and slightly faster
  --filter-bits N    bits per key of the filter that answers most lookups of
                     absent keys without the hash table, in [0, 64]
                     (default 6: 0.75 bytes a key, about 6% of absent keys
                     get past it); 0 for no filter, which makes lookups of
                     present keys 5–20% faster and of absent keys 2.5–4
                     times slower
  -q                 quiet: no progress display and no summary
  -h, --help         print this help

` + budgetUsage + `
` + pebbleUsage + `
While it runs, progress (keys read and their rate, then "sorting, placing
and writing") is shown on standard error when it is a terminal. At the
end a one-line summary goes to standard error:

  idxbuild: wrote OUT: N keys (D duplicates dropped), B bytes, X bytes/key overhead, S s

where overhead is the file size minus the key bytes, per key (with no
keys, the whole file).

Exit status: 0 on success, 1 on failure (unreadable input, a key too long,
an error writing OUT), 2 on a usage error, 130 when stopped by SIGINT,
143 when stopped by SIGTERM and 129 when stopped by SIGHUP (128 plus the
signal number, as shells report a process killed by the signal); a
signal that idxbuild was started with set to be ignored (by nohup, or
by sh for a command run in the background with &) stays ignored. A
signal that arrives after OUT has been replaced does not undo the build,
which then ends normally.
`

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitUsage  = 2
	exitSignal = 128 // plus the signal number
)

// stdinName names standard input in messages.
const stdinName = "<stdin>"

func main() {
	// A standard error whose reader has gone must not turn a build that
	// has replaced OUT into a death by SIGPIPE (exit 141) when the
	// summary is written: with SIGPIPE ignored, the write fails instead,
	// and the exit status says what happened to OUT.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// A stopSignal is the cause of the cancellation of a build stopped by
// SIGINT, SIGTERM or SIGHUP.
type stopSignal struct{ sig syscall.Signal }

func (s stopSignal) Error() string { return "stopped by " + signalName(s.sig) }

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

// stopSignals are the signals that stop a build cleanly: SIGHUP too, which
// a build gets when its terminal or its ssh session goes away.
var stopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// onSignal returns a context canceled, with a stopSignal as its cause,
// when one of stopSignals arrives. (signal.NotifyContext would do, but its
// cause does not hold the signal, which decides the exit status.) After
// the first signal the default action is restored, so that a second one
// kills idxbuild at once. Otherwise the signals stay caught until idxbuild
// exits: a signal arriving after the build has finished, while idxbuild
// exits, must not turn its success into a death by signal. A signal that
// idxbuild was started with set to be ignored stays ignored: the SIGINT
// of a command that a script runs in the background (sh ignores it there,
// so that ^C stops the script but not the command), the SIGHUP of nohup,
// a signal a shell script traps with an empty command. signal.Notify
// would undo that.
func onSignal() context.Context {
	var caught []os.Signal
	for _, sig := range stopSignals {
		if !signal.Ignored(sig) {
			caught = append(caught, sig)
		}
	}
	if len(caught) == 0 {
		return context.Background() // signal.Notify with no signal would catch them all
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, caught...)
	go func() {
		sig := <-sigs
		signal.Stop(sigs)
		cancel(stopSignal{sig.(syscall.Signal)})
	}()
	return ctx
}

// config is the parsed command line.
type config struct {
	out        string
	files      []string
	nul, quiet bool
	opts       builder.Options
	pebble     pebbleConfig // --pebble and its flags (pebble.go)
	sorted     bool         // --sorted (sorted.go)
	tmpDir     string       // --tmp-dir
	temps      tempGuard    // the temporary files of the build
}

// run runs idxbuild with the given arguments and returns its exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		if _, err := io.WriteString(stdout, usage); err != nil {
			fmt.Fprintf(stderr, "idxbuild: writing the help: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "idxbuild: %v (run 'idxbuild -h' for help)\n", err)
		return exitUsage
	}
	setMemoryLimit(cfg.opts.MemoryBudget)
	ctx := onSignal()
	err = buildInterruptible(ctx, cfg, stdin, stderr)
	var sig stopSignal
	switch {
	case err == nil:
		return exitOK
	case errors.As(context.Cause(ctx), &sig) && errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "idxbuild: %v: %s left unchanged\n", sig, cfg.out)
		return exitSignal + int(sig.sig)
	default:
		fmt.Fprintf(stderr, "idxbuild: %v\n", err)
		return exitFail
	}
}

// Phases of a build, for buildInterruptible.
const (
	reading   = iota // reading keys: nothing is on disk but cfg.temps
	writing          // writing OUT: the builder cleans up if canceled
	abandoned        // canceled while reading
)

// buildInterruptible runs build and returns its error, or ctx's error once
// ctx is canceled while the keys are still being read. Reading checks ctx
// between batches of keys, but a read from a pipe may block for as long
// as the writer at the other end is silent; since nothing is on disk
// before the writing starts but the temporary files cfg.temps holds
// (runs of a large input, the stream of --sorted), which abandon
// removes, idxbuild can then stop at once, leaving build waiting. Once
// writing has started, buildInterruptible waits for build, which notices
// the cancellation within one chunk of writing and removes its temporary
// file.
func buildInterruptible(ctx context.Context, cfg *config, stdin io.Reader, stderr io.Writer) error {
	var phase atomic.Int32 // reading, writing or abandoned
	done := make(chan error, 1)
	go func() {
		done <- build(ctx, cfg, stdin, stderr, func() bool {
			return phase.CompareAndSwap(reading, writing)
		})
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if phase.CompareAndSwap(reading, abandoned) {
			cfg.temps.abandon() // the runs spilled so far
			return ctx.Err()
		}
		return <-done
	}
}

// parseArgs parses and checks the command line.
func parseArgs(args []string) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("idxbuild", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints the one-line error or the usage
	fs.Usage = func() {}
	var seed string
	loadFactor := builder.DefaultLoadFactor
	filterBits := builder.DefaultFilterBitsPerKey
	fs.StringVar(&cfg.out, "o", "", "")
	fs.BoolVar(&cfg.nul, "0", false, "")
	fs.BoolVar(&cfg.quiet, "q", false, "")
	fs.StringVar(&seed, "seed", "", "")
	fs.Float64Var(&loadFactor, "load-factor", loadFactor, "")
	fs.Func("filter-bits", "", func(s string) error {
		// Decimal, as the help says: flag.Int would read "010" as octal 8.
		n, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("not a decimal integer")
		}
		filterBits = n
		return nil
	})
	cfg.pebble.define(fs)
	var mem string
	fs.BoolVar(&cfg.sorted, "sorted", false, "")
	fs.StringVar(&mem, "mem", "", "")
	fs.StringVar(&cfg.tmpDir, "tmp-dir", "", "")
	if err := cliflag.Parse(fs, args); err != nil {
		return nil, err
	}
	// An empty value given on purpose (--seed "$SEED" with SEED unset)
	// would otherwise mean the default: a random key, silently.
	// (--prefix, --lower and --upper can mean the empty key.)
	var empty []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "o", "seed", "mem", "tmp-dir", "pebble":
			if f.Value.String() == "" {
				empty = append(empty, flagName(f.Name))
			}
		}
	})
	if len(empty) > 0 {
		return nil, fmt.Errorf("%s given an empty value", strings.Join(empty, " and "))
	}
	cfg.files = fs.Args()
	if err := cliflag.MisplacedFlag(fs, args); err != nil {
		return nil, err
	}
	if err := cfg.pebble.check(cfg); err != nil {
		return nil, err
	}
	if cfg.out == "" {
		return nil, errors.New("missing -o OUT, the file to write")
	}
	if !(loadFactor >= builder.MinLoadFactor && loadFactor <= builder.MaxLoadFactor) {
		return nil, fmt.Errorf("--load-factor %v is outside [%v, %v]", loadFactor, builder.MinLoadFactor, builder.MaxLoadFactor)
	}
	cfg.opts.LoadFactor = loadFactor
	switch {
	case filterBits < 0 || filterBits > builder.MaxFilterBitsPerKey:
		return nil, fmt.Errorf("--filter-bits %d is outside [0, %d]", filterBits, builder.MaxFilterBitsPerKey)
	case filterBits == 0:
		cfg.opts.FilterBitsPerKey = -1 // no filter
	default:
		cfg.opts.FilterBitsPerKey = filterBits
	}
	if cfg.sorted && cfg.pebble.dir != "" {
		return nil, errors.New("--sorted is for key lists: the keys of --pebble DIR always come sorted")
	}
	if mem != "" {
		budget, err := parseSize(mem)
		if err != nil {
			return nil, err
		}
		cfg.opts.MemoryBudget = budget
	}
	cfg.opts.TempDir = cfg.tempDir()
	if seed != "" {
		key, err := parseSeed(seed)
		if err != nil {
			return nil, err
		}
		cfg.opts.HashKey = key
	}
	return cfg, nil
}

// flagName returns how the help writes the flag name: "-o", "--seed".
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// parseSeed decodes the --seed value: exactly 32 hex digits.
func parseSeed(s string) (*index.HashKey, error) {
	var key index.HashKey
	notHex := func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF", r) }
	if strings.ContainsFunc(s, notHex) {
		return nil, fmt.Errorf("--seed %q is not hexadecimal", s)
	}
	if len(s) != 2*len(key) {
		return nil, fmt.Errorf("--seed %q is %d hex digits, want exactly %d", s, len(s), 2*len(key))
	}
	hex.Decode(key[:], []byte(s)) // 32 hex digits: cannot fail
	return &key, nil
}

// build reads the keys and writes the index. Before it starts writing it
// calls startWriting, and returns ctx's error if that returns false.
func build(ctx context.Context, cfg *config, stdin io.Reader, stderr io.Writer, startWriting func() bool) error {
	if err := cfg.checkTempDir(); err != nil {
		return err
	}
	// Before reading any key: WriteFile checks OUT too, but only once
	// every key has been read.
	if err := builder.CheckDestination(cfg.out); err != nil {
		return withoutPrefix{err}
	}
	if cfg.pebble.dir != "" {
		return buildPebble(ctx, cfg, stderr, startWriting)
	}
	if cfg.sorted {
		return buildSorted(ctx, cfg, stdin, stderr, startWriting)
	}
	start := time.Now()
	b, err := builder.New(cfg.opts)
	if err != nil {
		return err
	}
	if !cfg.temps.hold(b.Close) { // Close removes the runs the Builder spills
		return ctx.Err()
	}
	defer cfg.temps.release()
	progress := newProgress(stderr, cfg.quiet)
	files := cfg.files
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		if err := addFile(ctx, cfg, b, name, stdin, progress); err != nil {
			progress.finish()
			return err
		}
	}
	if !startWriting() {
		progress.finish()
		return ctx.Err()
	}
	progress.building(cfg.out)
	err = b.WriteFileContext(ctx, cfg.out)
	progress.finish()
	if err != nil {
		return withoutPrefix{err}
	}
	printSummary(stderr, cfg, b.Stats(), start)
	return nil
}

// printSummary prints, unless cfg.quiet, the one line idxbuild ends with
// when it has written cfg.out, started at start.
func printSummary(stderr io.Writer, cfg *config, s builder.Stats, start time.Time) {
	if !cfg.quiet {
		fmt.Fprintf(stderr, "idxbuild: wrote %s: %d keys (%d duplicates dropped), %d bytes, %.1f bytes/key overhead, %.2f s\n",
			cfg.out, s.Keys, s.Duplicates, s.FileBytes, s.OverheadPerKey(), time.Since(start).Seconds())
	}
}

// withoutPrefix is an error of package builder without the "stru: " its
// message starts with, which would repeat the "idxbuild: " before it.
type withoutPrefix struct{ error }

func (e withoutPrefix) Error() string { return strings.TrimPrefix(e.error.Error(), "stru: ") }
func (e withoutPrefix) Unwrap() error { return e.error }

// readCheckEvery is how many keys scanFile reads between two checks of its
// context.
const readCheckEvery = 4096

// scanFile calls each for every key of the file name ("-" for stdin), in
// order, counting it in progress, and returns ctx's error once ctx is
// canceled. display is the name to give in messages.
func scanFile(ctx context.Context, cfg *config, name string, stdin io.Reader, progress *progress, each func(sc *keyio.Scanner, display string) error) error {
	r, display := stdin, stdinName
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r, display = f, name
	}
	sc := keyio.NewScanner(r, display, cfg.nul)
	for sc.Scan() {
		if sc.Line()%readCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := each(sc, display); err != nil {
			return err
		}
		progress.add()
	}
	return sc.Err()
}

// addFile adds the keys of the file name ("-" for stdin) to b. It returns
// ctx's error once ctx is canceled.
func addFile(ctx context.Context, cfg *config, b *builder.Builder, name string, stdin io.Reader, progress *progress) error {
	return scanFile(ctx, cfg, name, stdin, progress, func(sc *keyio.Scanner, display string) error {
		// Add fails when writing a run fails; Scan has checked the length.
		// The line is not at fault: it says how far the input was read.
		if err := cfg.temps.add(b.Add, sc.Bytes()); err != nil {
			if errors.Is(err, errAbandoned) {
				return err
			}
			return fmt.Errorf("%v (having read %s:%d)", withoutPrefix{err}, display, sc.Line())
		}
		return nil
	})
}

// A progress shows keys read and the rate on a terminal. Its methods do
// nothing when bar is nil: when standard error is not a terminal, or -q.
type progress struct {
	bar     *progressbar.ProgressBar
	pending int64 // keys read but not yet passed to bar
}

// progressBatch keys are counted locally before being passed to the bar,
// which takes a lock; the bar redraws at most every progressThrottle.
const (
	progressBatch    = 4096
	progressThrottle = 100 * time.Millisecond
)

func newProgress(stderr io.Writer, quiet bool) *progress {
	f, ok := stderr.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription("idxbuild: reading keys"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowTotalBytes(false),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("keys"),
		progressbar.OptionThrottle(progressThrottle),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
	)}
}

// add counts one key read.
func (p *progress) add() {
	if p.bar == nil {
		return
	}
	if p.pending++; p.pending == progressBatch {
		p.bar.Add64(p.pending)
		p.pending = 0
	}
}

// building switches the display from reading to writing out.
func (p *progress) building(out string) {
	if p.bar == nil {
		return
	}
	p.bar.Add64(p.pending)
	p.pending = 0
	p.bar.Describe("idxbuild: sorting, placing and writing " + strconv.Quote(out))
}

// finish removes the display.
func (p *progress) finish() {
	if p.bar == nil {
		return
	}
	p.bar.Finish()
	p.bar.Clear()
	p.bar = nil
}
