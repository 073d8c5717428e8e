package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHelpOutputFull sends the help to /dev/full, where every write fails
// with ENOSPC: idxbuild -h must say so in one line and fail, not exit 0
// having printed nothing.
func TestHelpOutputFull(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	for _, flag := range []string{"-h", "--help"} {
		cmd := exec.Command(idxbuild, flag)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = full, &stderr
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != exitFail {
			t.Errorf("%s: exit %d, want %d", flag, code, exitFail)
		}
		if want := "idxbuild: writing the help: "; !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "no space left") {
			t.Errorf("%s: stderr %q, want one line starting %q", flag, stderr.String(), want)
		}
	}
}
