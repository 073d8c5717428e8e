//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestOutputClosed runs --list and a streamed query with standard output
// a pipe whose reader has gone, as after `| head -1` has read its line:
// idxquery must end as grep does, killed by SIGPIPE, with nothing on
// standard error (no error line, no panic trace).
func TestOutputClosed(t *testing.T) {
	for _, args := range [][]string{
		{"--list", wordsIndex},
		{wordsIndex},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		var stderr bytes.Buffer
		cmd := exec.Command(idxquery, args...)
		cmd.Stdin = bytes.NewReader([]byte(lines(words(t), "\n")))
		cmd.Stdout, cmd.Stderr = w, &stderr
		err = cmd.Run()
		w.Close()
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("idxquery %q with its output closed: %v, want death by SIGPIPE", args, err)
		}
		if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGPIPE {
			t.Errorf("idxquery %q with its output closed: %v, want death by SIGPIPE", args, err)
		}
		if stderr.Len() > 0 {
			t.Errorf("idxquery %q with its output closed wrote to standard error:\n%s", args, stderr.Bytes())
		}
	}
}
