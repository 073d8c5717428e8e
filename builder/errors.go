package builder

import (
	"fmt"
	"strings"
)

// errorf is fmt.Errorf with "stru: " before format. An error among args
// whose message starts with "stru: " too (one of this package's, or of
// package index) is formatted without it, so that a message says
// "stru: " once however deep the wrapping: "stru: writing x.stru:
// creating a directory for temporary files: …". The wrapped errors stay
// reachable with errors.Is and errors.As.
func errorf(format string, args ...any) error {
	for i, a := range args {
		if err, ok := a.(error); ok && strings.HasPrefix(err.Error(), "stru: ") {
			args[i] = unprefixed{err}
		}
	}
	return fmt.Errorf("stru: "+format, args...)
}

// unprefixed is an error whose message is its wrapped error's without the
// leading "stru: ".
type unprefixed struct{ err error }

func (e unprefixed) Error() string { return strings.TrimPrefix(e.err.Error(), "stru: ") }
func (e unprefixed) Unwrap() error { return e.err }
