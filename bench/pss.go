package main

// Section 4 of issue 5: processes mapping the same index share one copy of
// it in the page cache. The pss subcommand builds one large index and its
// key file, then, for each mode, starts N child processes of this program
// that each open the index (or load a Go map from the key file), touch every
// key once, and wait. While all N are alive and waiting, the parent reads
// each one's /proc/PID/smaps_rollup: Pss charges each shared page to the
// processes that map it in equal parts, so the sum of the N Pss values is
// the memory the N processes cost together.

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/stru-index/stru/reader"
)

const pssChildCommand = "pss-child"

// Modes of the pss subcommand.
const (
	pssModeStru = "stru"
	pssModeMap  = "map"
)

// A pssRun is the result of the pss subcommand.
type pssRun struct {
	Dataset   string     `json:"dataset"`
	Keys      int        `json:"keys"`
	KeyBytes  int64      `json:"key_bytes"`
	IndexSize int64      `json:"index_bytes"`
	KeyFile   int64      `json:"key_file_bytes"`
	Procs     int        `json:"procs"`
	Modes     []*pssMode `json:"modes"`
	Command   string     `json:"command"`
	Skipped   []string   `json:"skipped,omitempty"`
}

// A pssMode is the measurement of N processes of one mode.
type pssMode struct {
	Mode      string       `json:"mode"`
	Processes []pssProcess `json:"processes"`
}

// A pssProcess is one child's figures. Memory is in kB, as the kernel
// reports it in smaps_rollup.
type pssProcess struct {
	PID         int              `json:"pid"`
	OpenSeconds float64          `json:"open_seconds"` // open, or load from the key file
	TouchSecs   float64          `json:"touch_seconds"`
	Touched     int              `json:"keys_touched"`
	Rollup      map[string]int64 `json:"smaps_rollup_kb"`
}

func pssMain(args []string) int {
	fs := flag.NewFlagSet("bench pss", flag.ExitOnError)
	keys := fs.Int("keys", 20_000_000, "number of keys (20 million random keys of 8–64 bytes make a file of about 1 GB)")
	kind := fs.String("dataset", kindRandom, "data set: "+strings.Join(kinds, ", "))
	procs := fs.Int("procs", 4, "processes per mode")
	modesFlag := fs.String("modes", pssModeStru+","+pssModeMap, "modes to measure: stru (open the index), map (load a Go map)")
	dataDir := fs.String("data", "", "directory for the index and key file (default a new temporary directory)")
	seed := fs.Uint64("seed", 1, "seed of the data set")
	out := fs.String("out", "results", "directory for the result files")
	name := fs.String("name", "", "base name of the result files (default pss-<date>)")
	force := fs.Bool("force", false, "run the map mode even when MemAvailable looks too small for it")
	fs.Parse(args)

	root := *dataDir
	var err error
	if root == "" {
		root, err = os.MkdirTemp("", "stru-pss-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench pss:", err)
			return 1
		}
		defer os.RemoveAll(root)
	}
	base := *name
	if base == "" {
		base = "pss-" + time.Now().UTC().Format("2006-01-02T150405")
	}
	run := &runFile{
		Command:  "go run . pss " + strings.Join(args, " "),
		Started:  time.Now(),
		Machine:  describeMachine(),
		Seed:     *seed,
		Settings: fmt.Sprintf("Settings: seed %d.", *seed),
	}
	pr, err := runPSS(root, *kind, *keys, *seed, *procs, splitList(*modesFlag), *force)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench pss:", err)
		return 1
	}
	pr.Command = run.Command
	run.PSS = pr
	run.Machine.LoadEnd = loadAvg()
	run.Seconds = time.Since(run.Started).Seconds()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench pss:", err)
		return 1
	}
	if err := writeRun(*out, base, run); err != nil {
		fmt.Fprintln(os.Stderr, "bench pss:", err)
		return 1
	}
	writePSS(os.Stdout, pr)
	return 0
}

// runPSS builds the index and key file in root and measures each mode.
func runPSS(root, kind string, keys int, seed uint64, procs int, modes []string, force bool) (*pssRun, error) {
	for _, m := range modes {
		if m != pssModeStru && m != pssModeMap {
			return nil, fmt.Errorf("unknown mode %q", m)
		}
	}
	logf("generating %s, %d keys", kind, keys)
	d, err := generate(kind, keys, seed)
	if err != nil {
		return nil, err
	}
	pr := &pssRun{Dataset: kind, Keys: keys, KeyBytes: d.KeyBytes, Procs: procs}
	if pr.KeyFile, err = d.writeKeyFile(filepath.Join(root, "keys.txt")); err != nil {
		return nil, err
	}
	logf("building the index")
	if err := struSystem().build(root, d); err != nil {
		return nil, err
	}
	info, err := os.Stat(filepath.Join(root, "keys.stru"))
	if err != nil {
		return nil, err
	}
	pr.IndexSize = info.Size()
	d = nil
	settle()

	for _, mode := range modes {
		if mode == pssModeMap && !force {
			// A Go map of these keys takes about (key bytes + 60) per
			// key in each process, more while it grows.
			need := int64(procs) * (pr.KeyBytes + 80*int64(keys))
			if avail := memAvailable(); avail > 0 && avail < need+need/4 {
				msg := fmt.Sprintf("map mode skipped: needs about %d MiB, MemAvailable is %d MiB (use -force)", need>>20, avail>>20)
				logf("%s", msg)
				pr.Skipped = append(pr.Skipped, msg)
				continue
			}
		}
		logf("starting %d %s processes", procs, mode)
		m, err := measurePSSMode(root, mode, procs, keys)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", mode, err)
		}
		pr.Modes = append(pr.Modes, m)
	}
	return pr, nil
}

// memAvailable returns MemAvailable from /proc/meminfo in bytes, or 0.
func memAvailable() int64 {
	f := strings.Fields(procField("/proc/meminfo", "MemAvailable"))
	if len(f) == 0 {
		return 0
	}
	kb, _ := strconv.ParseInt(f[0], 10, 64)
	return kb << 10
}

// measurePSSMode runs procs children of one mode, waits until all are
// ready, reads their smaps_rollup, then lets them exit.
func measurePSSMode(root, mode string, procs, keys int) (*pssMode, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		ready chan string // the child's "ready" line, or "" if it ended first
	}
	children := make([]*child, procs)
	defer func() {
		for _, c := range children {
			if c != nil && c.cmd.Process != nil {
				c.stdin.Close()
				c.cmd.Wait()
			}
		}
	}()
	for i := range children {
		cmd := exec.Command(exe, pssChildCommand, "-mode", mode, "-data", root)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		c := &child{cmd: cmd, stdin: stdin, ready: make(chan string, 1)}
		children[i] = c
		go func() {
			sc := bufio.NewScanner(stdout)
			line := ""
			if sc.Scan() {
				line = sc.Text()
			}
			c.ready <- line
			io.Copy(io.Discard, stdout)
		}()
	}

	m := &pssMode{Mode: mode}
	for _, c := range children {
		line := <-c.ready
		p, err := parseReady(line)
		if err != nil {
			return nil, fmt.Errorf("child %d: %w", c.cmd.Process.Pid, err)
		}
		if p.Touched != keys {
			return nil, fmt.Errorf("child %d touched %d keys, want %d", c.cmd.Process.Pid, p.Touched, keys)
		}
		p.PID = c.cmd.Process.Pid
		m.Processes = append(m.Processes, p)
	}
	// Every child is alive and waiting: read them all now.
	for i := range m.Processes {
		roll, err := readRollup(m.Processes[i].PID)
		if err != nil {
			return nil, err
		}
		m.Processes[i].Rollup = roll
	}
	var errs []error
	for _, c := range children {
		c.stdin.Close()
		if err := c.cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("child %d: %w", c.cmd.Process.Pid, err))
		}
		c.cmd.Process = nil
	}
	return m, errors.Join(errs...)
}

// parseReady parses a child's "ready open=S touch=S touched=N" line.
func parseReady(line string) (pssProcess, error) {
	var p pssProcess
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ready" {
		return p, fmt.Errorf("ended without reporting ready (line %q)", line)
	}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "open":
			p.OpenSeconds, err = strconv.ParseFloat(v, 64)
		case "touch":
			p.TouchSecs, err = strconv.ParseFloat(v, 64)
		case "touched":
			p.Touched, err = strconv.Atoi(v)
		}
		if err != nil {
			return p, fmt.Errorf("bad ready line %q", line)
		}
	}
	return p, nil
}

// readRollup returns the "Name: N kB" fields of /proc/PID/smaps_rollup.
func readRollup(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return nil, err
	}
	roll := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		f := strings.Fields(v)
		if !ok || len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err == nil {
			roll[strings.TrimSpace(k)] = n
		}
	}
	if _, ok := roll["Pss"]; !ok {
		return nil, fmt.Errorf("/proc/%d/smaps_rollup has no Pss line", pid)
	}
	return roll, nil
}

// pssChildMain is one child: it opens the index or loads the map, touches
// every key, prints its ready line and waits for its standard input to
// close.
func pssChildMain(args []string) int {
	fs := flag.NewFlagSet(pssChildCommand, flag.ExitOnError)
	mode := fs.String("mode", "", "stru or map")
	dir := fs.String("data", "", "directory holding keys.stru and keys.txt")
	fs.Parse(args)

	keyFile := filepath.Join(*dir, "keys.txt")
	var openSecs, touchSecs float64
	touched := 0
	var keep any
	switch *mode {
	case pssModeStru:
		t0 := time.Now()
		r, err := reader.Open(filepath.Join(*dir, "keys.stru"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "pss-child:", err)
			return 1
		}
		openSecs = time.Since(t0).Seconds()
		t0 = time.Now()
		// Look every key up, reading them from the key file through a
		// small buffer: that reaches every bucket, table entry and key
		// byte of the index, and nothing else stays in this process.
		if err := readLines(keyFile, func(line []byte) {
			if r.Contains(line) {
				touched++
			}
		}); err != nil {
			fmt.Fprintln(os.Stderr, "pss-child:", err)
			return 1
		}
		touchSecs = time.Since(t0).Seconds()
		keep = r
	case pssModeMap:
		t0 := time.Now()
		set, err := mapSystem().open(*dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pss-child:", err)
			return 1
		}
		openSecs = time.Since(t0).Seconds()
		m := set.(mapSet).m
		// Return what growing the map left over, so the figure is the
		// map's steady state rather than its peak.
		settle()
		t0 = time.Now()
		total := 0
		for k := range m {
			total += len(k)
			touched++
		}
		touchSecs = time.Since(t0).Seconds()
		if total < 0 {
			fmt.Println(total)
		}
		keep = m
	default:
		fmt.Fprintf(os.Stderr, "pss-child: unknown mode %q\n", *mode)
		return 2
	}
	fmt.Printf("ready open=%g touch=%g touched=%d\n", openSecs, touchSecs, touched)
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	runtime.KeepAlive(keep)
	return 0
}

// writePSS writes the section 4 table.
func writePSS(w io.Writer, pr *pssRun) {
	fmt.Fprintf(w, "## Sharing between processes (issue 5, section 4)\n\n")
	fmt.Fprintf(w, "Command: `%s`\n\n", pr.Command)
	fmt.Fprintf(w, "%d %s keys (%.0f MiB of key bytes); index file %.0f MiB; key text file %.0f MiB. "+
		"Each of %d processes opens the index (stru) or loads a map[string]struct{} from the text file (map), "+
		"touches every key once, and waits; Pss is read from /proc/PID/smaps_rollup while all %d are alive.\n\n",
		pr.Keys, pr.Dataset, mib(pr.KeyBytes), mib(pr.IndexSize), mib(pr.KeyFile), pr.Procs, pr.Procs)
	fmt.Fprintln(w, "| mode | processes | open/load s (median) | Rss MiB each (median) | Pss MiB each (median) | Pss MiB total | of which file-backed | of which anonymous |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, m := range pr.Modes {
		var opens, rss, pss []float64
		var total, file, anon int64
		for _, p := range m.Processes {
			opens = append(opens, p.OpenSeconds)
			rss = append(rss, float64(p.Rollup["Rss"])/1024)
			pss = append(pss, float64(p.Rollup["Pss"])/1024)
			total += p.Rollup["Pss"]
			file += p.Rollup["Pss_File"]
			anon += p.Rollup["Pss_Anon"]
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
			m.Mode, len(m.Processes), duration(median(opens)), median(rss), median(pss),
			float64(total)/1024, float64(file)/1024, float64(anon)/1024)
	}
	for _, s := range pr.Skipped {
		fmt.Fprintf(w, "\n%s\n", s)
	}
	fmt.Fprintln(w)
}
