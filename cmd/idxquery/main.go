// Command idxquery queries and inspects STRU index files.
//
// Usage:
//
//	idxquery [-0] [--present | --absent] [--preload] FILE [KEY...]
//	idxquery --info [--json] FILE
//	idxquery --verify FILE
//	idxquery --list [-0] [--prefix P] FILE
//
// Run "idxquery -h" for the full description of the output formats and the
// exit status.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/stru-index/stru/cmd/internal/cliflag"
	"github.com/stru-index/stru/cmd/internal/keyio"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

const usage = `usage: idxquery [-0] [--present | --absent] [--preload] FILE [KEY...]
       idxquery --info [--json] FILE
       idxquery --verify FILE
       idxquery --list [-0] [--prefix P] FILE

Query: idxquery FILE KEY... looks up each KEY in the STRU index FILE and
prints one line per key, in order:

  present<TAB>KEY
  absent<TAB>KEY

With no KEY it reads keys from standard input, one per line, and answers
each as it goes, in constant memory, so it can filter a stream of any length:

  producer | idxquery --absent seen.stru

Input lines follow idxbuild's rules: one "\r" at the end of a line is
removed (CRLF input works; also last in an input whose last line has no
newline), an empty line is the empty key, the last line need not end
with a newline, and a key longer than 65535 bytes is an error (on
standard input as among the KEY arguments).

  --present    print only the keys that are present, bare, one per line
  --absent     print only the keys that are absent, bare, one per line
  --preload    read FILE into memory in order before the first lookup,
               rather than a page at a time as lookups touch it: faster
               for a long stream of keys when FILE is not in the page
               cache (and it maps FILE in huge pages where the kernel can),
               slower for a few keys, since it reads the whole file
  -0           keys on standard input end at NUL bytes instead of newlines
               and nothing is removed from them; every output record (and
               --list's) ends with a NUL byte instead of a newline

Exit status of a query, for shell scripts as grep's is: 0 if every key is
present (also when there are no keys), 1 if any key is absent, 2 on an
error. --present and --absent change what is printed, not the exit status.

Inspection:
  --info       print a summary of FILE: format version, key count, file size,
               each section's offset, size and padding, load factor (keys /
               (buckets × 8 slots)), the filter's blocks and bits per key
               ("none" for a file without one), longest probe (2 buckets
               if any key is stored in its second bucket, else 1) with the
               count of such keys, longest key, offset and length widths,
               and a fingerprint of the hash key (the first 8 bytes of its
               SHA-256; the key itself is never shown)
  --json       with --info: print the summary as one JSON object
               (indented) with the fields file, version, keys, file_size,
               key_bytes, buckets, load_factor, longest_probe,
               second_bucket_keys, longest_key, offset_width, length_width,
               hash_key_fingerprint, filter_blocks, filter_bits_per_key
               (both 0 without a filter) and sections; sections has the
               members header, buckets, offsets, lengths, keys and filter,
               each an object {"offset", "size", "padding"} in bytes
  --verify     read the whole file and check every checksum and invariant;
               print "FILE: ok" and exit 0, or print what failed on
               standard error and exit 1, also when the damage stops FILE
               from opening (a file truncated after its first 4 bytes,
               a header failing its checksum); a file without the STRU
               magic (shorter than 4 bytes, too), or of a format
               version this idxquery does not read, is an error (2)
  --list       print every key in ascending byte order, one per line
  --prefix P   with --list: print only the keys that begin with P
  -h, --help   print this help

Flags must come before FILE; everything after FILE is a KEY, even if it
begins with "-". Errors (a missing file, not a STRU file, a file whose
header or size is wrong, bad usage) are one line on standard error and
exit status 2. Opening FILE checks only its header and size, so that it
costs the same whatever FILE's size: damage inside FILE's sections is
found by --verify alone, and queries and --list on such a file may give
wrong answers (never a crash). When the reader of standard output goes
away (idxquery ... | head -1), idxquery ends silently, killed by SIGPIPE,
as grep is.
`

// Exit statuses.
const (
	exitOK     = 0 // every key present; the file verified
	exitAbsent = 1 // some key absent; verification failed
	exitError  = 2 // usage error, unreadable or invalid file, I/O error
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// mode is what idxquery was asked to do.
type mode int

const (
	modeQuery mode = iota
	modeInfo
	modeVerify
	modeList
)

// config is the parsed command line.
type config struct {
	mode            mode
	file            string
	keys            []string
	nul             bool
	present, absent bool // print only present, or only absent, keys
	json            bool
	prefix          *string
	preload         bool
}

// A statusError is a failed verification: an error whose exit status is
// exitAbsent rather than exitError.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string {
	return "verification failed: " + strings.TrimPrefix(e.err.Error(), "stru: ")
}
func (e *statusError) Unwrap() error { return e.err }

// run runs idxquery with the given arguments and returns its exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		if _, err := io.WriteString(stdout, usage); err != nil {
			fmt.Fprintf(stderr, "idxquery: writing output: %v\n", err)
			return exitError
		}
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "idxquery: %v (run 'idxquery -h' for help)\n", err)
		return exitError
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	status, err := execute(cfg, stdin, out)
	if ferr := out.Flush(); err == nil && ferr != nil {
		status, err = exitError, fmt.Errorf("writing output: %w", ferr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "idxquery: %s\n", describe(err))
		var se *statusError
		if errors.As(err, &se) {
			return se.status
		}
		return exitError
	}
	return status
}

// parseArgs parses and checks the command line.
func parseArgs(args []string) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("idxquery", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints the one-line error or the usage
	fs.Usage = func() {}
	var info, verify, list bool
	fs.BoolVar(&cfg.nul, "0", false, "")
	fs.BoolVar(&cfg.present, "present", false, "")
	fs.BoolVar(&cfg.absent, "absent", false, "")
	fs.BoolVar(&cfg.preload, "preload", false, "")
	fs.BoolVar(&info, "info", false, "")
	fs.BoolVar(&cfg.json, "json", false, "")
	fs.BoolVar(&verify, "verify", false, "")
	fs.BoolVar(&list, "list", false, "")
	fs.Func("prefix", "", func(p string) error { cfg.prefix = &p; return nil })
	if err := cliflag.Parse(fs, args); err != nil {
		return nil, err
	}
	var modes []string
	for _, m := range []struct {
		set  bool
		name string
		mode mode
	}{{info, "--info", modeInfo}, {verify, "--verify", modeVerify}, {list, "--list", modeList}} {
		if m.set {
			modes = append(modes, m.name)
			cfg.mode = m.mode
		}
	}
	if cfg.mode != modeQuery {
		// Only a query takes arguments after FILE, its KEYs: elsewhere a
		// flag there is misplaced, not a second FILE.
		if err := cliflag.MisplacedFlag(fs, args); err != nil {
			return nil, err
		}
	}
	switch {
	case len(modes) > 1:
		return nil, fmt.Errorf("%s cannot be used together", strings.Join(modes, " and "))
	case cfg.present && cfg.absent:
		return nil, errors.New("--present and --absent cannot be used together")
	case (cfg.present || cfg.absent) && cfg.mode != modeQuery:
		return nil, fmt.Errorf("--present and --absent apply to queries, not to %s", modes[0])
	case cfg.preload && cfg.mode != modeQuery:
		return nil, fmt.Errorf("--preload applies to queries, not to %s", modes[0])
	case cfg.json && cfg.mode != modeInfo:
		return nil, errors.New("--json requires --info")
	case cfg.prefix != nil && cfg.mode != modeList:
		return nil, errors.New("--prefix requires --list")
	case cfg.nul && (cfg.mode == modeInfo || cfg.mode == modeVerify):
		return nil, fmt.Errorf("-0 does not apply to %s", modes[0])
	case fs.NArg() == 0:
		return nil, errors.New("missing FILE, the STRU index file")
	case fs.NArg() > 1 && cfg.mode != modeQuery:
		return nil, fmt.Errorf("%s takes one FILE, got %d arguments", modes[0], fs.NArg())
	}
	cfg.file, cfg.keys = fs.Arg(0), fs.Args()[1:]
	for i, k := range cfg.keys {
		if len(k) > index.MaxKeyLen {
			return nil, fmt.Errorf("KEY %d is %d bytes long, more than the maximum of %d", i+1, len(k), index.MaxKeyLen)
		}
	}
	return cfg, nil
}

// execute opens the file and does what cfg asks, writing to out. It
// returns the exit status, or an error.
//
// A file truncated or rewritten in place while idxquery has it mapped
// (which only a rename avoids) raises a memory fault at the next read of a
// page it lost; execute makes that an error naming the file rather than a
// crash with a goroutine dump. Lookups, listing and verifying all run on
// this goroutine, the one SetPanicOnFault covers.
func execute(cfg *config, stdin io.Reader, out *bufio.Writer) (status int, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if e := recover(); e != nil {
			fault, ok := e.(interface{ Addr() uintptr })
			if !ok {
				panic(e)
			}
			status, err = exitError, fmt.Errorf("%s: memory fault reading the mapped file at address %#x: it was truncated or rewritten in place while idxquery read it (replace an index by renaming a new file over it, as idxbuild does)", cfg.file, fault.Addr())
		}
	}()
	r, err := reader.Open(cfg.file)
	if err != nil {
		if cfg.mode == modeVerify && errors.Is(err, index.ErrCorrupt) {
			// Damage found on opening (a truncated file, a damaged
			// header) fails the verification as damage anywhere else does.
			return exitAbsent, &statusError{exitAbsent, err}
		}
		return exitError, err
	}
	defer r.Close()
	switch cfg.mode {
	case modeInfo:
		return exitOK, info(r, cfg, out)
	case modeVerify:
		if err := r.Verify(); err != nil {
			return exitAbsent, &statusError{exitAbsent, err}
		}
		fmt.Fprintf(out, "%s: ok\n", cfg.file)
		return exitOK, nil
	case modeList:
		return exitOK, list(r, cfg, out)
	}
	if cfg.preload {
		if err := r.Preload(); err != nil {
			return exitError, err
		}
	}
	q := &query{r: r, out: out, cfg: cfg, status: exitOK}
	if len(cfg.keys) > 0 {
		for _, k := range cfg.keys {
			q.add([]byte(k))
		}
		q.answer()
		return q.status, nil
	}
	// Answer the pending keys and flush whenever the scanner is about to
	// wait for more input, so an interactive or slow producer sees its
	// answers promptly while a fast one gets them in batches.
	sc := keyio.NewScanner(flushingReader{stdin, q}, "<stdin>", cfg.nul)
	for sc.Scan() {
		q.add(sc.Bytes())
	}
	if q.outErr != nil { // the scanner's error would call it one of reading
		return exitError, q.outErr
	}
	q.answer()
	return q.status, sc.Err()
}

// queryBatch is how many keys a query looks up at once with
// reader.ContainsBatch, which overlaps their memory accesses.
const queryBatch = 256

// A query collects keys and answers them a batch at a time, in order.
type query struct {
	r       *reader.Reader
	out     *bufio.Writer
	cfg     *config
	status  int
	pending []byte   // the bytes of the keys not yet answered
	ends    []int    // where each pending key ends in pending
	keys    [][]byte // scratch: the pending keys
	present []bool   // scratch: their answers
	outErr  error    // the error flushing the output, which stops reading
}

// add queues a copy of key, answering the queue when it is full.
func (q *query) add(key []byte) {
	if len(q.ends) == queryBatch {
		q.answer()
	}
	q.pending = append(q.pending, key...)
	q.ends = append(q.ends, len(q.pending))
}

// answer looks up the queued keys and prints the answers cfg asks for.
func (q *query) answer() {
	q.keys = q.keys[:0]
	start := 0
	for _, end := range q.ends {
		q.keys = append(q.keys, q.pending[start:end])
		start = end
	}
	if cap(q.present) < len(q.keys) {
		q.present = make([]bool, queryBatch)
	}
	q.present = q.present[:len(q.keys)]
	q.r.ContainsBatch(q.keys, q.present)
	for i, key := range q.keys {
		q.print(key, q.present[i])
	}
	q.pending, q.ends = q.pending[:0], q.ends[:0]
}

// print writes the answer for one key.
func (q *query) print(key []byte, ok bool) {
	if !ok {
		q.status = exitAbsent
	}
	switch {
	case q.cfg.present || q.cfg.absent:
		if ok != q.cfg.present {
			return
		}
	case ok:
		q.out.WriteString("present\t")
	default:
		q.out.WriteString("absent\t")
	}
	q.out.Write(key)
	q.out.WriteByte(q.cfg.terminator())
}

// terminator returns the byte that ends each output record.
func (c *config) terminator() byte {
	if c.nul {
		return 0
	}
	return '\n'
}

// A flushingReader answers q's pending keys and flushes its output before
// each read from r: bufio.Reader reads from r only when its buffer is
// empty, that is when input would block.
type flushingReader struct {
	r io.Reader
	q *query
}

func (f flushingReader) Read(p []byte) (int, error) {
	f.q.answer()
	if err := f.q.out.Flush(); err != nil {
		f.q.outErr = fmt.Errorf("writing output: %w", err)
		return 0, f.q.outErr
	}
	return f.r.Read(p)
}

// list prints every key, or those with cfg.prefix.
func list(r *reader.Reader, cfg *config, out *bufio.Writer) error {
	keys := r.All()
	if cfg.prefix != nil {
		keys = r.Prefix([]byte(*cfg.prefix))
	}
	term := cfg.terminator()
	for k := range keys {
		out.Write(k)
		if err := out.WriteByte(term); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	return nil
}

// An extent is a section's place in the file, as --info reports it.
type extent struct {
	Offset  uint64 `json:"offset"`
	Size    uint64 `json:"size"`
	Padding uint64 `json:"padding"`
}

// summary is what --info reports. Its JSON field names are part of the
// command's interface: add fields, never rename them.
type summary struct {
	File             string  `json:"file"`
	Version          uint16  `json:"version"`
	Keys             uint64  `json:"keys"`
	FileSize         uint64  `json:"file_size"`
	KeyBytes         uint64  `json:"key_bytes"`
	Buckets          uint64  `json:"buckets"`
	LoadFactor       float64 `json:"load_factor"`
	LongestProbe     int     `json:"longest_probe"`
	SecondBucketKeys uint64  `json:"second_bucket_keys"`
	LongestKey       uint32  `json:"longest_key"`
	OffsetWidth      uint8   `json:"offset_width"`
	LengthWidth      uint8   `json:"length_width"`
	HashKeyPrint     string  `json:"hash_key_fingerprint"`
	FilterBlocks     uint64  `json:"filter_blocks"`
	FilterBitsPerKey float64 `json:"filter_bits_per_key"`
	Sections         struct {
		Header  extent `json:"header"`
		Buckets extent `json:"buckets"`
		Offsets extent `json:"offsets"`
		Lengths extent `json:"lengths"`
		Keys    extent `json:"keys"`
		Filter  extent `json:"filter"`
	} `json:"sections"`
}

// summarize computes the --info summary. It hashes every key to find the
// keys stored in their second bucket.
func summarize(r *reader.Reader, file string) *summary {
	h, l := r.Header(), r.Layout()
	s := &summary{
		File: file, Version: h.Version, Keys: h.Keys, FileSize: h.FileSize,
		KeyBytes: h.KeyBytes, Buckets: h.Buckets,
		LoadFactor:       float64(h.Keys) / float64(h.Buckets*index.BucketSlots),
		LongestProbe:     1,
		SecondBucketKeys: r.View().SecondBucketKeys(),
		LongestKey:       h.MaxKeyLen, OffsetWidth: h.OffsetWidth, LengthWidth: h.LengthWidth,
		HashKeyPrint: h.HashKey.Fingerprint(),
		FilterBlocks: h.FilterBlocks,
	}
	if h.Keys > 0 {
		s.FilterBitsPerKey = float64(h.FilterBlocks*index.FilterBlockSize*8) / float64(h.Keys)
	}
	if s.SecondBucketKeys > 0 {
		s.LongestProbe = 2
	}
	ext := func(sec index.Section) extent {
		e := l[sec]
		return extent{Offset: e.Off, Size: e.Size, Padding: e.End - e.Off - e.Size}
	}
	s.Sections.Header = ext(index.SectionHeader)
	s.Sections.Buckets = ext(index.SectionBuckets)
	s.Sections.Offsets = ext(index.SectionOffsets)
	s.Sections.Lengths = ext(index.SectionLengths)
	s.Sections.Keys = ext(index.SectionKeys)
	s.Sections.Filter = ext(index.SectionFilter)
	return s
}

// info prints the summary as text or JSON.
func info(r *reader.Reader, cfg *config, out *bufio.Writer) error {
	s := summarize(r, cfg.file)
	if cfg.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	plural := func(n uint64, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	}
	fmt.Fprintf(out, "file:           %s\n", s.File)
	fmt.Fprintf(out, "format version: %d\n", s.Version)
	fmt.Fprintf(out, "keys:           %d\n", s.Keys)
	fmt.Fprintf(out, "file size:      %d bytes\n", s.FileSize)
	fmt.Fprintf(out, "key bytes:      %d bytes\n", s.KeyBytes)
	fmt.Fprintf(out, "sections:       %-8s %12s %12s %8s\n", "name", "offset", "size", "padding")
	for _, sec := range []struct {
		name string
		e    extent
	}{
		{"header", s.Sections.Header}, {"buckets", s.Sections.Buckets}, {"offsets", s.Sections.Offsets},
		{"lengths", s.Sections.Lengths}, {"keys", s.Sections.Keys}, {"filter", s.Sections.Filter},
	} {
		fmt.Fprintf(out, "                %-8s %12d %12d %8d\n", sec.name, sec.e.Offset, sec.e.Size, sec.e.Padding)
	}
	fmt.Fprintf(out, "buckets:        %d of %d slots\n", s.Buckets, index.BucketSlots)
	fmt.Fprintf(out, "load factor:    %.4f\n", s.LoadFactor)
	if s.FilterBlocks == 0 {
		fmt.Fprintf(out, "filter:         none\n")
	} else {
		fmt.Fprintf(out, "filter:         %d %s of 64 bytes, %.2f bits per key\n", s.FilterBlocks, plural(s.FilterBlocks, "block", "blocks"), s.FilterBitsPerKey)
	}
	fmt.Fprintf(out, "longest probe:  %d %s (%d %s stored in the second bucket)\n", s.LongestProbe,
		plural(uint64(s.LongestProbe), "bucket", "buckets"), s.SecondBucketKeys, plural(s.SecondBucketKeys, "key", "keys"))
	fmt.Fprintf(out, "longest key:    %d %s\n", s.LongestKey, plural(uint64(s.LongestKey), "byte", "bytes"))
	fmt.Fprintf(out, "offset width:   %d bytes\n", s.OffsetWidth)
	fmt.Fprintf(out, "length width:   %d %s\n", s.LengthWidth, plural(uint64(s.LengthWidth), "byte", "bytes"))
	fmt.Fprintf(out, "hash key:       fingerprint %s\n", s.HashKeyPrint)
	return nil
}

// describe turns an error into the text after "idxquery: ", naming the
// file and what is wrong with it.
func describe(err error) string {
	var fe *index.FormatError
	if !errors.As(err, &fe) {
		return strings.TrimPrefix(err.Error(), "stru: ")
	}
	what := "corrupt STRU file"
	switch {
	case errors.Is(fe.Err, index.ErrNotIndex):
		what = "not a STRU index file"
	case errors.Is(fe.Err, index.ErrVersion):
		what = "unsupported STRU file"
	}
	where := fe.Section
	if fe.Off >= 0 {
		where += fmt.Sprintf(" at offset %#x", fe.Off)
	}
	prefix := ""
	var se *statusError
	if errors.As(err, &se) {
		prefix = "verification failed: "
	}
	return fmt.Sprintf("%s: %s%s: %s: %s", fe.File, prefix, what, where, fe.Msg)
}
