//go:build unix

package reader

import (
	"syscall"
	"testing"
	"time"
)

// TestCtimeOf checks that ctimeOf gives a status change time in
// nanoseconds since 1970, as time.Time.UnixNano does, also where the
// file system keeps whole seconds: Watch tells a failed file whose status
// changed (a chmod making it readable) from the one that failed by it, and
// times a second apart must not look alike.
func TestCtimeOf(t *testing.T) {
	for _, when := range []time.Time{
		time.Unix(0, 0),
		time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC), // whole seconds,
		time.Date(2026, 12, 5, 12, 0, 1, 0, time.UTC), // one apart
		time.Date(2026, 12, 5, 12, 0, 1, 1, time.UTC),
		time.Date(2026, 12, 5, 12, 0, 1, 999_999_999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC),
	} {
		var st syscall.Stat_t
		setCtime(&st, syscall.NsecToTimespec(when.UnixNano()))
		if got, want := ctimeOf(&st), when.UnixNano(); got != want {
			t.Errorf("status change time %v: ctimeOf = %d, want %d", when, got, want)
		}
	}
}
