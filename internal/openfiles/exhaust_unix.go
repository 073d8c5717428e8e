//go:build unix

package openfiles

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Exhaust leaves the process with only spare file descriptors free: it
// lowers the process's soft limit on open files (RLIMIT_NOFILE) to at
// most 256, so that filling it takes few files, and opens os.DevNull
// until an open fails with EMFILE, then closes spare of those. restore
// closes the rest and restores the limit; until it is called, nothing in
// the process can open more than spare files, so a test calling Exhaust
// runs in a process of its own (a child process of the test binary).
func Exhaust(t testing.TB, spare int) (restore func()) {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = min(lim.Cur, 256)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var fillers []*os.File
	restore = func() {
		for _, f := range fillers {
			f.Close()
		}
		fillers = nil
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Error(err)
		}
	}
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				restore()
				t.Fatalf("opening files up to the limit: %v", err)
			}
			break
		}
		fillers = append(fillers, f)
	}
	if len(fillers) < spare {
		restore()
		t.Fatalf("only %d files could be opened, fewer than the %d to spare", len(fillers), spare)
	}
	for _, f := range fillers[len(fillers)-spare:] {
		f.Close()
	}
	fillers = fillers[:len(fillers)-spare]
	return restore
}
