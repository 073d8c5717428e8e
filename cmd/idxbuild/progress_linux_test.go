package main

// The progress display, on a pseudo-terminal: idxbuild shows it only when
// standard error is a terminal, which no other test gives it.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its master and slave ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	fd := int(master.Fd())
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0) // unlockpt
	}
	if err == nil {
		slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		master.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	return master, slave
}

// runOnTerminal runs idxbuild with args, its standard error a terminal,
// and returns its exit status and what it wrote there, with the
// terminal's "\r\n" for "\n" turned back into "\n".
func runOnTerminal(t *testing.T, args ...string) (code int, stderr string) {
	t.Helper()
	master, slave := openPTY(t)
	defer master.Close()
	cmd := exec.Command(idxbuild, args...)
	cmd.Env = raceExitEnv()
	cmd.Stderr = slave
	err := cmd.Start()
	slave.Close() // the master reads EIO once idxbuild has exited
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan []byte)
	go func() {
		data, _ := io.ReadAll(master) // ends with EIO
		read <- data
	}()
	err = cmd.Wait()
	data := <-read
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), strings.ReplaceAll(string(data), "\r\n", "\n")
}

// TestProgressOnTerminal checks the display on a terminal: the keys read,
// counted in batches, removed before the summary line; and, with -q,
// nothing at all.
func TestProgressOnTerminal(t *testing.T) {
	n := len(words(t))
	for _, sorted := range []bool{false, true} {
		t.Run(fmt.Sprintf("sorted %v", sorted), func(t *testing.T) {
			dir := t.TempDir()
			in := wordsFile
			if sorted {
				// words.txt is in dictionary order, not byte order.
				in = writeFile(t, dir, "sorted.txt", strings.Join(set(words(t)...), "\n")+"\n")
			}
			out := filepath.Join(dir, "out.stru")
			args := []string{"-o", out, in}
			if sorted {
				args = append([]string{"--sorted"}, args...)
			}
			code, stderr := runOnTerminal(t, args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%q", code, stderr)
			}
			display, summary, ok := strings.Cut(stderr, "idxbuild: wrote ")
			if !ok {
				t.Fatalf("no summary line in %q", stderr)
			}
			if keys, _, _, _ := parseSummary(t, "idxbuild: wrote "+summary, out); keys != int64(n) {
				t.Errorf("summary says %d keys, want %d", keys, n)
			}
			// The bar is drawn at its first count, one batch of keys;
			// whether it is redrawn before the end depends on its
			// throttle.
			if want := fmt.Sprintf("idxbuild: reading keys (%d, ", progressBatch); !strings.Contains(display, want) {
				t.Errorf("display %q does not show %q", display, want)
			}
			// The display ends by clearing its line: "\r", spaces, "\r".
			if parts := strings.Split(display, "\r"); len(parts) < 3 || parts[len(parts)-1] != "" ||
				parts[len(parts)-2] == "" || strings.Trim(parts[len(parts)-2], " ") != "" {
				t.Errorf("display does not end by clearing its line: %q", display[max(0, len(display)-100):])
			}
		})
	}
	t.Run("-q", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.stru")
		if code, stderr := runOnTerminal(t, "-q", "-o", out, wordsFile); code != 0 || stderr != "" {
			t.Errorf("exit %d, stderr %q; want 0 and nothing on the terminal", code, stderr)
		}
	})
}
