package reader_test

// TestRandomConsistentHeaders: files whose header is checksummed and
// consistent with the file's size but whose fields sit at the bounds the
// format sets, with sections damaged in structured ways under recomputed
// checksums; and specOpen and specValid, independent readings of
// format.md §6.3 and §6.4 that say what opening and verifying each file
// must give.

import (
	"bytes"
	"flag"
	"fmt"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

var (
	headersSeed  = flag.Uint64("headers-seed", 1, "TestRandomConsistentHeaders: the seed of the files it generates")
	headersN     = flag.Int("headers-n", 0, "TestRandomConsistentHeaders: how many files it generates (0: 1000, or 200 with -race or -short)")
	headersFirst = flag.Int("headers-first", 0, "TestRandomConsistentHeaders: the number of the first file, to replay one")
)

// maxGenFile is the size of the largest file TestRandomConsistentHeaders
// lays out; a header whose counts give a larger file is written alone.
// maxGenEntries is the most entries of its offset and length tables it
// keeps as values, for tables of many entries of 0 bytes (widths of 0
// are among those it tries).
const (
	maxGenFile    = 8 << 20
	maxGenEntries = 1 << 16
)

// TestRandomConsistentHeaders generates files from valid ones of several
// shapes (no keys, the empty key, long keys, more than 4096 keys, with and
// without a filter): it sets header fields to values at or near the
// bounds of format.md §6.3 — the key count, bucket count, key data bytes,
// filter blocks, offset and length widths, longest key, file size,
// version, flags, reserved bytes (headerGens) —, most often settling the
// other fields so that the header passes the checks between fields, lays
// the old sections out at the offsets the new counts give (cut or
// extended with zeros), damages them in structured ways (sectionGens:
// offset tables that rise but point at the wrong keys, past the key data
// or at the largest value their width holds, key spans longer than the
// longest key, lengths of 0 or the largest, slots with a key's tag and
// length field whose offsets lie at the bounds of the key data or at
// another key's, holes and duplicates in buckets, filters that let every
// key through or none, non-zero padding), sometimes repairs them (tables
// recomputed from the lengths, keys placed anew in the buckets, the
// filter rebuilt) so that valid files with unusual headers come out too,
// and recomputes every checksum.
//
// FuzzFromBytes rarely makes such files: most of its mutations fail the
// header checksum. Here nothing may panic; FromBytes, and Open of every
// eighth file, must fail with an error wrapping exactly the sentinel
// specOpen gives, or succeed when it gives nil; a Reader's Verify must
// pass exactly when specValid says the file is valid, and fail with
// ErrCorrupt otherwise; checkAnyReader runs every query and checks its
// invariants (on a valid file, against a scan of the keys); and checkMore
// looks up the keys the slots point at, checks that TryContains and
// TryLookup answer as Contains and Lookup do, and that SecondBucketKeys
// counts what specValid counts.
//
// The files are a function of -headers-seed (1 by default) and their
// number: a failure names both, and -headers-first I -headers-n 1 makes
// just that file. -headers-n sets how many files a run makes.
func TestRandomConsistentHeaders(t *testing.T) {
	count := *headersN
	if count == 0 {
		count = 1000
		if testing.Short() || raceEnabled() {
			count = 200
		}
	}
	seed, first := *headersSeed, *headersFirst
	bases := genBases(t)
	dir := t.TempDir()
	tally := map[string]int{}
	for i := first; i < first+count; i++ {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		base := bases[rng.IntN(len(bases)-1)]
		if rng.IntN(32) == 0 {
			base = bases[len(bases)-1] // the largest, less often
		}
		f := genFileOf(base)
		f.generate(rng)
		data := f.bytes()
		path := ""
		if i%8 == 0 {
			path = filepath.Join(dir, fmt.Sprintf("%d.stru", i))
		}
		tally[checkGenerated(t, seed, i, &f, data, path)]++
		if t.Failed() {
			return
		}
	}
	t.Logf("seed %d, files %d to %d: %v", seed, first, first+count-1, tally)
}

// raceEnabled reports whether the test runs with the race detector, which
// makes it about ten times slower.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// genBases returns the valid files TestRandomConsistentHeaders starts
// from, with a fixed hash key.
func genBases(t *testing.T) [][]byte {
	rng := rand.New(rand.NewPCG(7, 7))
	long := bytes.Repeat([]byte("L"), 300) // 2-byte lengths
	sets := []struct {
		keys [][]byte
		opts builder.Options
	}{
		{nil, builder.Options{}},
		{[][]byte{{}}, builder.Options{}},
		{tinyKeys, builder.Options{}},
		{tinyKeys, builder.Options{FilterBitsPerKey: -1}},
		{fixtureKeys, builder.Options{LoadFactor: builder.MaxLoadFactor}}, // a key of LongKey bytes
		{[][]byte{{}, []byte("a"), long, append(slices.Clone(long), 'x'), []byte("z")}, builder.Options{}},
		{genSet(rng, 200), builder.Options{LoadFactor: builder.MaxLoadFactor}}, // keys in their second bucket
		{genSet(rng, 200), builder.Options{FilterBitsPerKey: -1}},
		{genSet(rng, 4097), builder.Options{}}, // Find interpolates above 4096 keys; last: the slowest to check
	}
	var bases [][]byte
	for _, s := range sets {
		s.opts.HashKey = &fixedKey
		bases = append(bases, buildIndex(t, s.keys, s.opts))
	}
	return bases
}

// checkGenerated opens the file data, made by f as the file number i of
// seed, with FromBytes and, if path is not "", with Open (writing it to
// path), and checks the outcome against specOpen and specValid; then runs
// checkAnyReader. It returns what happened, to tally. A failure, a panic
// included, names the file and what the generators did.
func checkGenerated(t *testing.T, seed uint64, i int, f *genFile, data []byte, path string) (outcome string) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("panic: %v\n%s", p, debug.Stack())
		}
		if t.Failed() { // Errorf, not Fatalf: this may run while a Fatalf unwinds
			t.Errorf("file %d of seed %d (replay: -headers-seed %d -headers-first %d -headers-n 1), %d bytes, header %+v: %s",
				i, seed, seed, i, len(data), f.h, strings.Join(f.notes, "; "))
		}
	}()
	want := specOpen(data)
	var readers []namedReader
	r, err := reader.FromBytes(data)
	if err == nil {
		readers = append(readers, namedReader{"FromBytes", r})
	}
	if checkOpenErr(t, "FromBytes", "", err, want); path != "" {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		r, err := reader.Open(path)
		if err == nil {
			readers = append(readers, namedReader{"Open", r})
		}
		checkOpenErr(t, "Open", path, err, want)
	}
	if want != nil {
		return "open fails: " + strings.TrimPrefix(want.Error(), "stru: ")
	}
	valid, second := specValid(data)
	for _, nr := range readers {
		checkMore(t, nr, valid, second)
		err := nr.r.Verify()
		switch {
		case valid && err != nil:
			t.Errorf("%s: Verify: %v, but the file is valid", nr.how, err)
		case !valid && err == nil:
			t.Errorf("%s: Verify passed a file that is not valid", nr.how)
		case err != nil:
			file := ""
			if nr.how == "Open" {
				file = path
			}
			checkFileErr(t, file, err, index.ErrCorrupt)
		}
		checkAnyReader(t, nr.r, data) // closes the Reader
	}
	if valid {
		return "valid"
	}
	return "opens, corrupt"
}

// checkMore checks what checkAnyReader does not: the keys the slots
// point at go through every query (exercise); TryContains and TryLookup
// answer as Contains and Lookup do; and SecondBucketKeys counts at most
// every key, and in a valid file (valid) the second (what specValid
// counts).
func checkMore(t *testing.T, nr namedReader, valid bool, second uint64) {
	t.Helper()
	r := nr.r
	probes := append(slotProbes(r, 64), fuzzProbes...)
	exercise(t, r, probes)
	for _, p := range probes {
		c, err := r.TryContains(p)
		ord, ok, err2 := r.TryLookup(p)
		wantOrd, wantOK := r.Lookup(p)
		if err != nil || err2 != nil || c != r.Contains(p) || ord != wantOrd || ok != wantOK {
			t.Errorf("%s: %.20q: TryContains %v, %v and TryLookup %d, %v, %v; Contains %v, Lookup %d, %v",
				nr.how, p, c, err, ord, ok, err2, r.Contains(p), wantOrd, wantOK)
		}
	}
	if n := r.View().SecondBucketKeys(); n > uint64(r.Len()) || valid && n != second {
		t.Errorf("%s: SecondBucketKeys() = %d with %d keys (valid %v: %d keys in their second bucket)", nr.how, n, r.Len(), valid, second)
	}
}

// slotProbes returns up to max keys that slots of r's file point at:
// the bytes at a used slot's offset, as many as its length field says,
// where they lie in the key data (slots of keys shorter than LongKey
// only), from slots spread over the buckets. Contains finds these
// whatever the tables say, unless an earlier slot or the filter stops it.
func slotProbes(r *reader.Reader, max int) [][]byte {
	l, data := r.Layout(), r.View().Data()
	buckets := data[l[index.SectionBuckets].Off : l[index.SectionBuckets].Off+l[index.SectionBuckets].Size]
	keys := data[l[index.SectionKeys].Off : l[index.SectionKeys].Off+l[index.SectionKeys].Size]
	var probes [][]byte
	step := index.SlotSize * (1 + len(buckets)/index.SlotSize/(4*max))
	for at := 0; at < len(buckets) && len(probes) < max; at += step {
		s := le.Uint64(buckets[at:])
		off, used := index.SlotOffset(s)
		if n := index.SlotLen(s); used && n < index.LongKey && off <= uint64(len(keys)) && n <= uint64(len(keys))-off {
			probes = append(probes, keys[off:off+n])
		}
	}
	return probes
}

// checkOpenErr checks the error of opening a file, by how (path "" for
// FromBytes), against want, the sentinel specOpen gives or nil.
func checkOpenErr(t *testing.T, how, path string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: %v, want success", how, err)
	case want != nil && err == nil:
		t.Errorf("%s succeeded, want %v", how, want)
	case want != nil:
		checkFileErr(t, path, err, want)
	}
}

// A genFile is a file TestRandomConsistentHeaders writes: its header and
// its sections, as values, and changes to make to its bytes.
type genFile struct {
	h       index.Header
	slots   []uint64 // Buckets × BucketSlots
	offsets []uint64 // Keys entries, written OffsetWidth bytes wide (higher bits are lost)
	lengths []uint64 // Keys entries, written LengthWidth bytes wide
	keys    []byte   // KeyBytes
	filter  []byte   // FilterBlocks × FilterBlockSize

	sizeField   int64            // the file size field minus the layout's file size
	sizeDelta   int64            // the file's length minus its file size field
	padding     index.Section    // a section whose padding gets a non-zero byte (SectionHeader: none)
	staleCRC    index.Section    // a section whose checksum is left wrong (SectionHeader: none)
	headerEdits []func(b []byte) // changes to the header's bytes, before its checksum is computed
	badCRC      bool             // leave the header checksum wrong
	notes       []string         // what the generators did, for failure messages
}

// genFileOf decodes the valid file data.
func genFileOf(data []byte) genFile {
	r, err := reader.FromBytes(data)
	if err != nil {
		panic(err)
	}
	h, l := r.Header(), r.Layout()
	f := genFile{h: h}
	sec := func(s index.Section) []byte { return data[l[s].Off : l[s].Off+l[s].Size] }
	for j := range h.Buckets * index.BucketSlots {
		f.slots = append(f.slots, le.Uint64(sec(index.SectionBuckets)[j*index.SlotSize:]))
	}
	for i := range h.Keys {
		f.offsets = append(f.offsets, getUint(sec(index.SectionOffsets)[i*uint64(h.OffsetWidth):], h.OffsetWidth))
		f.lengths = append(f.lengths, getUint(sec(index.SectionLengths)[i*uint64(h.LengthWidth):], h.LengthWidth))
	}
	f.keys = slices.Clone(sec(index.SectionKeys))
	f.filter = slices.Clone(sec(index.SectionFilter))
	return f
}

// getUint returns the little-endian integer of w bytes at the start of b
// (of its first 8 bytes if w is more).
func getUint(b []byte, w uint8) uint64 {
	var v uint64
	for i := min(int(w), 8) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// putUint writes v as a little-endian integer of w bytes at the start of
// b: its low w bytes, then zeros if w is more than 8.
func putUint(b []byte, w uint8, v uint64) {
	for i := range int(w) {
		b[i] = 0
		if i < 8 {
			b[i] = byte(v >> (8 * i))
		}
	}
}

// note records what a generator did.
func (f *genFile) note(format string, args ...any) {
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
}

// layout returns the file's layout, and whether the sections can be laid
// out: the counts give one, of at most maxGenFile bytes.
func (f *genFile) layout() (index.Layout, bool) {
	h := &f.h
	l, ok := index.ComputeLayout(h.Keys, h.Buckets, h.KeyBytes, h.FilterBlocks, h.OffsetWidth, h.LengthWidth)
	return l, ok && l.FileSize() <= maxGenFile
}

// placeable reports whether keys can be placed in the buckets: the
// sections are laid out (fit has made them as long as the counts say) and
// the bucket count is one index.Buckets takes.
func (f *genFile) placeable() bool {
	_, ok := f.layout()
	return ok && f.h.Buckets > 0 && f.h.Buckets%index.Blocks(f.h.Buckets) == 0
}

// fit cuts the sections to the header's counts, or extends them with
// zeros, if they can be laid out; else it leaves them as they are. The
// tables keep at most maxGenEntries entries; those after are zeros.
func (f *genFile) fit() {
	if _, ok := f.layout(); !ok {
		return
	}
	h := &f.h
	f.slots = resized(f.slots, h.Buckets*index.BucketSlots)
	f.offsets = resized(f.offsets, min(h.Keys, maxGenEntries))
	f.lengths = resized(f.lengths, min(h.Keys, maxGenEntries))
	f.keys = resized(f.keys, h.KeyBytes)
	f.filter = resized(f.filter, h.FilterBlocks*index.FilterBlockSize)
}

// resized returns s cut to n elements or extended with zeros.
func resized[E any](s []E, n uint64) []E {
	if uint64(len(s)) >= n {
		return s[:n]
	}
	return append(s, make([]E, n-uint64(len(s)))...)
}

// generate changes the file: up to 3 header fields, then up to 3 changes
// to the sections, all chosen at random.
func (f *genFile) generate(rng *rand.Rand) {
	for range rng.IntN(4) {
		g := pickWeighted(rng, headerGens)
		g.set(rng, f)
	}
	if rng.IntN(4) != 0 {
		f.settle()
	}
	f.fit()
	for range rng.IntN(4) {
		g := sectionGens[rng.IntN(len(sectionGens))]
		f.note("%s", g.name)
		at := len(f.notes) - 1
		if !g.set(rng, f) {
			f.notes[at] += " (none: nothing to change)"
		}
	}
	if rng.IntN(8) == 0 {
		f.repair(rng)
	}
	f.fit()
}

// settle changes the header where its fields fail the checks between
// fields (format.md §6.3 checks 8–19), keeping the key count and the
// filter: widths that cannot hold the key data or the longest key are
// widened, a longest key too short for the key data is lengthened (or
// the key data cut), and the buckets made enough for the keys and a
// multiple of their blocks. Limits on a single field (MaxKeys,
// MaxKeyBytes) stay as they are.
func (f *genFile) settle() {
	h := &f.h
	if h.Keys == 0 {
		h.MaxKeyLen, h.KeyBytes = 0, 0
	}
	h.MaxKeyLen = min(h.MaxKeyLen, index.MaxKeyLen)
	if hi, most := bits.Mul64(h.Keys, uint64(h.MaxKeyLen)); hi == 0 && h.KeyBytes > most {
		need := (h.KeyBytes + h.Keys - 1) / h.Keys
		h.MaxKeyLen = uint32(min(need, index.MaxKeyLen))
		if hi, most := bits.Mul64(h.Keys, uint64(h.MaxKeyLen)); hi == 0 && h.KeyBytes > most {
			h.KeyBytes = most
		}
	}
	if h.OffsetWidth != 4 && h.OffsetWidth != 8 || h.OffsetWidth == 4 && h.KeyBytes > 1<<32 {
		h.OffsetWidth = index.OffsetWidth(h.KeyBytes)
	}
	if h.LengthWidth != 1 && h.LengthWidth != 2 || h.MaxKeyLen >= 1<<(8*uint(h.LengthWidth)) {
		h.LengthWidth = index.LengthWidth(h.MaxKeyLen)
	}
	if h.Buckets == 0 || h.Buckets > (1<<64-1)/index.BucketSlots || h.Buckets*index.BucketSlots < h.Keys {
		h.Buckets = max(1, (h.Keys+index.BucketSlots-1)/index.BucketSlots)
	}
	if blocks := index.Blocks(h.Buckets); h.Buckets%blocks != 0 {
		h.Buckets = blocks * (h.Buckets/blocks + 1)
	}
	f.note("settled")
}

// pick returns one of vs at random.
func pick(rng *rand.Rand, vs ...uint64) uint64 { return vs[rng.IntN(len(vs))] }

// below returns a random number in [0, n), or 0 if n is 0.
func below(rng *rand.Rand, n uint64) uint64 {
	if n == 0 {
		return 0
	}
	return rng.Uint64N(n)
}

// A headerGen sets a header field, or the file's size, to a value at or
// near a bound, or to a random value; weight is how often it is chosen
// relative to the others.
type headerGen struct {
	name   string
	weight int
	set    func(rng *rand.Rand, f *genFile)
}

func pickWeighted(rng *rand.Rand, gens []headerGen) headerGen {
	total := 0
	for _, g := range gens {
		total += g.weight
	}
	n := rng.IntN(total)
	for _, g := range gens {
		if n -= g.weight; n < 0 {
			return g
		}
	}
	panic("not reached")
}

// headerGens are the header's fields and their bounds (format.md §2, §6.3).
var headerGens = []headerGen{
	{"key count", 4, func(rng *rand.Rand, f *genFile) {
		h := &f.h
		h.Keys = pick(rng, 0, 1, 2, h.Keys-1, h.Keys+1, 8*h.Buckets, 8*h.Buckets+1, 4096, 4097,
			index.MaxKeys, index.MaxKeys+1, 1<<64-1, below(rng, 2*h.Keys+2))
		f.note("key count %d", h.Keys)
	}},
	{"buckets", 4, func(rng *rand.Rand, f *genFile) {
		h := &f.h
		atLeast := (h.Keys + index.BucketSlots - 1) / index.BucketSlots
		h.Buckets = pick(rng, 0, 1, 2, atLeast, atLeast-1, atLeast+1, h.Buckets-1, h.Buckets+1,
			1<<56, (1<<64-1)/index.BucketSlots, (1<<64-1)/index.BucketSlots+1, 1<<64-1, 1+below(rng, 2*h.Buckets))
		if rng.IntN(8) == 0 { // 4 MiB of buckets: less often
			h.Buckets = pick(rng, index.BlockBuckets-1, index.BlockBuckets, index.BlockBuckets+1, index.BlockBuckets+2) // 65538: 2 blocks of 32769
		}
		f.note("buckets %d", h.Buckets)
	}},
	{"key data bytes", 4, func(rng *rand.Rand, f *genFile) {
		h := &f.h
		var sum uint64
		for _, n := range f.lengths {
			sum += n
		}
		h.KeyBytes = pick(rng, 0, 1, h.KeyBytes-1, h.KeyBytes+1, h.Keys*uint64(h.MaxKeyLen), h.Keys*uint64(h.MaxKeyLen)+1,
			sum, 1<<32, 1<<32+1, index.MaxKeyBytes, index.MaxKeyBytes+1, below(rng, 2*h.KeyBytes+2))
		f.note("key data bytes %d", h.KeyBytes)
	}},
	{"longest key", 4, func(rng *rand.Rand, f *genFile) {
		h := &f.h
		longest := uint64(0)
		for _, n := range f.lengths {
			longest = max(longest, n)
		}
		h.MaxKeyLen = uint32(pick(rng, 0, 1, uint64(h.MaxKeyLen)-1, uint64(h.MaxKeyLen)+1, index.LongKey-1, index.LongKey,
			index.LongKey+1, index.MaxKeyLen, index.MaxKeyLen+1, 1<<32-1, longest))
		f.note("longest key %d", h.MaxKeyLen)
	}},
	{"filter blocks", 3, func(rng *rand.Rand, f *genFile) {
		h := &f.h
		h.FilterBlocks = pick(rng, 0, 1, 2, h.FilterBlocks-1, h.FilterBlocks+1, below(rng, 64), 1<<56, 1<<58, 1<<64-1)
		if rng.IntN(8) == 0 {
			// 4 MiB of filter: from there Has asks for the bucket before it reads the filter (hashFirstBlocks).
			h.FilterBlocks = 4 << 20 / index.FilterBlockSize
		}
		f.note("filter blocks %d", h.FilterBlocks)
	}},
	{"offset width", 3, func(rng *rand.Rand, f *genFile) {
		f.h.OffsetWidth = uint8(pick(rng, 4, 8, 4, 8, 0, 1, 2, 255))
		f.note("offset width %d", f.h.OffsetWidth)
	}},
	{"length width", 3, func(rng *rand.Rand, f *genFile) {
		f.h.LengthWidth = uint8(pick(rng, 1, 2, 1, 2, 0, 3, 255))
		f.note("length width %d", f.h.LengthWidth)
	}},
	{"file size field", 1, func(rng *rand.Rand, f *genFile) {
		f.sizeField = int64(pick(rng, 1, 63, 64, 1<<62)) * int64(pick(rng, 1, 1<<64-1)) // ±
		f.note("file size field %+d", f.sizeField)
	}},
	{"file length", 1, func(rng *rand.Rand, f *genFile) {
		f.sizeDelta = int64(pick(rng, 1, 63, 64, 4096)) * int64(pick(rng, 1, 1<<64-1))
		f.note("file length %+d", f.sizeDelta)
	}},
	{"version", 1, func(rng *rand.Rand, f *genFile) {
		f.h.Version = uint16(pick(rng, 2, 2, 3, 1, 4, 1<<16-1))
		if f.h.Version == 2 && rng.IntN(2) == 0 {
			f.h.FilterBlocks = 0 // else the filter's fields are not zero, and version 2 reserves them
		}
		f.note("version %d", f.h.Version)
	}},
	{"hash key", 1, func(rng *rand.Rand, f *genFile) {
		f.h.HashKey[rng.IntN(len(f.h.HashKey))] ^= byte(1 + rng.IntN(255))
		f.note("hash key changed")
	}},
	{"flags", 1, func(rng *rand.Rand, f *genFile) {
		if rng.IntN(2) == 0 {
			f.h.IncompatFlags = 1 << rng.IntN(32)
		} else {
			f.h.CompatFlags = 1 << rng.IntN(32) // reserved bytes are then not checked
		}
		f.note("flags %#x %#x", f.h.IncompatFlags, f.h.CompatFlags)
	}},
	{"reserved byte", 1, func(rng *rand.Rand, f *genFile) {
		at := int(pick(rng, 66, 67, 92, 95, 104, 123))
		f.headerEdits = append(f.headerEdits, func(b []byte) { b[at] = 1 })
		f.note("reserved byte %d", at)
	}},
	{"magic, header size or checksum", 1, func(rng *rand.Rand, f *genFile) {
		switch rng.IntN(3) {
		case 0:
			at := rng.IntN(len(index.Magic))
			f.headerEdits = append(f.headerEdits, func(b []byte) { b[at] ^= 0x20 })
			f.note("magic byte %d", at)
		case 1:
			size := uint16(pick(rng, 0, 64, 127, 129, 256))
			f.headerEdits = append(f.headerEdits, func(b []byte) { le.PutUint16(b[hdrHeaderSize:], size) })
			f.note("header size %d", size)
		default:
			f.badCRC = true
			f.note("header checksum wrong")
		}
	}},
}

// A sectionGen changes a section; set returns false if it could not (the
// file has no keys, say), and changed nothing.
type sectionGen struct {
	name string
	set  func(rng *rand.Rand, f *genFile) bool
}

// widthMax returns the largest value an entry of w bytes holds.
func widthMax(w uint8) uint64 {
	if w >= 8 {
		return 1<<64 - 1
	}
	return 1<<(8*uint(w)) - 1
}

// sectionGens damage the sections in the ways a reader's bounds checks
// must cope with (format.md §4, "Damaged files").
var sectionGens = []sectionGen{
	{"offsets rise inside the key data", func(rng *rand.Rand, f *genFile) bool {
		return f.risingOffsets(rng, f.h.KeyBytes+1)
	}},
	{"offsets rise past the key data", func(rng *rand.Rand, f *genFile) bool {
		return f.risingOffsets(rng, f.h.KeyBytes+2*uint64(f.h.MaxKeyLen)+2)
	}},
	{"offset at a bound", func(rng *rand.Rand, f *genFile) bool {
		if len(f.offsets) == 0 {
			return false
		}
		i := rng.IntN(len(f.offsets))
		k := f.h.KeyBytes
		f.offsets[i] = pick(rng, 0, k-1, k, k+1, widthMax(f.h.OffsetWidth), widthMax(f.h.OffsetWidth)-1, f.offsets[i]+1, f.offsets[i]-1)
		f.note("offset %d = %d", i, f.offsets[i])
		return true
	}},
	{"key spans more than the longest key", func(rng *rand.Rand, f *genFile) bool {
		if len(f.offsets) == 0 {
			return false
		}
		i := rng.IntN(len(f.offsets))
		span := pick(rng, uint64(f.h.MaxKeyLen)+1, index.MaxKeyLen+1, f.h.KeyBytes)
		if i+1 < len(f.offsets) {
			f.offsets[i+1] = f.offsets[i] + span
		} else {
			f.offsets[i] = f.h.KeyBytes - span // the last key ends at the end of the key data
		}
		f.note("ordinal %d spans %d bytes", i, span)
		return true
	}},
	{"offsets equal or falling", func(rng *rand.Rand, f *genFile) bool {
		if len(f.offsets) < 2 {
			return false
		}
		i := rng.IntN(len(f.offsets) - 1)
		f.offsets[i+1] = f.offsets[i] - pick(rng, 0, 1, f.offsets[i]+1)
		return true
	}},
	{"spans that wrap", func(rng *rand.Rand, f *genFile) bool {
		if len(f.offsets) < 2 {
			return false
		}
		// [2^64-x, n-x): a span of n bytes whose end is inside the key data; with 4-byte offsets, [2^32-x, n-x).
		i := rng.IntN(len(f.offsets) - 1)
		n := f.lengths[i] % (uint64(f.h.MaxKeyLen) + 1)
		x := 1 + below(rng, max(n, 1))
		f.offsets[i], f.offsets[i+1] = -x, n-x
		f.note("ordinal %d spans [-%d, %d)", i, x, n-x)
		return true
	}},
	{"length at a bound", func(rng *rand.Rand, f *genFile) bool {
		if len(f.lengths) == 0 {
			return false
		}
		i := rng.IntN(len(f.lengths))
		l := uint64(f.h.MaxKeyLen)
		f.lengths[i] = pick(rng, 0, 1, l, l+1, index.LongKey-1, index.LongKey, index.LongKey+1, widthMax(f.h.LengthWidth))
		f.note("length %d = %d", i, f.lengths[i])
		return true
	}},
	{"lengths random", func(rng *rand.Rand, f *genFile) bool {
		for i := range f.lengths {
			f.lengths[i] = below(rng, uint64(f.h.MaxKeyLen)+2)
		}
		return len(f.lengths) > 0
	}},
	{"entries swapped", func(rng *rand.Rand, f *genFile) bool {
		if len(f.offsets) < 2 {
			return false
		}
		i, j := rng.IntN(len(f.offsets)), rng.IntN(len(f.offsets))
		f.offsets[i], f.offsets[j] = f.offsets[j], f.offsets[i]
		f.lengths[i], f.lengths[j] = f.lengths[j], f.lengths[i]
		return true
	}},
	{"decoy slot", func(rng *rand.Rand, f *genFile) bool {
		return f.decoys(rng, 1)
	}},
	{"bucket of decoys", func(rng *rand.Rand, f *genFile) bool {
		return f.decoys(rng, index.BucketSlots)
	}},
	{"hole in a bucket", func(rng *rand.Rand, f *genFile) bool {
		for range min(16, len(f.slots)) {
			j := rng.IntN(len(f.slots))
			if j%index.BucketSlots != index.BucketSlots-1 && f.slots[j] != 0 && f.slots[j+1] != 0 {
				f.slots[j] = 0
				return true
			}
		}
		return false
	}},
	{"slot duplicated", func(rng *rand.Rand, f *genFile) bool {
		if len(f.slots) == 0 {
			return false
		}
		s := f.slots[rng.IntN(len(f.slots))]
		if s == 0 {
			return false
		}
		j := rng.IntN(len(f.slots))
		for j > 0 && j%index.BucketSlots != 0 && f.slots[j-1] == 0 {
			j-- // the first empty slot of its bucket, or a used slot
		}
		f.slots[j] = s
		return true
	}},
	{"slot random", func(rng *rand.Rand, f *genFile) bool {
		if len(f.slots) == 0 {
			return false
		}
		f.slots[rng.IntN(len(f.slots))] = rng.Uint64()
		return true
	}},
	{"slots cleared", func(rng *rand.Rand, f *genFile) bool {
		clear(f.slots)
		return len(f.slots) > 0
	}},
	{"key data byte changed", func(rng *rand.Rand, f *genFile) bool {
		if len(f.keys) == 0 {
			return false
		}
		f.keys[rng.IntN(len(f.keys))] ^= byte(1 + rng.IntN(255))
		return true
	}},
	{"filter all ones", func(rng *rand.Rand, f *genFile) bool {
		for i := range f.filter {
			f.filter[i] = 0xff
		}
		return len(f.filter) > 0
	}},
	{"filter cleared", func(rng *rand.Rand, f *genFile) bool {
		clear(f.filter)
		return len(f.filter) > 0
	}},
	{"filter bit flipped", func(rng *rand.Rand, f *genFile) bool {
		if len(f.filter) == 0 {
			return false
		}
		f.filter[rng.IntN(len(f.filter))] ^= 1 << rng.IntN(8)
		return true
	}},
	{"padding byte", func(rng *rand.Rand, f *genFile) bool {
		f.padding = index.SectionBuckets + index.Section(rng.IntN(4)) // the filter has no padding
		f.note("in the %v", f.padding)
		return true
	}},
	{"section checksum", func(rng *rand.Rand, f *genFile) bool {
		f.staleCRC = index.SectionBuckets + index.Section(rng.IntN(5))
		f.note("of the %v", f.staleCRC)
		return true
	}},
}

// risingOffsets sets the offset table to random offsets below end, in
// ascending order.
func (f *genFile) risingOffsets(rng *rand.Rand, end uint64) bool {
	for i := range f.offsets {
		f.offsets[i] = below(rng, end)
	}
	slices.Sort(f.offsets)
	return len(f.offsets) > 0
}

// target returns a key the file's lookups will look for (checkAnyReader
// looks up fuzzProbes and every key Key returns), and its offset in the
// key data if it is one of the file's.
func (f *genFile) target(rng *rand.Rand) (key []byte, off uint64) {
	if len(f.offsets) > 0 && rng.IntN(4) != 0 {
		i := rng.IntN(len(f.offsets))
		o, end := f.offsets[i], f.h.KeyBytes
		if i+1 < len(f.offsets) {
			end = f.offsets[i+1]
		}
		if o <= end && end <= uint64(len(f.keys)) {
			return f.keys[o:end], o
		}
	}
	return fuzzProbes[rng.IntN(len(fuzzProbes))], below(rng, f.h.KeyBytes+1)
}

// decoys puts n slots with the tag and length field of a key the lookups
// will look for, but an offset at a bound of the key data or of another
// key, in one of the key's buckets, ahead of the bucket's slots.
func (f *genFile) decoys(rng *rand.Rand, n int) bool {
	h := &f.h
	if !f.placeable() {
		return false
	}
	key, off := f.target(rng)
	k0, k1 := h.HashKey.Halves()
	hash := index.Hash(k0, k1, key)
	b1, b2 := index.Buckets(hash, h.Buckets)
	b := pick(rng, b1, b2)
	bucket := f.slots[b*index.BucketSlots : (b+1)*index.BucketSlots]
	kn := h.KeyBytes - uint64(len(key))
	for range n {
		fields := []uint64{0, 1, off, off + 1, off + 2, h.KeyBytes, h.KeyBytes + 1, kn, kn + 1, kn + 2, 1<<index.OffsetBits - 1}
		if len(f.offsets) > 0 {
			fields = append(fields, f.offsets[rng.IntN(len(f.offsets))]+1)
		}
		field := pick(rng, fields...) & (1<<index.OffsetBits - 1)
		copy(bucket[1:], bucket)
		bucket[0] = index.Match(hash, uint64(len(key)))<<index.OffsetBits | field
	}
	f.note("%d decoys for %.12q in bucket %d", n, key, b)
	return true
}

// repair makes the sections consistent again, from the lengths up, in
// part or in full: the offset table recomputed from the lengths, and the
// key data bytes and longest key from them; the keys placed anew in the
// buckets as the builder places them (format.md §4); the filter rebuilt
// from the keys. A file whose keys are still in order, and whose header
// fields and widths allow the tables, is valid afterwards.
func (f *genFile) repair(rng *rand.Rand) {
	h := &f.h
	steps := 1 + rng.IntN(3)
	f.note("repaired (%d steps)", steps)
	lw, ow := widthMax(h.LengthWidth), widthMax(h.OffsetWidth)
	var sum, longest uint64
	for i := range f.offsets {
		f.lengths[i] &= lw
		f.offsets[i] = sum & ow
		sum, longest = sum+f.lengths[i], max(longest, f.lengths[i])
	}
	if longest <= index.MaxKeyLen {
		h.KeyBytes, h.MaxKeyLen = sum, uint32(longest)
	}
	f.fit()
	if steps == 1 || !f.placeable() {
		return
	}
	k0, k1 := h.HashKey.Halves()
	clear(f.slots)
	var hashes []uint64 // of the keys in the key data, for the filter
	for i := range f.offsets {
		o, n := f.offsets[i], f.lengths[i]
		if o > uint64(len(f.keys)) || n > uint64(len(f.keys))-o {
			continue
		}
		key := f.keys[o : o+n]
		hashes = append(hashes, index.FilterHash(key))
		hash := index.Hash(k0, k1, key)
		b1, b2 := index.Buckets(hash, h.Buckets)
	place:
		for _, b := range []uint64{b1, b2} {
			for j := b * index.BucketSlots; j < (b+1)*index.BucketSlots; j++ {
				if f.slots[j] == 0 {
					f.slots[j] = index.MakeSlot(hash, n, o)
					break place
				}
			}
		}
	}
	if steps == 2 || h.FilterBlocks == 0 {
		return
	}
	clear(f.filter)
	for _, fh := range hashes {
		blk := index.FilterBlock(fh, h.FilterBlocks)
		index.FilterSet(f.filter[blk*index.FilterBlockSize:(blk+1)*index.FilterBlockSize], fh)
	}
}

// bytes lays the file out: the header, with the file size its counts
// give, and the sections at their offsets, written with the header's
// widths, with every checksum computed; then makes the changes to the
// bytes f asks for. If the counts give no layout, or one larger than
// maxGenFile, the file is the header alone (with the file size field the
// counts give, if any).
func (f *genFile) bytes() []byte {
	h := &f.h
	l, ok := f.layout()
	h.FileSize = l.FileSize() // 0 if there is no layout
	data := make([]byte, index.HeaderSize)
	if ok {
		data = make([]byte, l.FileSize())
		buckets := data[l[index.SectionBuckets].Off:]
		for j, s := range f.slots {
			le.PutUint64(buckets[j*index.SlotSize:], s)
		}
		offsets, lengths := data[l[index.SectionOffsets].Off:], data[l[index.SectionLengths].Off:]
		for i := range f.offsets {
			putUint(offsets[i*int(h.OffsetWidth):], h.OffsetWidth, f.offsets[i])
			putUint(lengths[i*int(h.LengthWidth):], h.LengthWidth, f.lengths[i])
		}
		copy(data[l[index.SectionKeys].Off:], f.keys)
		copy(data[l[index.SectionFilter].Off:], f.filter)
		if e := l[f.padding]; f.padding != index.SectionHeader && e.Size < e.End-e.Off {
			data[e.Off+e.Size] = 1
		}
		for s := index.SectionBuckets; s < index.NumSections; s++ {
			h.SectionCRC[s-index.SectionBuckets] = index.Checksum(data[l[s].Off:l[s].End])
			if s == f.staleCRC {
				h.SectionCRC[s-index.SectionBuckets] ^= 1
			}
		}
	}
	h.FileSize += uint64(f.sizeField)
	h.Encode(data)
	for _, edit := range f.headerEdits {
		edit(data)
	}
	resealHeader(data)
	if f.badCRC {
		data[hdrCRC] ^= 1
	}
	if size := h.FileSize + uint64(f.sizeDelta); ok && size != uint64(len(data)) && size <= maxGenFile+4096 {
		data = resized(data, size)
	}
	return data
}

// specFields are a header's fields, as format.md §2 places them.
type specFields struct {
	version                      uint16
	fileSize, n, b, k, f, k0, k1 uint64
	ow, lw                       uint8
	l                            uint64
	crc                          [5]uint32
}

func specHeader(b []byte) specFields {
	s := specFields{
		version: le.Uint16(b[4:]), fileSize: le.Uint64(b[16:]), n: le.Uint64(b[24:]), b: le.Uint64(b[32:]), k: le.Uint64(b[40:]),
		k0: le.Uint64(b[48:]), k1: le.Uint64(b[56:]), ow: b[64], lw: b[65], l: uint64(le.Uint32(b[68:])), f: le.Uint64(b[96:]),
	}
	for i := range s.crc {
		s.crc[i] = le.Uint32(b[72+4*i:])
	}
	if s.version == 2 {
		s.f, s.crc[4] = 0, 0
	}
	return s
}

// specLayout computes the layout of format.md §1 in unbounded integers:
// the offset and content size of each section, and the file size; false
// if a section's content size or unpadded end is 2^62 or more (check 20).
func specLayout(s specFields) (off, size [6]uint64, fileSize uint64, ok bool) {
	limit := new(big.Int).Lsh(big.NewInt(1), 62)
	counts := [6][2]uint64{{1, 128}, {s.b, 64}, {s.n, uint64(s.ow)}, {s.n, uint64(s.lw)}, {s.k, 1}, {s.f, 64}}
	at := new(big.Int)
	for i, c := range counts {
		sz := new(big.Int).Mul(new(big.Int).SetUint64(c[0]), new(big.Int).SetUint64(c[1]))
		end := new(big.Int).Add(at, sz)
		if sz.Cmp(limit) >= 0 || end.Cmp(limit) >= 0 {
			return off, size, 0, false
		}
		off[i], size[i] = at.Uint64(), sz.Uint64()
		at = end.Add(end, big.NewInt(63)).Rsh(end, 6).Lsh(end, 6) // roundup64
	}
	return off, size, at.Uint64(), true
}

// specOpen returns the sentinel error with which opening the file b
// fails, or nil if it opens: format.md §6.3's checks, in its order, from
// the document alone.
func specOpen(b []byte) error {
	switch {
	case len(b) < 4 || string(b[:4]) != "STRU":
		return index.ErrNotIndex
	case len(b) < 128:
		return index.ErrCorrupt
	}
	s := specHeader(b)
	switch {
	case s.version != 2 && s.version != 3:
		return index.ErrVersion
	case le.Uint16(b[6:]) != 128, le.Uint32(b[124:]) != index.Checksum(b[:124]):
		return index.ErrCorrupt
	case le.Uint32(b[8:]) != 0:
		return index.ErrVersion
	}
	reserved := [][2]int{{66, 68}, {92, 96}, {104, 124}}
	if s.version == 2 {
		reserved = [][2]int{{66, 68}, {88, 124}}
	}
	for _, r := range reserved {
		if le.Uint32(b[12:]) == 0 && slices.ContainsFunc(b[r[0]:r[1]], func(c byte) bool { return c != 0 }) {
			return index.ErrCorrupt
		}
	}
	// Checks 8 to 19. A case's expressions are evaluated in order, up to
	// the first true one: the modulo has a B ≥ 1 of at most 2^61, N·L
	// an N < 2^40 and an L < 2^16.
	switch {
	case s.ow != 4 && s.ow != 8, s.lw != 1 && s.lw != 2, s.n > 1<<40-2, s.b == 0,
		s.b > (1<<64-1)/8 || 8*s.b < s.n, s.b%((s.b+65535)/65536) != 0, s.l > 65535, s.l >= 1<<(8*uint(s.lw)),
		s.ow == 4 && s.k > 1<<32, s.k > 1<<40-2, s.k > s.n*s.l, s.n == 0 && s.l != 0:
		return index.ErrCorrupt
	}
	if _, _, size, ok := specLayout(s); !ok || s.fileSize != size || uint64(len(b)) != s.fileSize {
		return index.ErrCorrupt
	}
	return nil
}

// specValid reports whether the file b, which specOpen accepts, passes
// full verification (format.md §6.4), from the document alone (with the
// hash functions of index, which have known-answer tests of their own),
// and if so how many keys are not in their first bucket.
func specValid(b []byte) (valid bool, second uint64) {
	s := specHeader(b)
	off, size, fileSize, _ := specLayout(s)
	// 1. Checksums and padding.
	for i := 1; i < 6; i++ {
		end := fileSize
		if i < 5 {
			end = off[i+1]
		}
		if index.Checksum(b[off[i]:end]) != s.crc[i-1] || slices.ContainsFunc(b[off[i]+size[i]:end], func(c byte) bool { return c != 0 }) {
			return false, 0
		}
	}
	// 2. Tables and keys.
	keyData := b[off[4] : off[4]+s.k]
	var sum, longest uint64
	keys, offsets, lengths := make([][]byte, s.n), make([]uint64, s.n), make([]uint64, s.n)
	for i := range s.n {
		o, n := getUint(b[off[2]+i*uint64(s.ow):], s.ow), getUint(b[off[3]+i*uint64(s.lw):], s.lw)
		if o != sum || n > s.l || sum+n > s.k {
			return false, 0
		}
		keys[i], offsets[i], lengths[i] = keyData[o:o+n], o, n
		if i > 0 && bytes.Compare(keys[i-1], keys[i]) >= 0 {
			return false, 0
		}
		sum, longest = sum+n, max(longest, n)
	}
	if sum != s.k || longest != s.l {
		return false, 0
	}
	// 3. Buckets.
	slot := func(bucket, i uint64) uint64 { return le.Uint64(b[off[1]+64*bucket+8*i:]) }
	var used uint64
	for bucket := range s.b {
		for i := range uint64(8) {
			if slot(bucket, i) != 0 {
				if i > 0 && slot(bucket, i-1) == 0 {
					return false, 0
				}
				used++
			}
		}
	}
	if used != s.n {
		return false, 0
	}
	holds := func(bucket, want uint64) bool {
		for i := range uint64(8) {
			if slot(bucket, i) == want {
				return true
			}
		}
		return false
	}
	for r, key := range keys {
		h := index.Hash(s.k0, s.k1, key)
		want := h&0xffff<<48 | min(lengths[r], 255)<<40 | (offsets[r] + 1)
		// §3: the key's block, and its two buckets in it.
		blocks := (s.b + 65535) / 65536
		per := s.b / blocks
		blk, _ := bits.Mul64(h, blocks)
		x1, _ := bits.Mul64(h*0x9E3779B97F4A7C15, per)
		x2, _ := bits.Mul64(h*0xC2B2AE3D27D4EB4F, per)
		b1, b2 := blk*per+x1, blk*per+x2
		if holds(b1, want) {
			continue
		}
		if !holds(b2, want) || slot(b1, 7) == 0 {
			return false, 0
		}
		second++
	}
	// 4. Filter: exactly the 4 bits of each key in its block (§3.1).
	if s.f > 0 {
		filter := make([]byte, 64*s.f)
		for _, key := range keys {
			fh := index.FilterHash(key)
			blk, _ := bits.Mul64(fh, s.f)
			for j := range 4 {
				p := fh >> (9 * j) & 511
				filter[64*blk+p>>3] |= 1 << (p & 7)
			}
		}
		if !bytes.Equal(filter, b[off[5]:fileSize]) {
			return false, 0
		}
	}
	return true, second
}
