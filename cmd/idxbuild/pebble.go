package main

// idxbuild --pebble: the keys of a Pebble database as the input.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/builder/pebblesrc"
)

// pebbleUsage is the part of the usage about --pebble.
const pebbleUsage = `Pebble databases: with --pebble DIR, the keys are those of the Pebble
(github.com/cockroachdb/pebble/v2) database in the directory DIR, and no
FILE may be given. Values are ignored. DIR is opened read-only: nothing in
it is written or removed, but Pebble opens its LOCK file for writing to
lock it (creating it if missing, and updating its modification time), so
LOCK, or DIR if there is no LOCK, must be writable. Keys are read in
ascending byte order and stream to OUT. The database must use Pebble's
default comparer and merger, and keep its write-ahead log in DIR (no
Options.WALDir): otherwise Pebble refuses to open it, and it must be
indexed from the process that has its options (package pebblesrc).
--mem and --tmp-dir apply as for key lists.
  --pebble DIR       read the keys of the database in DIR
  --prefix P         only the keys that start with the bytes of P
  --strip-prefix     remove P from the start of each key indexed
  --lower L          only the keys >= L (byte order)
  --upper U          only the keys < U
P, L and U are the bytes of the arguments as given. The keys read are those
inside both the bounds and the prefix.

A database that another process has open cannot be read: Pebble lets one
process at a time open it, and idxbuild fails with "DIR is in use by
another process", exit status 1, leaving the database and that process
undisturbed. To index a live database, make a checkpoint of it from the
process that has it open, with
  db.Checkpoint(CKDIR, pebble.WithFlushedWAL())
and run idxbuild --pebble CKDIR; or, inside that process, build from a
db.NewSnapshot() with package github.com/stru-index/stru/builder/pebblesrc.
`

// pebbleConfig is the part of the command line about --pebble.
type pebbleConfig struct {
	dir                  string // --pebble DIR: "" for key lists
	strip                bool
	prefix, lower, upper optionalString // --prefix "" is given, and selects every key
}

// An optionalString is a flag's value and whether it was given.
type optionalString struct {
	value string
	set   bool
}

func (s *optionalString) Set(v string) error { s.value, s.set = v, true; return nil }
func (s *optionalString) String() string     { return s.value }

// bytes returns the value, or nil when not given.
func (s *optionalString) bytes() []byte {
	if !s.set {
		return nil
	}
	return []byte(s.value)
}

// define defines the flags of p in fs.
func (p *pebbleConfig) define(fs *flag.FlagSet) {
	fs.StringVar(&p.dir, "pebble", "", "")
	fs.Var(&p.prefix, "prefix", "")
	fs.BoolVar(&p.strip, "strip-prefix", false, "")
	fs.Var(&p.lower, "lower", "")
	fs.Var(&p.upper, "upper", "")
}

// check checks p against the rest of the command line.
func (p *pebbleConfig) check(cfg *config) error {
	if p.dir == "" {
		if p.prefix.set || p.strip || p.lower.set || p.upper.set {
			return errors.New("--prefix, --strip-prefix, --lower and --upper need --pebble DIR")
		}
		return nil
	}
	switch {
	case len(cfg.files) > 0:
		return fmt.Errorf("--pebble reads the keys of DIR: no FILE may be given (got %q)", cfg.files[0])
	case cfg.nul:
		return errors.New("-0 is for key lists, not --pebble")
	case p.strip && !p.prefix.set: // --prefix "" --strip-prefix strips nothing, as a script may ask
		return errors.New("--strip-prefix needs --prefix P")
	case p.lower.set && p.upper.set && p.lower.value > p.upper.value:
		return fmt.Errorf("--lower %q is above --upper %q", p.lower.value, p.upper.value)
	}
	return nil
}

// options returns the pebblesrc options p selects.
func (p *pebbleConfig) options() pebblesrc.Options {
	return pebblesrc.Options{
		Lower:       p.lower.bytes(),
		Upper:       p.upper.bytes(),
		Prefix:      p.prefix.bytes(),
		StripPrefix: p.strip,
	}
}

// buildPebble writes the index of the keys of the database in
// cfg.pebble.dir. It calls startWriting before it opens the database, and
// returns ctx's error if that returns false: reading and writing go
// together, and a build that is canceled cleans up before it returns.
func buildPebble(ctx context.Context, cfg *config, stderr io.Writer, startWriting func() bool) error {
	start := time.Now()
	if !startWriting() {
		return ctx.Err()
	}
	dir := cfg.pebble.dir
	db, err := pebblesrc.OpenReadOnly(dir, &pebble.Options{Logger: pebbleLogger{stderr}})
	switch {
	case errors.Is(err, pebblesrc.ErrInUse):
		return fmt.Errorf("%s is in use by another process, which holds its LOCK file: index a checkpoint of it instead (see idxbuild -h)", dir)
	case errors.Is(err, pebblesrc.ErrNotDatabase):
		return fmt.Errorf("%s is not a Pebble database: it has no current MANIFEST", dir)
	case err != nil:
		return reworded{strings.TrimPrefix(err.Error(), "pebblesrc: "), err}
	}
	defer db.Close()
	progress := newProgress(stderr, cfg.quiet)
	stats, err := writeSortedKeys(ctx, pebblesrc.ReadAhead(pebblesrc.Keys(db, cfg.pebble.options())), cfg.out, cfg.opts, progress)
	progress.finish()
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "stru: ")
		if m, ok := strings.CutPrefix(msg, "pebblesrc: "); ok {
			msg = dir + ": " + m
		}
		return reworded{msg, err}
	}
	printSummary(stderr, cfg, stats, start)
	return nil
}

// reworded is err with the message msg, for the one line idxbuild prints.
type reworded struct {
	msg string
	err error
}

func (e reworded) Error() string { return e.msg }
func (e reworded) Unwrap() error { return e.err }

// writeSortedKeys writes the index of keys, in ascending order, to out
// with a builder.SortedWriter: the keys stream to disk as they are read.
func writeSortedKeys(ctx context.Context, keys iter.Seq2[[]byte, error], out string, opts builder.Options, progress *progress) (builder.Stats, error) {
	w, err := builder.NewSortedWriter(ctx, out, opts)
	if err != nil {
		return builder.Stats{}, err
	}
	defer w.Abort()
	for key, err := range keys {
		if err != nil {
			return builder.Stats{}, err
		}
		if err := w.Add(key); err != nil {
			return builder.Stats{}, err
		}
		progress.add()
	}
	progress.building(out)
	if err := w.Close(); err != nil {
		return builder.Stats{}, err
	}
	return w.Stats(), nil
}

// pebbleLogger is the Logger idxbuild gives Pebble: it drops Pebble's
// informational messages and writes each error message as one line.
type pebbleLogger struct{ w io.Writer }

func (pebbleLogger) Infof(format string, args ...any) {}

func (l pebbleLogger) Errorf(format string, args ...any) {
	line, _, _ := strings.Cut(fmt.Sprintf(format, args...), "\n")
	fmt.Fprintf(l.w, "idxbuild: pebble: %s\n", line)
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.Errorf(format, args...)
	os.Exit(exitFail)
}
