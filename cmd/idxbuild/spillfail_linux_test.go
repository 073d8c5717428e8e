package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stru-index/stru/cmd/internal/clitest"
)

// TestSpillFailure makes a build fail to write its temporary files: in
// /proc, where not even root can create a directory. idxbuild exits 1
// with one line that gives the cause first and then, for a build that
// failed partway through its input, how far it had read — not FILE:LINE
// first, as for a fault of the input itself — and leaves no OUT. (With
// --sorted the directory is made before any line is read, so the same
// wording on --sorted's path, for a temporary file that fails partway
// through the input, is not reached here.)
func TestSpillFailure(t *testing.T) {
	dir := t.TempDir()
	var keys strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&keys, "key-%06d\n", i)
	}
	in := writeFile(t, dir, "in.txt", keys.String())
	out := filepath.Join(dir, "out.stru")
	for _, tt := range []struct {
		flags []string
		read  string // how far the input was read, or "" if the build failed before reading
	}{
		{nil, " (having read " + in + ":"},
		{[]string{"--sorted"}, ""},
	} {
		args := append(tt.flags, "--mem", "64KiB", "--tmp-dir", "/proc", "-o", out, in)
		res := clitest.Run(t, nil, idxbuild, args...)
		if res.Code != 1 {
			t.Errorf("%q: exit %d, want 1", tt.flags, res.Code)
		}
		line := clitest.OneLineError(t, res.Stderr, "idxbuild: creating a directory for temporary files: mkdir /proc/")
		if got := strings.Contains(line, "(having read "); got != (tt.read != "") || !strings.Contains(line, tt.read) {
			t.Errorf("%q: error %q, want it to say %q", tt.flags, line, tt.read)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%q: OUT exists (%v)", tt.flags, err)
		}
	}
}
