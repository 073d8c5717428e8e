package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/cmd/internal/clitest"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

var damageCases = clitest.NewRandomCases("damage", "TestRandomDamage", 300, 100)

// TestRandomDamage builds small random indexes (keys over randomAlphabet,
// the empty key included; random hash key, load factor and filter size),
// damages each in one random way and runs idxquery on it with random
// flags, valid or not, checking what the usage text promises whatever the
// file holds: exit status 0, 1 or 2 as documented for the mode, never a
// panic or a hang (clitest.Run's timeout), errors as one line naming the
// file, a usage error for flags the synopsis does not allow, --verify
// failing (1) on every damaged STRU file but one without the magic or of
// another version (2), and output on files that still open: queries and
// --list answer (perhaps wrongly, as format.md allows), --info --json is
// JSON.
//
// The damage: truncation (to 0 bytes, into the header, anywhere), bytes
// flipped in one section or padding, a header field set to a boundary or
// random value with the header checksum recomputed so that only the
// checks against the sections can find it, trailing bytes, a file that
// is not a STRU file, and a path that is no regular file at all: missing,
// a directory, a FIFO, a symbolic link to /dev/null. -damage-n sets the
// number of cases and -damage-seed the first case's seed, which is logged.
func TestRandomDamage(t *testing.T) {
	damageCases.Run(t, 0xda3a6e, testDamageCase)
}

// What --verify and the other modes must say of a damaged path.
type damageClass int

const (
	classCorrupt  damageClass = iota // a damaged STRU file: --verify exits 1
	classHarmless                    // a change the format cannot see: --verify may pass
	classNotIndex                    // no STRU magic: an error (2), also for --verify
	classVersion                     // a version or incompatible flag this idxquery does not read: 2
	classNotFile                     // missing, or not a regular file: 2
)

// A damage is what was done to an index, for the log.
type damage struct {
	what  string
	class damageClass
}

func testDamageCase(t *testing.T, rng *rand.Rand) {
	dir := t.TempDir()
	data, keys := buildRandomIndex(t, rng)
	path := filepath.Join(dir, "x.stru")
	d := damageIndex(t, rng, path, data)
	t.Logf("%d keys, %d bytes; damage: %s", len(keys), len(data), d.what)

	if d.class != classNotFile {
		// Whether the file opens, and if not how, decides what idxquery
		// must do; the damage decides what the error can be.
		r, err := reader.Open(path)
		switch {
		case err == nil:
			r.Close()
			if d.class != classCorrupt && d.class != classHarmless {
				t.Fatalf("the damaged file opens; the damage should stop it")
			}
		case d.class == classNotIndex && !errors.Is(err, index.ErrNotIndex),
			d.class == classVersion && !errors.Is(err, index.ErrVersion),
			(d.class == classCorrupt || d.class == classHarmless) && !errors.Is(err, index.ErrCorrupt):
			t.Fatalf("reader.Open: %v: not the error the damage should give", err)
		}
		if errors.Is(err, index.ErrCorrupt) {
			d.class = classCorrupt // a harmless change the reader rejects all the same
		}
		// A file that opens is read by more runs: they reach the
		// damaged sections.
		opens, runs := err == nil, 1+rng.IntN(2)
		if opens {
			runs = 2 + rng.IntN(4)
		}
		for range runs {
			runDamaged(t, rng, path, keys, d, opens)
		}
		return
	}
	for range 1 + rng.IntN(2) {
		runDamaged(t, rng, path, keys, d, false)
	}
}

// buildRandomIndex builds an index of random keys with random options
// and returns its bytes and keys.
func buildRandomIndex(t *testing.T, rng *rand.Rand) ([]byte, []string) {
	set := map[string]struct{}{}
	n := rng.IntN(50)
	if rng.IntN(8) == 0 {
		n = 0
	}
	for range n {
		set[randomKey(rng)] = struct{}{}
	}
	var hk index.HashKey
	binary.LittleEndian.PutUint64(hk[:], rng.Uint64())
	binary.LittleEndian.PutUint64(hk[8:], rng.Uint64())
	opts := builder.Options{HashKey: &hk, LoadFactor: builder.MinLoadFactor + rng.Float64()*(builder.MaxLoadFactor-builder.MinLoadFactor)}
	switch rng.IntN(3) {
	case 0:
		opts.FilterBitsPerKey = -1 // no filter
	case 1:
		opts.FilterBitsPerKey = 1 + rng.IntN(builder.MaxFilterBitsPerKey)
	}
	b, err := builder.FromMap(set, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	return buf.Bytes(), keys
}

// A headerField is a field of the header (format.md §2) that damage can
// set: its offset and width in bytes.
type headerField struct {
	name      string
	off, size int
}

var headerFields = []headerField{
	{"magic", 0, 4}, {"version", 4, 2}, {"header size", 6, 2}, {"incompatible flags", 8, 4},
	{"compatible flags", 12, 4}, {"file size", 16, 8}, {"key count", 24, 8}, {"bucket count", 32, 8},
	{"key bytes", 40, 8}, {"hash key", 48, 8}, {"offset width", 64, 1}, {"length width", 65, 1},
	{"reserved", 66, 2}, {"longest key", 68, 4}, {"buckets checksum", 72, 4}, {"offsets checksum", 76, 4},
	{"lengths checksum", 80, 4}, {"keys checksum", 84, 4}, {"filter checksum", 88, 4}, {"reserved", 92, 4},
	{"filter blocks", 96, 8}, {"reserved", 104, 8},
}

// damageIndex writes data, damaged in one random way, at path (or makes
// path something other than a file) and says what it did.
func damageIndex(t *testing.T, rng *rand.Rand, path string, data []byte) damage {
	t.Helper()
	h, err := index.ParseHeader(data, "")
	if err != nil {
		t.Fatal(err)
	}
	layout, err := h.Layout(uint64(len(data)), "")
	if err != nil {
		t.Fatal(err)
	}
	write := func(b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// headerClass classifies a header whose bytes changed and whose
	// checksum was not recomputed, as checks 1–5 of format.md §6.3 do.
	headerClass := func(b []byte) damageClass {
		switch {
		case len(b) < 4 || string(b[:4]) != index.Magic:
			return classNotIndex
		case len(b) < index.HeaderSize:
			return classCorrupt
		}
		if v := binary.LittleEndian.Uint16(b[4:]); v < index.MinVersion || v > index.Version {
			return classVersion
		}
		return classCorrupt
	}
	b := bytes.Clone(data)
	switch kind := rng.IntN(12); kind {
	case 0: // truncate
		var n int
		switch rng.IntN(4) {
		case 0:
			n = rng.IntN(4) // shorter than the magic
		case 1:
			n = 4 + rng.IntN(index.HeaderSize-4) // into the header
		default:
			n = rng.IntN(len(data))
		}
		write(b[:n])
		class := classCorrupt
		if n < len(index.Magic) {
			class = classNotIndex
		}
		return damage{fmt.Sprintf("truncated to %d bytes", n), class}
	case 1, 2, 3, 4, 5: // flip bytes in one section, or in padding
		sec := index.Section(rng.IntN(int(index.NumSections)))
		lo, hi, where := layout[sec].Off, layout[sec].Off+layout[sec].Size, sec.String()
		if rng.IntN(4) == 0 {
			lo, hi, where = hi, layout[sec].End, sec.String()+" padding"
		}
		if lo == hi { // an empty section or no padding: the header instead
			lo, hi, where = 0, index.HeaderSize, "header"
		}
		var flips []string
		for range 1 + rng.IntN(3) {
			at := lo + rng.Uint64N(hi-lo)
			mask := byte(1 + rng.IntN(255)) // never 0: the byte changes
			if rng.IntN(2) == 0 {
				mask = 1 << rng.IntN(8) // one bit: an offset or length a little off
			}
			b[at] ^= mask
			flips = append(flips, fmt.Sprintf("%#x^%#02x", at, mask))
		}
		if bytes.Equal(b, data) { // the same byte flipped back
			b[lo] ^= 0x10
			flips = append(flips, fmt.Sprintf("%#x^0x10", lo))
		}
		write(b)
		class := classCorrupt
		if where == "header" {
			class = headerClass(b)
		}
		return damage{fmt.Sprintf("%s bytes flipped: %s", where, strings.Join(flips, " ")), class}
	case 6, 7, 8: // set a header field, recompute the header checksum
		f := headerFields[rng.IntN(len(headerFields))]
		old := uintN(b[f.off:], f.size)
		bits := 8 * f.size
		v := [...]uint64{
			0, 1, 2, 3, 4, 8, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32,
			index.MaxKeys, index.MaxKeys + 1, 1 << 56, 1 << 62, 1<<64 - 1,
			old + 1, old - 1, old + 64, old ^ 1<<rng.IntN(bits), rng.Uint64(),
		}[rng.IntN(22)]
		if bits < 64 {
			v &= 1<<bits - 1
		}
		if v == old {
			v ^= 1
		}
		putUintN(b[f.off:], f.size, v)
		binary.LittleEndian.PutUint32(b[index.HeaderSize-4:], index.Checksum(b[:index.HeaderSize-4]))
		write(b)
		class := classCorrupt
		switch {
		case f.name == "magic":
			class = classNotIndex
		case f.name == "version" && v == 2 && h.FilterBlocks == 0,
			// A version 3 file without a filter reads as version 2
			// (format.md §7).
			f.name == "compatible flags",        // protected by the header checksum alone (§6.2)
			f.name == "hash key" && h.Keys == 0, // no key to hash
			sameTables(data, b):                 // wider table entries that read the same
			class = classHarmless
		case f.name == "version" && v != 2,
			f.name == "incompatible flags":
			class = classVersion
		}
		return damage{fmt.Sprintf("header %s (offset %d) set from %#x to %#x, header checksum recomputed", f.name, f.off, old, v), class}
	case 9: // trailing bytes
		extra := make([]byte, 1+rng.IntN(200))
		for i := range extra {
			extra[i] = byte(rng.UintN(256))
		}
		if rng.IntN(2) == 0 {
			clear(extra)
		}
		write(append(b, extra...))
		return damage{fmt.Sprintf("%d trailing bytes", len(extra)), classCorrupt}
	case 10: // not a STRU file
		junk := []byte("apple\nbanana\n")
		if rng.IntN(2) == 0 {
			junk = make([]byte, rng.IntN(2*len(data)))
			for i := range junk {
				junk[i] = byte(rng.UintN(256))
			}
			if len(junk) >= 4 && string(junk[:4]) == index.Magic {
				junk[0] = 0
			}
		}
		write(junk)
		return damage{fmt.Sprintf("%d bytes that are not a STRU file", len(junk)), classNotIndex}
	default: // no regular file at path
		switch r := rng.IntN(4); {
		case r == 0:
			return damage{"missing file", classNotFile}
		case r == 1:
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			return damage{"a directory", classNotFile}
		case r == 2 && runtime.GOOS != "windows":
			if err := mkfifo(path); err != nil {
				t.Fatal(err)
			}
			return damage{"a FIFO", classNotFile}
		case r == 3 && runtime.GOOS != "windows":
			if err := os.Symlink(os.DevNull, path); err != nil {
				t.Fatal(err)
			}
			return damage{"a symbolic link to " + os.DevNull, classNotFile}
		}
		return damage{"missing file", classNotFile}
	}
}

// sameTables reports whether damaged, whose offset or length width was
// changed, has the same layout as data and table entries of the same
// values: a valid file of the same keys, which no check can tell from
// the original (an entry widened into the zero padding of a table of one
// key, say).
func sameTables(data, damaged []byte) bool {
	h, err := index.ParseHeader(data, "")
	if err != nil {
		return false
	}
	l, _ := h.Layout(uint64(len(data)), "")
	ow, lw := damaged[64], damaged[65]
	if (ow != 4 && ow != 8) || (lw != 1 && lw != 2) || (ow == h.OffsetWidth && lw == h.LengthWidth) {
		return false
	}
	dl, ok := index.ComputeLayout(h.Keys, h.Buckets, h.KeyBytes, h.FilterBlocks, ow, lw)
	if !ok || dl.FileSize() != l.FileSize() {
		return false
	}
	for i := range h.Keys {
		if uintN(data[l[index.SectionOffsets].Off+i*uint64(h.OffsetWidth):], int(h.OffsetWidth)) != uintN(data[dl[index.SectionOffsets].Off+i*uint64(ow):], int(ow)) ||
			uintN(data[l[index.SectionLengths].Off+i*uint64(h.LengthWidth):], int(h.LengthWidth)) != uintN(data[dl[index.SectionLengths].Off+i*uint64(lw):], int(lw)) {
			return false
		}
	}
	return true
}

// uintN and putUintN read and write a little-endian unsigned integer of
// size bytes.
func uintN(b []byte, size int) uint64 {
	var v uint64
	for i := size - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func putUintN(b []byte, size int, v uint64) {
	for i := range size {
		b[i] = byte(v >> (8 * i))
	}
}

// runDamaged runs idxquery on path with random flags and checks the
// result against the usage text.
func runDamaged(t *testing.T, rng *rand.Rand, path string, keys []string, d damage, opens bool) {
	t.Helper()
	inv := randomInvocation(rng, path, keys)
	res := clitest.Run(t, strings.NewReader(inv.stdin), idxquery, inv.args...)
	for _, trace := range []string{"goroutine ", "panic:", "SIGSEGV", "fatal error"} {
		if strings.Contains(res.Stderr, trace) {
			t.Fatalf("idxquery %q: a crash:\n%s", inv.args, res.Stderr)
		}
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("idxquery %q (stdin %.200q): exit %d, stdout %.200q, stderr %q: %s",
			inv.args, inv.stdin, res.Code, res.Stdout, res.Stderr, fmt.Sprintf(format, args...))
	}
	oneLine := func(must ...string) {
		t.Helper()
		line, ok := strings.CutSuffix(res.Stderr, "\n")
		if !ok || strings.Contains(line, "\n") || !strings.HasPrefix(line, "idxquery: ") {
			fail("stderr is not one line starting with \"idxquery: \"")
		}
		for _, s := range must {
			if !strings.Contains(line, s) {
				fail("the error does not contain %q", s)
			}
		}
	}
	if inv.usageErr != "" {
		if res.Code != 2 || res.Stdout != "" {
			fail("want a usage error (%s): exit 2 and no output", inv.usageErr)
		}
		oneLine("run 'idxquery -h' for help")
		return
	}
	if !opens {
		code := 2
		if inv.mode == modeVerify && d.class == classCorrupt {
			code = 1
		}
		if res.Code != code || res.Stdout != "" {
			fail("the file does not open: want exit %d and no output", code)
		}
		if code == 1 {
			oneLine(path+": verification failed: ", "corrupt STRU file")
		} else {
			oneLine(path)
		}
		return
	}
	switch inv.mode {
	case modeVerify:
		switch {
		case res.Code == 1:
			oneLine(path+": verification failed: ", "corrupt STRU file")
		case res.Code == 0 && d.class == classHarmless:
			if res.Stdout != path+": ok\n" || res.Stderr != "" {
				fail("want %q and nothing on stderr", path+": ok\n")
			}
		default:
			fail("the file is damaged: want exit 1")
		}
		return
	case modeQuery:
		if res.Code != 0 && res.Code != 1 {
			fail("a query of a file that opens: want exit 0 or 1")
		}
	default:
		if res.Code != 0 {
			fail("want exit 0")
		}
	}
	if res.Stderr != "" {
		fail("want nothing on stderr")
	}
	if inv.mode == modeInfo && inv.json {
		var v map[string]any
		if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil {
			fail("--info --json output is not JSON: %v", err)
		}
	}
}

// An invocation is a random command line and standard input. usageErr
// says which rule of the usage text it breaks, or is "".
type invocation struct {
	args     []string
	stdin    string
	mode     mode
	json     bool
	usageErr string
}

// randomInvocation draws flags, mostly a combination the usage synopsis
// allows, and keys for a query: as arguments (without NUL, which no
// argument can hold) or on standard input.
func randomInvocation(rng *rand.Rand, path string, keys []string) invocation {
	var inv invocation
	var set = map[string]bool{}
	if rng.IntN(5) == 0 { // any flags: most combinations are usage errors
		for _, f := range []string{"-0", "--present", "--absent", "--preload", "--info", "--json", "--verify", "--list", "--prefix", "--bogus"} {
			set[f] = rng.IntN(4) == 0
		}
	} else {
		switch inv.mode = mode(rng.IntN(4)); inv.mode {
		case modeQuery:
			set["-0"] = rng.IntN(3) == 0
			switch rng.IntN(3) {
			case 1:
				set["--present"] = true
			case 2:
				set["--absent"] = true
			}
			set["--preload"] = rng.IntN(3) == 0
		case modeInfo:
			set["--info"] = true
			set["--json"] = rng.IntN(2) == 0
		case modeVerify:
			set["--verify"] = true
		case modeList:
			set["--list"] = true
			set["-0"] = rng.IntN(3) == 0
			set["--prefix"] = rng.IntN(2) == 0
		}
	}
	modes := 0
	for f, m := range map[string]mode{"--info": modeInfo, "--verify": modeVerify, "--list": modeList} {
		if set[f] {
			modes++
			inv.mode = m
		}
	}
	if modes == 0 {
		inv.mode = modeQuery
	}
	inv.json = set["--json"]
	for _, f := range []string{"-0", "--present", "--absent", "--preload", "--info", "--json", "--verify", "--list", "--bogus"} {
		if set[f] {
			inv.args = append(inv.args, f)
		}
	}
	if set["--prefix"] {
		p := ""
		if len(keys) > 0 && rng.IntN(3) > 0 {
			k := keys[rng.IntN(len(keys))]
			p = k[:rng.IntN(len(k)+1)]
		}
		inv.args = append(inv.args, "--prefix", strings.ReplaceAll(p, "\x00", ""))
	}
	// The keys: some of the file's, some not.
	var query []string
	for range rng.IntN(8) {
		if len(keys) > 0 && rng.IntN(2) == 0 {
			query = append(query, keys[rng.IntN(len(keys))])
		} else {
			query = append(query, randomKey(rng))
		}
	}
	noFile := rng.IntN(40) == 0
	if !noFile {
		inv.args = append(inv.args, path)
	}
	asArgs := rng.IntN(2) == 0 || inv.mode != modeQuery && rng.IntN(6) == 0
	if asArgs && !noFile {
		for _, k := range query {
			inv.args = append(inv.args, strings.ReplaceAll(k, "\x00", ""))
		}
		if rng.IntN(30) == 0 {
			inv.args = append(inv.args, strings.Repeat("k", index.MaxKeyLen+1))
		}
	} else {
		term := "\n"
		if set["-0"] {
			term = "\x00"
		}
		inv.stdin = lines(query, term)
	}

	// The rules of the usage text, which the flags may break.
	nArgs := len(inv.args)
	if i := indexOf(inv.args, path); i >= 0 {
		nArgs = len(inv.args) - i
	}
	tooLong := false
	for _, a := range inv.args {
		tooLong = tooLong || len(a) > index.MaxKeyLen
	}
	switch {
	case set["--bogus"]:
		inv.usageErr = "an unknown flag"
	case modes > 1:
		inv.usageErr = "two modes"
	case set["--present"] && set["--absent"]:
		inv.usageErr = "--present with --absent"
	case (set["--present"] || set["--absent"] || set["--preload"]) && inv.mode != modeQuery:
		inv.usageErr = "a query flag with another mode"
	case set["--json"] && inv.mode != modeInfo:
		inv.usageErr = "--json without --info"
	case set["--prefix"] && inv.mode != modeList:
		inv.usageErr = "--prefix without --list"
	case set["-0"] && (inv.mode == modeInfo || inv.mode == modeVerify):
		inv.usageErr = "-0 with --info or --verify"
	case noFile:
		inv.usageErr = "no FILE"
	case nArgs > 1 && inv.mode != modeQuery:
		inv.usageErr = "KEY arguments with another mode"
	case tooLong:
		inv.usageErr = "a KEY too long"
	}
	return inv
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
