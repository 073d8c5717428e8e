package pebblesrc

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrInUse is the error OpenReadOnly wraps when another process has the
// database open.
var ErrInUse = errors.New("in use by another process, which holds its LOCK file")

// ErrNotDatabase is the error OpenReadOnly wraps when the directory holds
// no Pebble database.
var ErrNotDatabase = errors.New("not a Pebble database (no current MANIFEST)")

// OpenReadOnly opens the Pebble database in the directory dir read-only,
// for Keys or Build: typically a checkpoint made by (*pebble.DB).Checkpoint,
// or a database no process has open. opts may be nil; otherwise a copy is
// used, with ReadOnly set. A database created with a comparer other than
// Pebble's default needs it in opts.Comparer to open (but see Keys on key
// order). When opts.Logger and opts.LoggerAndTracer are both nil, Pebble's
// informational messages are dropped and its error messages go to
// Pebble's default logger. Unless opts.EventListener.DataCorruption is
// set, damage found in the database's files (a checksum mismatch) is only
// returned as an error of the read that found it, by Keys and Build: by
// default Pebble would also end the process.
//
// A read-only open writes nothing to the database: it replays the
// write-ahead log into memory, never flushes or compacts, and removes no
// file. Like any open, though, it opens the LOCK file for writing (creating
// it if there is none, and updating its modification time) and locks it,
// so LOCK, or dir if there is none, must be writable, and the database
// cannot be open in another process at the same time. If it is,
// OpenReadOnly returns an error wrapping ErrInUse and the cause, and the
// other process goes on undisturbed (LOCK's modification time aside).
//
// Do not open a database this process already has open: build from a
// Snapshot of it instead (see the package documentation). Pebble knows
// the databases a process has locked by the path it was given: under the
// same path, OpenReadOnly fails with Pebble's "lock held by current
// process", but under another spelling (a symbolic link, a relative
// path) the open succeeds, and closing it releases the process's lock on
// LOCK, as Unix locks are released by closing any descriptor of the
// file, letting another process open the database while this one writes
// it.
//
// A database created with a merger other than Pebble's default, or with
// its write-ahead log in another directory, needs opts.Merger or
// opts.WALDir set as when it was created.
//
// Before opening, OpenReadOnly checks that dir holds a database, without
// writing anything: an error wrapping ErrNotDatabase says it does not.
func OpenReadOnly(dir string, opts *pebble.Options) (*pebble.DB, error) {
	var o pebble.Options
	if opts != nil {
		o = *opts.Clone()
	}
	o.ReadOnly = true
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil && o.LoggerAndTracer == nil {
		o.Logger = errorsOnlyLogger{}
	}
	if o.EventListener == nil || o.EventListener.DataCorruption == nil {
		// Pebble's default ends the process; the read that found the
		// damage returns an error anyway.
		var l pebble.EventListener
		if o.EventListener != nil {
			l = *o.EventListener
		}
		l.DataCorruption = func(pebble.DataCorruptionInfo) {}
		o.EventListener = &l
	}
	desc, err := pebble.Peek(dir, o.FS)
	if err != nil {
		return nil, fmt.Errorf("pebblesrc: opening %s: %w", dir, oneLine{err})
	}
	if !desc.Exists {
		return nil, fmt.Errorf("pebblesrc: %s: %w", dir, ErrNotDatabase)
	}
	db, err := pebble.Open(dir, &o)
	if err != nil {
		if lockConflict(err) {
			return nil, fmt.Errorf("pebblesrc: opening %s: %w (%w)", dir, ErrInUse, oneLine{err})
		}
		return nil, fmt.Errorf("pebblesrc: opening %s: %w", dir, oneLine{err})
	}
	return db, nil
}

// errorsOnlyLogger is the Logger OpenReadOnly gives Pebble by default:
// it drops informational messages.
type errorsOnlyLogger struct{}

func (errorsOnlyLogger) Infof(format string, args ...any) {}
func (errorsOnlyLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (errorsOnlyLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}
