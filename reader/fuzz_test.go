package reader_test

// Native fuzz targets. `go test ./...` runs their seed corpus: the files in
// testdata, small indexes built here, damaged variants of them, and the
// regression inputs kept in testdata/fuzz/<FuzzName>. A long fuzzing run,
// one target at a time:
//
//	go test ./reader -run '^$' -fuzz '^FuzzFromBytes$' -fuzztime 10m -parallel 1
//	go test ./reader -run '^$' -fuzz '^FuzzBuildRoundTrip$' -fuzztime 10m -parallel 1
//
// An input that fails is written to testdata/fuzz/<FuzzName>/; keep it
// there (committed) as a regression case once the bug is fixed.

import (
	"bytes"
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"unsafe"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// fuzzProbes are keys every fuzz input looks up, whatever the file holds:
// format.md's example set, and near misses of it.
var fuzzProbes = [][]byte{
	{}, {0}, {0xff}, []byte("a"), []byte("apple"), []byte("banana"),
	[]byte("b"), []byte("ap"), []byte("apple\x00"), []byte("zzz"), []byte("\xff\xff"),
}

// FuzzFromBytes opens arbitrary bytes with reader.FromBytes and runs every
// read operation on the Reader. Nothing may panic or hang. Opening either
// fails with an error wrapping exactly one sentinel, or gives a Reader whose
// answers are backed by the file; if Verify then accepts the file, every
// answer must be consistent with the sorted list of keys Key returns.
//
// When reseal is true, the target first recomputes the header and section
// checksums of its input (where the header is complete enough to say where
// the sections are), so that the fuzzer's changes reach the checks behind
// the checksums: the header fields, the tables and the buckets.
func FuzzFromBytes(f *testing.F) {
	for _, data := range fuzzSeedFiles(f) {
		f.Add(data, false)
		f.Add(data, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, reseal bool) {
		if reseal {
			data = slices.Clone(data)
			fuzzReseal(data)
		}
		r, err := reader.FromBytes(data)
		if err != nil {
			if r != nil {
				t.Fatalf("FromBytes returned a Reader and the error %v", err)
			}
			checkSentinel(t, err)
			return
		}
		checkAnyReader(t, r, data)
	})
}

// FuzzBuildRoundTrip builds an index of the keys in data, split at sep,
// with a fixed hash key and the load factor chosen by the low bits of lf,
// and checks that the file verifies, holds exactly the distinct keys, and
// is the same bytes when built again from the keys shuffled and repeated —
// in memory, or, when lf's top bit is set, through temporary files (a
// memory budget too small for any set).
func FuzzBuildRoundTrip(f *testing.F) {
	f.Add([]byte("\x00a\x00apple\x00banana"), byte(0), uint8(0))
	f.Add([]byte("a\nb\nc\na\n\n\xff\n\xc3\x28"), byte('\n'), uint8(1))
	f.Add(bytes.Repeat([]byte("ab,"), 40), byte(','), uint8(2))
	f.Add([]byte("x"), byte('x'), uint8(3))
	f.Add([]byte("a b c d e f g h i j k l m n o p q r s t u v w x y z aa ab"), byte(' '), uint8(0x80))
	f.Add([]byte{}, byte(0), uint8(0))
	f.Add(append(bytes.Repeat([]byte{'k'}, 300), "|k|kk|"...), byte('|'), uint8(4))
	words, err := os.ReadFile("../testdata/words.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(words[:min(len(words), 1000)], byte('\n'), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, sep byte, lf uint8) {
		keys := bytes.Split(data, []byte{sep})
		for _, k := range keys {
			if len(k) > index.MaxKeyLen {
				return // Add rejects it; TestKeyTooLong covers that
			}
		}
		loadFactors := []float64{0, builder.MinLoadFactor, 0.5, 0.9, builder.MaxLoadFactor}
		// A budget of 1 MiB keeps every set in memory, in 64 KiB chunks
		// rather than the default 4 MiB, which would dominate the time.
		opts := builder.Options{HashKey: &fixedKey, LoadFactor: loadFactors[int(lf&0x7f)%len(loadFactors)], MemoryBudget: 1 << 20}
		file := buildIndex(t, keys, opts)

		sorted := slices.Clone(keys)
		slices.SortFunc(sorted, bytes.Compare)
		sorted = slices.CompactFunc(sorted, bytes.Equal)
		r, err := reader.FromBytes(file)
		if err != nil {
			t.Fatalf("FromBytes of a built file: %v", err)
		}
		if err := r.Verify(); err != nil {
			t.Fatalf("Verify of a built file: %v", err)
		}
		if r.Len() != len(sorted) {
			t.Fatalf("Len() = %d, want %d distinct keys", r.Len(), len(sorted))
		}
		if got := slices.Collect(r.All()); !slices.EqualFunc(got, sorted, bytes.Equal) {
			t.Fatalf("All() = %q, want %q", got, sorted)
		}
		checkAnyReader(t, r, file) // with Verify passing: consistent answers

		// Another order, with every key twice, gives the same bytes.
		var seed maphash.Hash
		seed.Write(data)
		rng := rand.New(rand.NewPCG(seed.Sum64(), uint64(sep)))
		shuffled := append(slices.Clone(keys), keys...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if lf&0x80 != 0 {
			opts.MemoryBudget = 1 // spill every key to temporary files
		}
		if again := buildIndex(t, shuffled, opts); !bytes.Equal(again, file) {
			t.Fatalf("the keys shuffled and repeated give another file (%d bytes, first %d)", len(again), len(file))
		}
	})
}

// checkSentinel checks that err, from opening a file, wraps exactly one of
// the format's sentinel errors.
func checkSentinel(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, s := range []error{index.ErrNotIndex, index.ErrVersion, index.ErrCorrupt} {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %q wraps %d of ErrNotIndex, ErrVersion, ErrCorrupt, want exactly 1", err, n)
	}
}

// checkAnyReader runs every read operation of r, a Reader of data that
// opened without error. Whatever data holds, every positive answer must
// be backed by the file. If Verify accepts the file, the answers must also
// agree with a brute-force scan of the keys. It closes r.
func checkAnyReader(t *testing.T, r *reader.Reader, data []byte) {
	t.Helper()
	n := r.Len()
	h := r.Header()
	// Open checked the sections fit the file, so Len is bounded by its size.
	if n < 0 || uint64(n) != h.Keys || uint64(n)*uint64(h.OffsetWidth+h.LengthWidth) > uint64(len(data)) {
		t.Fatalf("Len() = %d, header keys %d, in a file of %d bytes", n, h.Keys, len(data))
	}
	if r.Key(-1) != nil || r.Key(n) != nil {
		t.Fatalf("Key(-1) = %q, Key(Len) = %q, want nil", r.Key(-1), r.Key(n))
	}
	keys := make([][]byte, n) // by ordinal; nil where the tables are damaged
	for i := range n {
		keys[i] = r.Key(i)
		if len(keys[i]) > index.MaxKeyLen {
			t.Fatalf("Key(%d) is %d bytes, longer than any key", i, len(keys[i]))
		}
	}

	// Lookups of fixed keys, of every key the file holds, and of near
	// misses of those.
	probes := slices.Clone(fuzzProbes)
	for _, k := range keys {
		if k != nil {
			probes = append(probes, k, append(slices.Clone(k), 0))
			if len(k) > 0 {
				probes = append(probes, k[:len(k)-1])
			}
		}
	}
	// A key found must be in the key data; Lookup finds only keys
	// Contains finds, at an ordinal whose offset table entry is where the
	// key was found, so that Key of it, when its span is in the key data,
	// starts with the key or is a prefix of it. (The empty key is ordinal
	// 0.) A lookup does not check the ordinal's span: in a damaged file
	// Key(ordinal) may be another key.
	l := r.Layout()
	keyData := data[l[index.SectionKeys].Off : l[index.SectionKeys].Off+l[index.SectionKeys].Size]
	// Most probes are keys Key returned, or cut from them: slices of the
	// Reader's key data, which need no search of keyData (that search
	// would make this quadratic in the size of the file).
	readerKeyData := r.View().Data()[l[index.SectionKeys].Off : l[index.SectionKeys].Off+l[index.SectionKeys].Size]
	found := make([]int, len(probes)) // ordinal, or -1
	contains := make([]bool, len(probes))
	for i, p := range probes {
		ord, ok := r.Lookup(p)
		sord, sok := r.LookupString(string(p))
		c, cs := r.Contains(p), r.ContainsString(string(p))
		if c != cs || sok != ok || sord != ord || (ok && !c) {
			t.Fatalf("%q: Contains %v, ContainsString %v, Lookup %d, %v, LookupString %d, %v disagree", p, c, cs, ord, ok, sord, sok)
		}
		if c && !sliceOf(p, readerKeyData) && !bytes.Contains(keyData, p) {
			t.Fatalf("Contains(%q) = true, but the key data does not hold it", p)
		}
		contains[i], found[i] = c, -1
		if ok {
			if ord < 0 || ord >= n || (len(p) == 0 && ord != 0) {
				t.Fatalf("Lookup(%q) = %d, true (Len %d)", p, ord, n)
			}
			if k := keys[ord]; len(p) > 0 && k != nil && !bytes.HasPrefix(k, p) && !bytes.HasPrefix(p, k) {
				t.Fatalf("Lookup(%q) = %d, true, but Key(%d) = %q starts elsewhere", p, ord, ord, k)
			}
			found[i] = ord
		}
	}
	// The batch lookups answer exactly as Contains does.
	batch := make([]bool, len(probes))
	r.ContainsBatch(probes, batch)
	strs := make([]string, len(probes))
	for i, p := range probes {
		strs[i] = string(p)
	}
	batchStrings := make([]bool, len(probes))
	r.ContainsStrings(strs, batchStrings)
	for i, p := range probes {
		if want := contains[i]; batch[i] != want || batchStrings[i] != want {
			t.Fatalf("%q: ContainsBatch %v, ContainsStrings %v, Contains %v", p, batch[i], batchStrings[i], want)
		}
	}

	// All yields Len keys, those Key returns, and stops when asked.
	i := 0
	for k := range r.All() {
		if i >= n || !bytes.Equal(k, keys[i]) {
			t.Fatalf("All() yielded %q as key %d, Key gives %q (Len %d)", k, i, r.Key(i), n)
		}
		i++
	}
	if i != n {
		t.Fatalf("All() yielded %d keys, Len() is %d", i, n)
	}
	for range r.All() {
		break
	}

	// Prefix scans: the empty prefix, the probes' prefixes, and prefixes of
	// the first keys.
	prefixes := [][]byte{{}, {0}, {0xff}, []byte("a"), []byte("ap"), []byte("b")}
	for _, k := range keys[:min(n, 8)] {
		for j := range min(len(k), 4) + 1 {
			prefixes = append(prefixes, k[:j])
		}
	}
	if n > 0 && keys[n-1] != nil {
		prefixes = append(prefixes, keys[n-1])
	}
	ranges := make([][2]int, len(prefixes))
	for pi, p := range prefixes {
		s, e := r.PrefixRange(p)
		if s < 0 || s > e || e > n {
			t.Fatalf("PrefixRange(%q) = [%d, %d) with Len %d", p, s, e, n)
		}
		count := 0
		for k := range r.Prefix(p) {
			if !bytes.HasPrefix(k, p) {
				t.Fatalf("Prefix(%q) yielded %q", p, k)
			}
			count++
		}
		if count > e-s {
			t.Fatalf("Prefix(%q) yielded %d keys, PrefixRange says [%d, %d)", p, count, s, e)
		}
		ranges[pi] = [2]int{s, e}
	}

	verr := r.Verify()
	if verr != nil && !errors.Is(verr, index.ErrCorrupt) {
		t.Fatalf("Verify: %v, want nil or ErrCorrupt", verr)
	}
	if verr == nil {
		checkVerified(t, r, keys, probes, found, contains, prefixes, ranges)
	}

	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r.Len() != 0 || r.Contains(fuzzProbes[0]) || r.Key(0) != nil || r.Verify() == nil {
		t.Fatal("the Reader still answers after Close")
	}
}

// sliceOf reports whether p is a slice of s: bytes of s's memory.
func sliceOf(p, s []byte) bool {
	if len(p) == 0 || len(p) > len(s) {
		return len(p) == 0
	}
	ps, ss := uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return ps >= ss && ps-ss <= uintptr(len(s)-len(p))
}

// checkVerified checks the answers of r, whose file Verify accepted,
// against its keys by ordinal: they must be strictly ascending, each found
// at its ordinal, the probes found (Lookup's ordinal, found) and contained
// (Contains, and so ContainsBatch) exactly when they are keys, and each
// prefix's range the one a scan of the keys gives.
func checkVerified(t *testing.T, r *reader.Reader, keys, probes [][]byte, found []int, contains []bool, prefixes [][]byte, ranges [][2]int) {
	t.Helper()
	for i, k := range keys {
		if k == nil {
			t.Fatalf("Verify accepted the file, but Key(%d) = nil", i)
		}
		if i > 0 && bytes.Compare(keys[i-1], k) >= 0 {
			t.Fatalf("Verify accepted the file, but key %d %q is not above key %d %q", i, k, i-1, keys[i-1])
		}
		if ord, ok := r.Lookup(k); !ok || ord != i || !r.Contains(k) {
			t.Fatalf("Verify accepted the file, but Lookup(Key(%d) = %q) = %d, %v", i, k, ord, ok)
		}
	}
	for i, p := range probes {
		want, ok := slices.BinarySearchFunc(keys, p, bytes.Compare)
		if !ok {
			want = -1
		}
		if found[i] != want {
			t.Fatalf("Verify accepted the file, but Lookup(%q) gave ordinal %d, a scan gives %d (-1: absent)", p, found[i], want)
		}
		if contains[i] != (want >= 0) {
			t.Fatalf("Verify accepted the file, but Contains(%q) = %v, a scan gives ordinal %d (-1: absent)", p, contains[i], want)
		}
	}
	for pi, p := range prefixes {
		s := sort.Search(len(keys), func(i int) bool { return bytes.Compare(keys[i], p) >= 0 })
		e := s
		for e < len(keys) && bytes.HasPrefix(keys[e], p) {
			e++
		}
		if ranges[pi] != [2]int{s, e} {
			t.Fatalf("Verify accepted the file, but PrefixRange(%q) = %v, a scan gives [%d, %d)", p, ranges[pi], s, e)
		}
		if got := slices.Collect(r.Prefix(p)); !slices.EqualFunc(got, keys[s:e], bytes.Equal) {
			t.Fatalf("Verify accepted the file, but Prefix(%q) = %q, a scan gives %q", p, got, keys[s:e])
		}
	}
}

// fuzzReseal recomputes, in place, the checksums of data: each section's,
// if the header (checksum aside) describes sections that fit data, and the
// header's, if data holds a header.
func fuzzReseal(data []byte) {
	if len(data) < index.HeaderSize {
		return
	}
	resealHeader(data)
	h, err := index.ParseHeader(data, "")
	if err != nil {
		return
	}
	l, err := h.Layout(uint64(len(data)), "")
	if err != nil {
		return
	}
	for s := index.SectionBuckets; s < index.NumSections; s++ {
		le.PutUint32(data[hdrSectionCRC+4*int(s-index.SectionBuckets):], index.Checksum(data[l[s].Off:l[s].End]))
	}
	resealHeader(data)
}

// fuzzSeedFiles returns the seed corpus of FuzzFromBytes: the STRU files
// in testdata, small valid indexes of several shapes, and damaged
// variants of them — truncated, extended, with bits flipped, with header
// fields changed under a recomputed header checksum, and with sections
// changed under recomputed section checksums, so that Open accepts them
// and only Verify can tell.
func fuzzSeedFiles(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, pattern := range []string{"testdata/*.stru", "../testdata/*.stru"} {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, data)
		}
	}
	if len(seeds) == 0 {
		f.Fatal("no testdata/*.stru files")
	}

	long := bytes.Repeat([]byte("L"), 300) // needs 2-byte lengths
	many := make([][]byte, 60)             // fills buckets: second-bucket keys
	for i := range many {
		many[i] = []byte{byte('a' + i%26), byte('a' + i/26), byte(i)}
	}
	sets := []struct {
		keys [][]byte
		lf   float64
	}{
		{nil, 0},
		{[][]byte{{}}, 0},
		{tinyKeys, 0},
		{fixtureKeys, builder.MaxLoadFactor},
		{[][]byte{[]byte("a"), long, append(slices.Clone(long), 'x')}, 0},
		{many, builder.MaxLoadFactor},
	}
	var valid [][]byte
	for _, s := range sets {
		valid = append(valid, buildIndex(f, s.keys, builder.Options{HashKey: &fixedKey, LoadFactor: s.lf}))
	}
	seeds = append(seeds, valid...)
	seeds = append(seeds, nil, []byte("STRU"), []byte("STRU\x01\x00\x80\x00"), []byte("STRU\x02\x00\x80\x00"), make([]byte, index.HeaderSize))

	rng := rand.New(rand.NewPCG(1, 2))
	for _, good := range valid {
		l := layoutOf(f, good)
		damaged := func(change func(b []byte)) []byte {
			b := slices.Clone(good)
			change(b)
			return b
		}
		// Truncations at and around the header and section boundaries,
		// and trailing data.
		for _, cut := range []uint64{3, 4, 64, index.HeaderSize - 1, index.HeaderSize, l[index.SectionOffsets].Off, l[index.SectionKeys].Off, uint64(len(good) - 1)} {
			if cut < uint64(len(good)) {
				seeds = append(seeds, good[:cut:cut])
			}
		}
		seeds = append(seeds, append(slices.Clone(good), 0), append(slices.Clone(good), make([]byte, index.Align)...))
		// A bit flipped in the header and in each section.
		for s := index.SectionHeader; s < index.NumSections; s++ {
			if l[s].Size > 0 {
				at := l[s].Off + rng.Uint64N(l[s].Size)
				seeds = append(seeds, damaged(func(b []byte) { b[at] ^= 1 << rng.IntN(8) }))
			}
		}
		// Header fields changed, header checksum recomputed.
		for _, change := range []func([]byte){
			add64(hdrKeys, 1), add64(hdrKeys, -1), add64(hdrBuckets, 1), add64(hdrBuckets, -1),
			add64(hdrKeyBytes, 1), add64(hdrKeyBytes, -1), add64(hdrFileSize, index.Align),
			add32(hdrMaxKeyLen, 1), add32(hdrMaxKeyLen, -1), set8(hdrOffsetWidth, 8), set8(hdrLengthWidth, 2),
			set64(hdrKeys, index.MaxKeys), set64(hdrBuckets, 1<<58), set64(hdrKeyBytes, 1<<62),
			set32(hdrIncompat, 1), set32(hdrCompat, 1), set8(hdrReserved2, 1), set16(hdrVersion, 1), set16(hdrVersion, 3),
			set64(hdrKeyBytes, index.MaxKeyBytes+1),
			func(b []byte) { b[hdrHashKey] ^= 0x80 },
		} {
			seeds = append(seeds, damaged(func(b []byte) { change(b); resealHeader(b) }))
		}
		// Sections changed, every checksum recomputed: Open accepts them.
		sectionChanges := []func([]byte){
			func(b []byte) { b[l[index.SectionBuckets].Off+rng.Uint64N(l[index.SectionBuckets].Size)] ^= 0x10 },
			func(b []byte) { le.PutUint64(b[l[index.SectionBuckets].Off:], index.MakeSlot(0, 0, index.MaxKeyBytes)) },
			func(b []byte) {
				le.PutUint64(b[l[index.SectionBuckets].Off:], index.Match(0, index.LongKey)<<index.OffsetBits)
			},
			func(b []byte) { clear(b[l[index.SectionBuckets].Off:l[index.SectionBuckets].End]) },
			func(b []byte) { fillRandom(rng, b[l[index.SectionBuckets].Off:l[index.SectionBuckets].End]) },
			func(b []byte) { b[l[index.SectionKeys].End-1] = 1 }, // padding, where there is some
		}
		if l[index.SectionOffsets].Size > 0 {
			sectionChanges = append(sectionChanges,
				func(b []byte) { fillRandom(rng, b[l[index.SectionOffsets].Off:l[index.SectionOffsets].End]) },
				func(b []byte) { le.PutUint32(b[l[index.SectionOffsets].Off:], 1<<32-1) },
				func(b []byte) { b[l[index.SectionLengths].Off] = 0xff },
				func(b []byte) { fillRandom(rng, b[l[index.SectionLengths].Off:l[index.SectionLengths].End]) },
			)
		}
		if l[index.SectionKeys].Size > 1 {
			keys := l[index.SectionKeys]
			sectionChanges = append(sectionChanges,
				func(b []byte) { b[keys.Off], b[keys.Off+keys.Size-1] = b[keys.Off+keys.Size-1], b[keys.Off] },
				func(b []byte) { fillRandom(rng, b[keys.Off:keys.Off+keys.Size]) },
			)
		}
		for _, change := range sectionChanges {
			seeds = append(seeds, damaged(func(b []byte) { change(b); fuzzReseal(b) }))
		}
		// Decoys: a slot with a key's tag and length field ahead of the
		// key's own slot in its first bucket, pointing past the end of the
		// key data, at offset 2^64-1 (offset+1 is 0), or at the start of
		// the next key, checksums recomputed. A lookup must look past it.
		gr, err := reader.FromBytes(good)
		if err != nil {
			f.Fatal(err)
		}
		h := gr.Header()
		k0, k1 := h.HashKey.Halves()
		for ord := range h.Keys {
			key := gr.Key(int(ord))
			hash := index.Hash(k0, k1, key)
			b1, _ := index.Buckets(hash, h.Buckets)
			at := l[index.SectionBuckets].Off + b1*index.BucketSize
			if le.Uint64(good[at+index.BucketSize-index.SlotSize:]) != 0 {
				continue // b1 is full: the key may be in its second bucket
			}
			match := index.Match(hash, uint64(len(key))) << index.OffsetBits
			// The offset table entry of another key.
			otherAt := l[index.SectionOffsets].Off + (ord+1)%h.Keys*uint64(h.OffsetWidth)
			otherOff := uint64(le.Uint32(good[otherAt:]))
			if h.OffsetWidth == 8 {
				otherOff = le.Uint64(good[otherAt:])
			}
			for _, decoy := range []uint64{match | (h.KeyBytes + 1), match, match | (otherOff + 1)} {
				seeds = append(seeds, damaged(func(b []byte) {
					copy(b[at+index.SlotSize:at+index.BucketSize], b[at:at+index.BucketSize-index.SlotSize])
					le.PutUint64(b[at:], decoy)
					fuzzReseal(b)
				}))
			}
			break
		}
	}
	return seeds
}

// fillRandom fills b with random bytes from rng.
func fillRandom(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
