package reader

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrFault is wrapped by the errors of TryContains, TryLookup, Preload and
// Verify when reading the mapped file raised a memory fault: the file was
// truncated or rewritten in place while mapped, which is outside the
// contract (see README.md, "Reliability").
var ErrFault = errors.New("stru: memory fault reading the mapped index (file truncated or modified in place?)")

// TryContains is Contains for services that must survive even a file
// truncated under them: a memory fault while reading the mapping, which
// would otherwise kill the process with SIGBUS, becomes an error wrapping
// ErrFault. It costs two runtime/debug.SetPanicOnFault calls and a
// deferred recover per lookup (see the benchmarks for the figure).
func (r *Reader) TryContains(key []byte) (ok bool, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err, r.file)
	return r.Contains(key), nil
}

// TryLookup is Lookup with the protection of TryContains.
func (r *Reader) TryLookup(key []byte) (ordinal int, ok bool, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err, r.file)
	ordinal, ok = r.Lookup(key)
	return ordinal, ok, nil
}

// recoverFault, deferred in a function that reads the mapping with
// debug.SetPanicOnFault on, turns the panic of a memory fault into an
// error wrapping ErrFault, in *err, naming what was read and the
// address; any other panic goes on. The function's other results keep
// the values they had when the fault struck.
func recoverFault(err *error, what string) {
	e := recover()
	if e == nil {
		return
	}
	fault, isFault := e.(interface{ Addr() uintptr })
	if !isFault {
		panic(e)
	}
	*err = fmt.Errorf("%w: %s at address %#x", ErrFault, what, fault.Addr())
}
