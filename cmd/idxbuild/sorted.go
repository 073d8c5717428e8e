package main

// idxbuild --sorted, --mem and --tmp-dir: builds larger than memory.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/cmd/internal/keyio"
)

// budgetUsage is the part of the usage about memory and sorted input.
const budgetUsage = `Large inputs:
  --mem SIZE         memory budget for keys, hashes and the hash table
                     (default 512MiB): beyond it idxbuild sorts the keys in
                     runs written to temporary files, merges them, and
                     places the hash table a range of blocks at a time;
                     the output is the same. SIZE is a number of bytes,
                     or a number with a unit: KiB, MiB, GiB (powers of
                     1024) or KB, MB, GB (powers of 1000), e.g. 2GiB;
                     at least 64KiB. SIZE counts what the build holds, not
                     buffers or garbage not yet collected: the process's
                     peak resident memory measured up to 1.6 × SIZE +
                     60MiB (5 million keys: 158MiB at 64MiB, 398MiB at
                     256MiB).
  --tmp-dir DIR      directory for the temporary files (default: OUT's
                     directory); they are removed when idxbuild ends,
                     whether it succeeds, fails or is interrupted. OUT's
                     own temporary file is always in OUT's directory,
                     which needs room for the whole output
  --sorted           the input is already sorted in ascending byte order
                     (as LC_ALL=C sort writes it, or a database dump;
                     sort orders CRLF lines with their "\r", which
                     idxbuild removes, so sort those after tr -d '\r'):
                     the keys stream to disk instead of being sorted, and
                     memory holds what placing them in the hash table
                     needs, about 26 bytes a key, within SIZE. The order
                     is checked while reading: a line that sorts before
                     the line above it is an error naming FILE:LINE, and
                     nothing is written. Repeated lines are duplicates.
`

// minBudget is the smallest --mem.
const minBudget = 64 << 10

// parseSize parses a --mem value: a decimal number of bytes, possibly
// fractional, with an optional unit of KiB, MiB, GiB, KB, MB or GB (any
// case, optionally after a space).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		scale  float64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1},
	}
	num, scale := strings.ToLower(strings.TrimSpace(s)), 1.0
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, scale = strings.TrimSpace(n), u.scale
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" || strings.ContainsAny(num, "eExXpP_") || math.IsNaN(v) {
		return 0, fmt.Errorf("--mem %q is not a size such as 512MiB, 2GiB or 1000000", s)
	}
	bytes := v * scale
	switch {
	case bytes < minBudget:
		return 0, fmt.Errorf("--mem %q is less than the minimum of 64KiB", s)
	case bytes >= math.MaxInt64:
		return 0, fmt.Errorf("--mem %q is too large", s)
	}
	return int64(bytes), nil
}

// setMemoryLimit sets the Go runtime's soft memory limit a little above
// the builder's budget, so that the garbage collector frees the memory of
// one phase of the build before the next phase allocates its own, unless
// GOMEMLIMIT is set.
func setMemoryLimit(budget int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if budget == 0 {
		budget = builder.DefaultMemoryBudget
	}
	debug.SetMemoryLimit(budget + budget/4 + 64<<20)
}

// tempDir returns the directory for temporary files: --tmp-dir, or OUT's.
func (cfg *config) tempDir() string {
	if cfg.tmpDir != "" {
		return cfg.tmpDir
	}
	return filepath.Dir(cfg.out)
}

// checkTempDir checks that --tmp-dir, if given, is a directory, so that a
// mistyped DIR fails at once rather than when the first run is written.
func (cfg *config) checkTempDir() error {
	if cfg.tmpDir == "" {
		return nil
	}
	fi, err := os.Stat(cfg.tmpDir)
	if err != nil {
		return fmt.Errorf("--tmp-dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--tmp-dir %s is not a directory", cfg.tmpDir)
	}
	return nil
}

// A tempGuard lets the main goroutine remove the temporary files of a
// build whose goroutine it abandons, while that goroutine may be adding a
// key (which can write a run) or blocked reading input. The build
// goroutine adds every key through add, and registers the function that
// removes its files with hold; abandon takes the lock, so it waits for a
// key being added, removes the files and stops any later add.
type tempGuard struct {
	mu        sync.Mutex
	remove    func() error // removes the files; nil when none are held
	abandoned bool
}

// errAbandoned is what add returns once the build is abandoned.
var errAbandoned = errors.New("build abandoned")

// hold registers remove as the function that removes the build's
// temporary files. It returns false if the build is already abandoned,
// having called remove.
func (g *tempGuard) hold(remove func() error) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.abandoned {
		remove()
		return false
	}
	g.remove = remove
	return true
}

// add calls add(key) unless the build is abandoned.
func (g *tempGuard) add(add func([]byte) error, key []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.abandoned {
		return errAbandoned
	}
	return add(key)
}

// do calls f unless the build is abandoned, so that f, which may create
// temporary files, does not run while abandon removes them.
func (g *tempGuard) do(f func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.abandoned {
		return errAbandoned
	}
	return f()
}

// release removes the temporary files held, if any, and forgets them.
func (g *tempGuard) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.remove != nil {
		g.remove()
		g.remove = nil
	}
}

// abandon removes the temporary files held and makes every later add and
// hold fail.
func (g *tempGuard) abandon() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.abandoned = true
	if g.remove != nil {
		g.remove()
		g.remove = nil
	}
}

// buildSorted is build for --sorted: the keys stream through a
// SortedWriter, which checks their order.
func buildSorted(ctx context.Context, cfg *config, stdin io.Reader, stderr io.Writer, startWriting func() bool) error {
	start := time.Now()
	w, err := builder.NewSortedWriter(ctx, cfg.out, cfg.opts)
	if err != nil {
		return withoutPrefix{err}
	}
	if !cfg.temps.hold(w.Abort) {
		return ctx.Err()
	}
	defer cfg.temps.release()
	files := cfg.files
	if len(files) == 0 {
		files = []string{"-"}
	}
	// Regular files can be read twice: counting their keys first lets
	// the key data stream straight into OUT's temporary file.
	keys, keyBytes, maxLen, ok, err := countKeys(ctx, cfg, files)
	if err != nil {
		return err
	}
	if ok {
		// Expect creates OUT's temporary file, which Abort must not miss.
		expect := func() error { return w.Expect(keys, keyBytes, maxLen) }
		if err := cfg.temps.do(expect); err != nil {
			return withoutPrefix{err}
		}
	}
	progress := newProgress(stderr, cfg.quiet)
	var prev position // where the last key came from
	for _, name := range files {
		if err := addSortedFile(ctx, cfg, w, name, stdin, &prev, progress); err != nil {
			progress.finish()
			return err
		}
	}
	if !startWriting() {
		progress.finish()
		return ctx.Err()
	}
	progress.building(cfg.out)
	err = w.Close()
	progress.finish()
	if err != nil {
		return withoutPrefix{err}
	}
	printSummary(stderr, cfg, w.Stats(), start)
	return nil
}

// countKeys counts the keys of the inputs, their bytes and the longest,
// as they will be read, and reports true, if every input is a regular file;
// it reports false at once otherwise (standard input, a pipe: what can be
// read only once).
func countKeys(ctx context.Context, cfg *config, files []string) (keys, keyBytes uint64, maxLen uint32, ok bool, err error) {
	for _, name := range files {
		if name == "-" {
			return 0, 0, 0, false, nil
		}
		if fi, err := os.Stat(name); err != nil || !fi.Mode().IsRegular() {
			return 0, 0, 0, false, nil // the reading reports the error
		}
	}
	for _, name := range files {
		err := scanFile(ctx, cfg, name, nil, &progress{}, func(sc *keyio.Scanner, _ string) error {
			keys++
			keyBytes += uint64(len(sc.Bytes()))
			maxLen = max(maxLen, uint32(len(sc.Bytes())))
			return nil
		})
		if err != nil {
			return 0, 0, 0, false, err
		}
	}
	return keys, keyBytes, maxLen, true, nil
}

// A position is a line of an input.
type position struct {
	name string
	line int64
}

func (p position) String() string { return fmt.Sprintf("%s:%d", p.name, p.line) }

// addSortedFile adds the keys of the file name ("-" for stdin) to w, and
// keeps in prev where the last one came from.
func addSortedFile(ctx context.Context, cfg *config, w *builder.SortedWriter, name string, stdin io.Reader, prev *position, progress *progress) error {
	return scanFile(ctx, cfg, name, stdin, progress, func(sc *keyio.Scanner, display string) error {
		if err := cfg.temps.add(w.Add, sc.Bytes()); err != nil {
			at := position{display, sc.Line()}
			var oe *builder.OrderError
			if errors.As(err, &oe) {
				return fmt.Errorf("%v: the input is not sorted: %s sorts before %s, the line before it (%v); --sorted needs keys in ascending byte order, as LC_ALL=C sort writes them%s",
					at, quote(oe.Key), quote(oe.Prev), *prev, crlfHint(oe, sc.RemovedCR()))
			}
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errAbandoned) {
				return err
			}
			// Writing a temporary file failed (Scan has checked the
			// length): the line is not at fault.
			return fmt.Errorf("%v (having read %v)", withoutPrefix{err}, at)
		}
		*prev = position{display, sc.Line()}
		return nil
	})
}

// crlfHint explains an order error that CRLF lines sorted by sort(1)
// cause: sort compares "k\r" with "k\tx\r" and puts the longer first,
// since "\t" < "\r", while the keys, without their "\r", are "k" and
// "k\tx", where the shorter sorts first. That is the case when the key's
// line ended in "\r\n" (cr), the key is a proper prefix of the one before
// and the byte after it there is below "\r"; else it returns "".
func crlfHint(oe *builder.OrderError, cr bool) string {
	if !cr || !bytes.HasPrefix(oe.Prev, oe.Key) || len(oe.Prev) == len(oe.Key) || oe.Prev[len(oe.Key)] >= '\r' {
		return ""
	}
	return `: the lines end in "\r\n", and sort compares them with their "\r", which idxbuild removes; sort them after tr -d '\r'`
}

// quote returns key quoted for a message, shortened past 64 bytes.
func quote(key []byte) string {
	if len(key) > 64 {
		return strconv.Quote(string(key[:64])) + "..."
	}
	return strconv.Quote(string(key))
}
