package builder

// TestRandomSortedWriter: random key sets given to a SortedWriter or
// WriteSorted in random ways, with random faults, checked against the
// in-memory Builder's file and against what the documentation promises
// when the build fails.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

var (
	sortedN    = flag.Int("sorted-n", 25, "cases of TestRandomSortedWriter (every 50th is big)")
	sortedSeed = flag.Uint64("sorted-seed", 0, "seed of TestRandomSortedWriter (0: derived from the time, and logged)")
)

// A feedMode is how a sortedCase gives its keys.
type feedMode int

const (
	feedAdd feedMode = iota // SortedWriter.Add and AddString, at random
	feedSeq                 // WriteSorted, from a sequence that reuses one buffer
)

// An expectMode is how a sortedCase calls SortedWriter.Expect (feedAdd
// only).
type expectMode int

const (
	expectNone     expectMode = iota
	expectExact               // the distinct keys' counts and longest length
	expectGiven               // duplicates counted as keys
	expectFewKeys             // fewer keys than there are
	expectFewBytes            // fewer key bytes than there are
	expectShortMax            // a longest key shorter than the longest
	expectMore                // more of everything
	expectTooLarge            // more than any file can hold
	expectHuge                // the format's most: beyond ext4's largest file
	numExpectModes
)

var expectNames = [...]string{"none", "exact", "duplicates counted", "too few keys", "too few bytes", "longest too short", "more", "too large", "the format's most"}

// A faultKind is what goes wrong in a sortedCase, at its position at.
type faultKind int

const (
	faultNone    faultKind = iota
	faultOrder             // a key smaller than the one before: an *OrderError
	faultTooLong           // a key longer than index.MaxKeyLen
	faultCancel            // ctx canceled before the key at at is given (or before Close)
	faultIter              // the sequence yields an error (feedSeq only)
	faultAbort             // Abort before the key at at (feedAdd only)
	faultLateExp           // Expect after the key at at-1 (feedAdd only)
	numFaults
)

var faultNames = [...]string{"none", "order", "key too long", "cancel", "iterator error", "abort", "Expect after Add"}

// A sortedCase is one random run.
type sortedCase struct {
	set    [][]byte // the distinct keys, ascending
	input  [][]byte // the keys given, in order: set with duplicates, and a fault's key at at
	valid  int      // keys given but the fault's: len(input), less the key it inserts
	opts   Options  // TempDir "" stands for the output's directory
	newTmp bool     // Options.TempDir is a directory of its own
	feed   feedMode
	expect expectMode
	fault  faultKind
	at     int    // where the fault comes, in [0, valid]
	old    []byte // the file at the path before the run; nil for none
	big    bool   // its table must be placed in partitions
}

func (c *sortedCase) String() string {
	var maxLen int
	for _, k := range c.set {
		maxLen = max(maxLen, len(k))
	}
	feed := "Add"
	if c.feed == feedSeq {
		feed = "WriteSorted"
	}
	return fmt.Sprintf("big %v, %d keys (%d given, longest %d), %s, Expect %s, fault %s at %d, load factor %v, filter bits %d, budget %d, own TempDir %v, old file %v",
		c.big, len(c.set), c.valid, maxLen, feed, expectNames[c.expect], faultNames[c.fault], c.at,
		c.opts.LoadFactor, c.opts.FilterBitsPerKey, c.opts.MemoryBudget, c.newTmp, c.old != nil)
}

// bigEvery makes every bigEvery-th case of TestRandomSortedWriter a big
// one: too slow for the default run under the race detector, they come in
// longer runs.
const bigEvery = 50

// randomSortedCase draws a case. A big case has 27000–30000 distinct
// keys at load factor MinLoadFactor, more than 65536 buckets: two blocks,
// placed in partitions within its small budget.
func randomSortedCase(rng *rand.Rand, big bool) *sortedCase {
	c := &sortedCase{big: big}
	n := 0
	switch r := rng.IntN(10); {
	case big:
		n = 27000 + rng.IntN(3001)
	case r == 0:
		n = 0
	case r == 1:
		n = 1
	case r < 4:
		n = rng.IntN(20)
	default:
		n = rng.IntN(2001)
	}
	c.set = randomSortedSet(rng, n)
	for big && len(c.set) < 27000 { // duplicates drawn
		c.set = sortedSet(append(c.set, randomSortedSet(rng, 1000)...))
	}
	for _, k := range c.set {
		c.input = append(c.input, k)
		if rng.IntN(4) == 0 {
			for range 1 + rng.IntN(3) {
				c.input = append(c.input, k)
			}
		}
	}
	c.valid = len(c.input)

	var hk index.HashKey
	for i := range hk {
		hk[i] = byte(rng.Uint32())
	}
	c.opts.HashKey = &hk
	if rng.IntN(3) > 0 {
		c.opts.LoadFactor = MinLoadFactor + rng.Float64()*(MaxLoadFactor-MinLoadFactor)
	}
	switch rng.IntN(4) {
	case 1:
		c.opts.FilterBitsPerKey = -1
	case 2, 3:
		c.opts.FilterBitsPerKey = 1 + rng.IntN(MaxFilterBitsPerKey)
	}
	c.opts.MemoryBudget = []int64{1, 1 + rng.Int64N(1<<20), smallBudget, 0, -1, 8<<20 + rng.Int64N(8<<20)}[rng.IntN(6)]
	if big {
		c.opts.LoadFactor = MinLoadFactor
		c.opts.MemoryBudget = []int64{1, 1 + rng.Int64N(1<<20), smallBudget}[rng.IntN(3)]
	}
	c.newTmp = rng.IntN(3) > 0

	c.feed = feedMode(rng.IntN(2))
	if c.feed == feedAdd && rng.IntN(2) == 0 {
		c.expect = expectMode(1 + rng.IntN(int(numExpectModes)-1))
	}
	if rng.IntN(2) == 0 {
		c.fault = faultKind(1 + rng.IntN(int(numFaults)-1))
	}
	if rng.IntN(2) == 0 {
		c.old = make([]byte, rng.IntN(300))
		for i := range c.old {
			c.old[i] = byte(rng.Uint32())
		}
	}
	c.placeFault(rng)
	return c
}

// randomSortedSet returns the distinct keys, ascending, of n keys drawn of
// bytes from a small alphabet with 0x00 and 0xff, mostly short, with now
// and then the empty key or a key near index.MaxKeyLen.
func randomSortedSet(rng *rand.Rand, n int) [][]byte {
	alphabet := []byte{0x00, 0xff}
	for _, b := range []byte{0x01, 'a', 0x7f, 0x80, 0xfe} {
		if rng.IntN(2) == 0 {
			alphabet = append(alphabet, b)
		}
	}
	maxLen := []int{4, 12, 40, 300}[rng.IntN(4)]
	if n > 2000 {
		maxLen = 40 // room for n distinct keys
	}
	// Now and then up to 40 keys near the format's limit: over 1 MiB of
	// key data, more than a buffer of the streamed build.
	long := 0
	if n > 0 && rng.IntN(4) == 0 {
		long = 1 + rng.IntN(min(n, 40))
	}
	keys := make([][]byte, 0, n+1)
	if rng.IntN(4) == 0 {
		keys = append(keys, []byte{})
	}
	for i := range n {
		l := rng.IntN(maxLen + 1)
		if i < long {
			l = index.MaxKeyLen - rng.IntN(3)
			if rng.IntN(2) == 0 {
				l = index.MaxKeyLen/2 + rng.IntN(index.MaxKeyLen/2)
			}
		}
		k := make([]byte, l)
		for i := range min(l, 300) {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if l > 300 { // a long key: its first 300 bytes repeated, a few changed
			for i := 300; i < l; i *= 2 {
				copy(k[i:], k[:i])
			}
			for range 8 {
				k[rng.IntN(l)] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		keys = append(keys, k)
	}
	return sortedSet(keys)
}

// placeFault chooses where c's fault comes and puts its key in c.input,
// or drops the fault when the keys leave no room for it.
func (c *sortedCase) placeFault(rng *rand.Rand) {
	switch {
	case c.fault == faultIter && c.feed == feedAdd:
		c.fault = faultAbort
	case (c.fault == faultAbort || c.fault == faultLateExp) && c.feed == feedSeq:
		c.fault = faultIter
	}
	if c.fault == faultLateExp && c.valid == 0 {
		c.fault = faultCancel
	}
	switch c.fault {
	case faultNone:
		return
	case faultLateExp:
		c.at = 1 + rng.IntN(c.valid)
		return
	case faultCancel, faultIter, faultAbort:
		c.at = rng.IntN(c.valid + 1)
		return
	}
	var bad []byte
	if c.fault == faultTooLong {
		// All 0xff, and longer than any key: greater than every key.
		c.at = rng.IntN(c.valid + 1)
		bad = bytes.Repeat([]byte{0xff}, index.MaxKeyLen+1)
	} else {
		// A key smaller than the one before it, which must not be empty.
		var at []int
		for i := 1; i <= c.valid; i++ {
			if len(c.input[i-1]) > 0 {
				at = append(at, i)
			}
		}
		if len(at) == 0 {
			c.fault = faultNone
			return
		}
		// Now and then after the last key, the edge of a loop.
		c.at = at[len(at)-1]
		if rng.IntN(4) > 0 {
			c.at = at[rng.IntN(len(at))]
		}
		bad = smallerKey(rng, c.input[c.at-1], c.set)
	}
	c.input = slices.Insert(slices.Clone(c.input), c.at, bad)
}

// smallerKey returns a key smaller than prev, which is not empty: a
// proper prefix of it, prev with a byte lowered, or a smaller key of set.
func smallerKey(rng *rand.Rand, prev []byte, set [][]byte) []byte {
	switch rng.IntN(3) {
	case 0:
		i, _ := slices.BinarySearchFunc(set, prev, bytes.Compare)
		if i > 0 {
			return bytes.Clone(set[rng.IntN(i)])
		}
	case 1:
		for i := len(prev) - 1; i >= 0; i-- {
			if prev[i] > 0 {
				k := bytes.Clone(prev)
				k[i] -= 1 + byte(rng.IntN(int(prev[i])))
				return k
			}
		}
	}
	if rng.IntN(4) == 0 {
		return []byte{}
	}
	return bytes.Clone(prev[:rng.IntN(len(prev))])
}

// given returns the keys c gives but the fault's.
func (c *sortedCase) given() [][]byte {
	if c.valid == len(c.input) {
		return c.input
	}
	return slices.Delete(slices.Clone(c.input), c.at, c.at+1)
}

// expectArgs returns the arguments of c's call to Expect.
func (c *sortedCase) expectArgs() (keys, keyBytes uint64, maxLen uint32) {
	var longest int
	for _, k := range c.set {
		keyBytes += uint64(len(k))
		longest = max(longest, len(k))
	}
	keys, maxLen = uint64(len(c.set)), uint32(longest)
	switch c.expect {
	case expectGiven:
		keys, keyBytes = uint64(c.valid), 0
		for _, k := range c.given() {
			keyBytes += uint64(len(k))
		}
	case expectFewKeys:
		keys /= 2
	case expectFewBytes:
		keyBytes /= 3
	case expectShortMax:
		maxLen /= 2
	case expectMore:
		keys, keyBytes, maxLen = 3*keys+100, 2*keyBytes+1000, index.MaxKeyLen
	case expectTooLarge:
		keys, keyBytes = 1<<40, 1<<62
	case expectHuge:
		keys, keyBytes, maxLen = index.MaxKeys, index.MaxKeyBytes, index.MaxKeyLen
	}
	return keys, keyBytes, maxLen
}

// TestRandomSortedWriter runs -sorted-n random cases (randomSortedCase):
// a set of keys with duplicates given to SortedWriter, through Add and
// AddString, with or without Expect and its counts right or wrong, or to
// WriteSorted, whose sequence reuses one buffer; now and then a fault at a
// random position: a key out of order, a key too long, ctx canceled, the
// sequence's error, Abort, Expect after Add. A build without a fault must
// write the in-memory Builder's file and Stats, which the reader verifies
// and finds every key in; a build with one must return its error and
// leave the path as it was. Neither may leave a temporary file behind.
// A case replays with -sorted-seed S -run 'TestRandomSortedWriter/^N$'.
func TestRandomSortedWriter(t *testing.T) {
	seed := *sortedSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -sorted-seed %d)", seed, seed)
	for i := range *sortedN {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			c := randomSortedCase(rand.New(rand.NewPCG(seed, uint64(i))), i%bigEvery == bigEvery-1)
			t.Logf("seed %d, case %d: %v", seed, i, c)
			c.run(t, rand.New(rand.NewPCG(seed, uint64(i)+1<<32)))
		})
	}
}

// run builds c and checks the outcome; rng decides between Add and
// AddString.
func (c *sortedCase) run(t *testing.T, rng *rand.Rand) {
	outDir := t.TempDir()
	tmp := outDir
	opts := c.opts
	if c.newTmp {
		tmp = t.TempDir()
		opts.TempDir = tmp
	}
	path := filepath.Join(outDir, "x.stru")
	if c.old != nil {
		if err := os.WriteFile(path, c.old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		err   error
		stats Stats
		want  error // the error the fault must cause, if its identity is known
	)
	if c.feed == feedSeq {
		boom := errors.New("the sequence's error")
		if c.fault == faultIter {
			want = boom
		}
		stats, err = WriteSorted(ctx, path, c.seq(boom, cancel), opts)
	} else {
		stats, err, want = c.add(t, ctx, cancel, path, opts, rng)
	}

	var oe *OrderError
	switch c.fault {
	case faultNone:
		if err != nil {
			t.Fatal(err)
		}
	case faultOrder:
		if !errors.As(err, &oe) {
			t.Fatalf("got %v, want an *OrderError", err)
		}
		if oe.Index != uint64(c.at) || !bytes.Equal(oe.Key, c.input[c.at]) || !bytes.Equal(oe.Prev, c.input[c.at-1]) {
			t.Fatalf("OrderError{%d, %q, %q}, want {%d, %q, %q}",
				oe.Index, abbrev(oe.Key), abbrev(oe.Prev), c.at, abbrev(c.input[c.at]), abbrev(c.input[c.at-1]))
		}
	case faultTooLong:
		if !errors.Is(err, index.ErrKeyTooLong) {
			t.Fatalf("got %v, want index.ErrKeyTooLong", err)
		}
	case faultCancel:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case faultAbort:
		if err == nil || !strings.Contains(err.Error(), "after Abort") {
			t.Fatalf("Close after Abort: %v, want an error", err)
		}
	default:
		if err == nil {
			t.Fatalf("no error, want %v", want)
		}
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}

	if c.fault != faultNone {
		if stats != (Stats{}) {
			t.Errorf("Stats after an error: %+v, want zero", stats)
		}
		got, rerr := os.ReadFile(path)
		switch {
		case c.old == nil && !errors.Is(rerr, os.ErrNotExist):
			t.Errorf("%s exists after the error: %v", path, rerr)
		case c.old != nil && !bytes.Equal(got, c.old):
			t.Errorf("%s changed (%d bytes, were %d, %v)", path, len(got), len(c.old), rerr)
		}
	} else {
		c.checkFile(t, path, stats)
	}
	left := dirEntries(t, outDir)
	if c.old != nil || c.fault == faultNone {
		left = slices.DeleteFunc(left, func(n string) bool { return n == "x.stru" })
	}
	if len(left) > 0 {
		t.Errorf("the output's directory holds %q", left)
	}
	if c.newTmp {
		checkEmpty(t, tmp, "after the build")
	}
}

// junk is what seq scribbles over a key once the next is asked for.
var junk = bytes.Repeat([]byte{0x5a}, index.MaxKeyLen+1)

// seq returns the sequence of c's keys for WriteSorted: each yielded in
// one buffer, which is scribbled over once the next key is asked for.
// At c.at it cancels the build or yields boom, for those faults.
func (c *sortedCase) seq(boom error, cancel func()) func(func([]byte, error) bool) {
	return func(yield func([]byte, error) bool) {
		var longest int
		for _, k := range c.input {
			longest = max(longest, len(k))
		}
		buf := make([]byte, 0, longest)
		for i := 0; i <= len(c.input); i++ {
			if i == c.at {
				switch c.fault {
				case faultCancel:
					cancel()
				case faultIter:
					var k []byte
					if i < len(c.input) && i%2 == 0 {
						k = c.input[i]
					}
					yield(k, boom)
					return
				}
			}
			if i == len(c.input) {
				return
			}
			buf = append(buf[:0], c.input[i]...)
			if !yield(buf, nil) {
				return
			}
			copy(buf, junk)
		}
	}
}

// add builds c with a SortedWriter. It returns the Stats and the error
// of Close, and the error the fault must cause when it is known: Add's,
// which Close must return too.
func (c *sortedCase) add(t *testing.T, ctx context.Context, cancel func(), path string, opts Options, rng *rand.Rand) (Stats, error, error) {
	w, err := NewSortedWriter(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if c.expect != expectNone {
		if err := w.Expect(c.expectArgs()); err != nil {
			t.Fatalf("Expect: %v", err)
		}
	}
	var addErr error
	for i := 0; i <= len(c.input); i++ {
		if i == c.at {
			switch c.fault {
			case faultCancel:
				cancel()
			case faultAbort:
				if err := w.Abort(); err != nil {
					t.Fatalf("Abort: %v", err)
				}
				if err := w.Add([]byte{0xff}); err == nil {
					t.Fatal("Add after Abort succeeded")
				}
			case faultLateExp:
				if addErr = w.Expect(c.expectArgs()); addErr == nil {
					t.Fatal("Expect after Add succeeded")
				}
			}
		}
		if i == len(c.input) {
			break
		}
		var err error
		if rng.IntN(2) == 0 {
			err = w.Add(c.input[i])
		} else {
			err = w.AddString(string(c.input[i]))
		}
		switch {
		case err == nil && addErr != nil:
			t.Fatalf("Add of key %d succeeded after the error %v", i, addErr)
		case err != nil && addErr == nil && c.fault != faultAbort:
			addErr = err
			if i != c.at && c.fault != faultCancel {
				t.Fatalf("Add of key %d: %v, want the fault at %d", i, err, c.at)
			}
		case err != nil && addErr != nil && err != addErr:
			t.Fatalf("Add of key %d after the error %v: %v, want the same", i, addErr, err)
		}
	}
	if st := w.Stats(); st != (Stats{}) {
		t.Fatalf("Stats before Close: %+v, want zero", st)
	}
	err = w.Close()
	if addErr != nil && err != addErr {
		t.Fatalf("Close: %v, want Add's error %v", err, addErr)
	}
	if again := w.Close(); again != err && !(c.fault == faultAbort && again != nil) {
		t.Fatalf("a second Close: %v, want %v", again, err)
	}
	if err != nil {
		return w.Stats(), err, addErr
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort after Close: %v", err)
	}
	return w.Stats(), nil, nil
}

// checkFile checks the file a build of c without a fault wrote at path,
// and its Stats.
func (c *sortedCase) checkFile(t *testing.T, path string, stats Stats) {
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// The in-memory Builder's file, from the keys given, shuffled.
	ref := c.opts
	ref.MemoryBudget, ref.TempDir = -1, ""
	b := mustNew(t, ref)
	given := slices.Clone(c.given())
	rand.New(rand.NewPCG(uint64(len(given)), 0)).Shuffle(len(given), func(i, j int) { given[i], given[j] = given[j], given[i] })
	for _, k := range given {
		if err := b.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	refPath := filepath.Join(t.TempDir(), "ref.stru")
	if err := b.WriteFile(refPath); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(refPath)
	if err != nil {
		t.Fatal(err)
	}
	checkSameFile(t, got, want, "the sorted build")
	sameStats(t, stats, b.Stats())

	var keyBytes uint64
	for _, k := range c.set {
		keyBytes += uint64(len(k))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Keys != uint64(len(c.set)) || stats.KeyBytes != keyBytes || stats.FileBytes != uint64(fi.Size()) ||
		stats.Duplicates != uint64(c.valid-len(c.set)) {
		t.Fatalf("Stats %+v, want %d keys, %d duplicates, %d key bytes, %d file bytes",
			stats, len(c.set), c.valid-len(c.set), keyBytes, fi.Size())
	}
	if c.big && stats.Partitions < 2 {
		t.Fatalf("%d partitions, want several", stats.Partitions)
	}
	if stats.Rekeys == 0 && stats.HashKey != *c.opts.HashKey {
		t.Fatalf("Stats.HashKey %x without a rekey, want Options.HashKey %x", stats.HashKey, *c.opts.HashKey)
	}

	r, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}
	if r.Len() != len(c.set) {
		t.Fatalf("Len %d, want %d", r.Len(), len(c.set))
	}
	for i, k := range c.set {
		if ord, ok := r.Lookup(k); !ok || ord != i {
			t.Fatalf("Lookup(%q) = %d, %v; want %d, true", abbrev(k), ord, ok, i)
		}
		// A key just after k, in the set or not.
		next := append(bytes.Clone(k), 0)
		_, in := slices.BinarySearchFunc(c.set, next, bytes.Compare)
		if r.Contains(next) != in {
			t.Fatalf("Contains(%q) = %v, want %v", abbrev(next), !in, in)
		}
	}
}

// abbrev returns key, or its first 32 bytes and its length when longer,
// for a message.
func abbrev(key []byte) string {
	if len(key) <= 32 {
		return string(key)
	}
	return fmt.Sprintf("%s... (%d bytes)", key[:32], len(key))
}
