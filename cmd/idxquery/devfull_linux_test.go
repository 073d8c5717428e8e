package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestOutputFull sends idxquery's output to /dev/full, where every write
// fails with ENOSPC: whether the keys come as arguments or from standard
// input, for --list, and for -h, it exits 2 with one line saying it could
// not write its output — not that it could not read its input, nor
// nothing at all.
func TestOutputFull(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	keys := strings.Repeat("apple\nzzzz\n", 100_000)
	for _, args := range [][]string{{wordsIndex}, {wordsIndex, "apple", "zzzz"}, {"--list", wordsIndex}, {"-h"}} {
		cmd := exec.Command(idxquery, args...)
		var stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(keys), full, &stderr
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if want := "idxquery: writing output: "; !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "no space left") {
			t.Errorf("%q: stderr %q, want one line starting %q", args, stderr.String(), want)
		}
	}
}
