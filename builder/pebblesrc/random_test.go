package pebblesrc

// TestRandomOptions: random databases, read with random Options, against
// a model of the Options doc written apart from the code under test.

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"iter"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/reader"
)

var (
	pebbleN    = flag.Int("pebble-n", 0, fmt.Sprintf("TestRandomOptions: number of cases (0: %d, or %d with -race)", randomCasesNoRace, randomCasesRace))
	pebbleSeed = flag.Uint64("pebble-seed", 0, "TestRandomOptions: seed (0: from the clock, logged)")
)

// Default numbers of cases of TestRandomOptions, which take about 2
// seconds, or 4 with the race detector: a case takes 20 to 50 ms, most
// of it in its build.
const (
	randomCasesNoRace = 80
	randomCasesRace   = 60
)

// randomAlphabet holds the bytes of random keys: the smallest byte, the
// two largest (a prefix ending in 0xff has a successor shorter than
// itself, one of 0xff bytes alone has none) and two letters.
const randomAlphabet = "\x00\xfe\xffab"

// randomKey returns a key of 0 to 40 bytes over randomAlphabet, mostly
// short so that keys share prefixes, sometimes all 0xff bytes.
func randomKey(rng *rand.Rand) string {
	var n int
	switch r := rng.IntN(8); {
	case r == 0:
		return ""
	case r == 1:
		return strings.Repeat("\xff", 1+rng.IntN(5))
	case r < 7:
		n = 1 + rng.IntN(4)
	default:
		n = 5 + rng.IntN(36)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = randomAlphabet[rng.IntN(len(randomAlphabet))]
	}
	return string(b)
}

// randomDB writes a random mix of sets, deletes, range deletes, flushes
// and compactions to a new database, through a modelDB, and takes a
// snapshot at a random step. It returns the database with its model and
// the snapshot with the keys it must show.
//
// The database lives in memory, which makes a case several times
// faster. Compactions are the manual ones of the steps alone, so that a
// case makes the same tables each time (and no number of tables in L0
// stops writes); and they stop once the empty key is written (set,
// deleted, or starting a range delete): Pebble v2.1.7 fails them when a
// table holds it, on an assertion that the output lies within the
// compaction's bounds, which leave out the empty key (Set(""), Flush,
// Set("b"), Compact fails so). Flushes go on.
func randomDB(t *testing.T, rng *rand.Rand) (m *modelDB, snap *pebble.Snapshot, snapKeys model) {
	t.Helper()
	pool := make([]string, 1+rng.IntN(40))
	for i := range pool {
		pool[i] = randomKey(rng)
	}
	db := openDB(t, "db", &pebble.Options{
		FS:                          vfs.NewMem(),
		DisableAutomaticCompactions: true,
		L0StopWritesThreshold:       math.MaxInt32,
	})
	m = &modelDB{t: t, db: db, live: model{}, universe: map[string]bool{}}
	emptyKey := false // whether the empty key was written
	steps := rng.IntN(80)
	snapAt := rng.IntN(steps + 1)
	for i := 0; i <= steps; i++ {
		if i == snapAt {
			snap = m.db.NewSnapshot()
			t.Cleanup(func() {
				if err := snap.Close(); err != nil {
					t.Errorf("closing snapshot: %v", err)
				}
			})
			snapKeys = m.live.clone()
		}
		if i == steps {
			break
		}
		switch r := rng.IntN(20); {
		case r < 9:
			k := pool[rng.IntN(len(pool))]
			emptyKey = emptyKey || k == ""
			m.set(k)
		case r < 11:
			for range 1 + rng.IntN(len(pool)) {
				k := pool[rng.IntN(len(pool))]
				emptyKey = emptyKey || k == ""
				m.set(k)
			}
		case r < 14:
			// A key written or not, live or not.
			k := pool[rng.IntN(len(pool))]
			emptyKey = emptyKey || k == ""
			m.delete(k)
		case r < 16:
			// From a live key (modelDB refuses a range that deletes
			// nothing) to a key above it. Pebble v2.1.7 built with -race
			// checks its iterators' spans, and takes one that starts at
			// the empty key for no span: it panics reading a table
			// that holds one (Set("a"), DeleteRange("", "b"), Flush,
			// then an iterator with lower bound "\x00"). Other builds
			// read such tables right, which the cases check.
			live := slices.Sorted(maps.Keys(m.live))
			if raceEnabled && len(live) > 0 && live[0] == "" {
				live = live[1:]
			}
			if len(live) == 0 {
				continue
			}
			start := live[rng.IntN(len(live))]
			var above []string
			for _, k := range pool {
				if k > start {
					above = append(above, k)
				}
			}
			end := start + "\x00" // start alone
			if len(above) > 0 && rng.IntN(4) != 0 {
				end = above[rng.IntN(len(above))]
			}
			emptyKey = emptyKey || start == ""
			m.deleteRange(start, end)
		case r < 18 || emptyKey:
			m.flush()
		default:
			m.compact()
		}
	}
	return m, snap, snapKeys
}

// randomBound returns nil, the empty key, a key of the database, a key
// next to one, a random key or all 0xff bytes.
func randomBound(rng *rand.Rand, universe []string) []byte {
	switch rng.IntN(10) {
	case 0, 1, 2:
		return nil
	case 3:
		return []byte{}
	case 4, 5, 6:
		return []byte(universe[rng.IntN(len(universe))])
	case 7:
		k := universe[rng.IntN(len(universe))]
		if rng.IntN(2) == 0 {
			return []byte(k + "\x00") // the key right after k
		}
		return []byte(k[:rng.IntN(len(k)+1)])
	case 8:
		return bytes.Repeat([]byte{0xff}, 1+rng.IntN(5))
	default:
		return []byte(randomKey(rng))
	}
}

// randomPrefix returns nil, the empty prefix, a key that the readers
// hold, a prefix of one, all 0xff bytes (no successor) or a random key.
func randomPrefix(rng *rand.Rand, held []string) []byte {
	switch rng.IntN(10) {
	case 0, 1:
		return nil
	case 2:
		return []byte{}
	case 3:
		return []byte(held[rng.IntN(len(held))])
	case 4, 5, 6:
		k := held[rng.IntN(len(held))]
		return []byte(k[:rng.IntN(len(k)+1)])
	case 7, 8:
		return bytes.Repeat([]byte{0xff}, 1+rng.IntN(3))
	default:
		return []byte(randomKey(rng))
	}
}

// randomOptions draws Options: bounds about the keys ever written,
// prefixes about the keys held. Lower above Upper, an error, comes in
// about one case in ten.
func randomOptions(rng *rand.Rand, universe, held []string) Options {
	o := Options{
		Lower:       randomBound(rng, universe),
		Upper:       randomBound(rng, universe),
		Prefix:      randomPrefix(rng, held),
		StripPrefix: rng.IntN(2) == 0,
	}
	if o.Lower != nil && o.Upper != nil && bytes.Compare(o.Lower, o.Upper) > 0 && rng.IntN(3) != 0 {
		o.Lower, o.Upper = o.Upper, o.Lower
	}
	return o
}

// selected returns the keys of live that the Options doc says o reads,
// as they are indexed, in ascending order; ok is false when o is an
// error (Lower above Upper). It applies each rule of the doc to each key.
func selected(live model, o Options) (keys []string, ok bool) {
	if o.Lower != nil && o.Upper != nil && string(o.Lower) > string(o.Upper) {
		return nil, false
	}
	for k := range live {
		if o.Lower != nil && k < string(o.Lower) {
			continue // below the inclusive lower bound
		}
		if o.Upper != nil && k >= string(o.Upper) {
			continue // at or above the exclusive upper bound
		}
		if len(o.Prefix) > 0 && !strings.HasPrefix(k, string(o.Prefix)) {
			continue
		}
		if o.StripPrefix {
			k = k[len(o.Prefix):]
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, true
}

// collect reads keys to the end, or to its error, copying each key; it
// stops after stop keys when stop >= 0.
func collect(keys iter.Seq2[[]byte, error], stop int) (got []string, err error) {
	for k, e := range keys {
		if e != nil {
			if k != nil {
				return got, fmt.Errorf("the error %v comes with the key %q", e, k)
			}
			return got, e
		}
		if got = append(got, string(k)); len(got) == stop {
			break
		}
	}
	return got, nil
}

// TestRandomOptions writes random databases, each with a snapshot taken
// in the middle of its writes, and reads them with random Options: Keys,
// directly and through ReadAhead, and Build must give exactly the keys
// that selected says, from the database and from the snapshot.
//
// Case i is a function of -pebble-seed and i alone: a failure names both,
// and "-pebble-seed S -run 'TestRandomOptions/^I$'" replays case I (with
// -pebble-n above I).
func TestRandomOptions(t *testing.T) {
	n := *pebbleN
	if n == 0 {
		n = randomCasesNoRace
		if raceEnabled {
			n = randomCasesRace
		}
	}
	seed := *pebbleSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("-pebble-seed %d -pebble-n %d", seed, n)
	var tally struct{ cases, snapDiffers, errs, empty, stripped int }
	for i := range n {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			m, snap, snapKeys := randomDB(t, rng)
			universe := slices.Sorted(maps.Keys(m.universe))
			held := slices.Sorted(maps.Keys(m.live))
			for k := range snapKeys {
				if !m.live[k] {
					held = append(held, k)
				}
			}
			slices.Sort(held)
			if len(universe) == 0 {
				universe = []string{""} // nothing written: bounds drawn from the empty key
			}
			if len(held) == 0 {
				held = universe
			}
			o := randomOptions(rng, universe, held)
			t.Logf("seed %d case %d: %d keys live, %d in the snapshot; %s", seed, i, len(m.live), len(snapKeys), describe(o))
			tally.cases++
			if !maps.Equal(m.live, snapKeys) {
				tally.snapDiffers++
			}
			if o.StripPrefix && len(o.Prefix) > 0 {
				tally.stripped++
			}
			// A build takes most of a case's time: one reader is built.
			build := "db"
			if rng.IntN(2) == 0 {
				build = "snapshot"
			}
			for _, rd := range []struct {
				name string
				r    pebble.Reader
				live model
			}{
				{"db", m.db, m.live},
				{"snapshot", snap, snapKeys},
			} {
				want, ok := selected(rd.live, o)
				if !ok {
					tally.errs++
				} else if len(want) == 0 {
					tally.empty++
				}
				checkRandomKeys(t, rng, rd.name, rd.r, o, want, ok)
				if rd.name == build {
					checkRandomBuild(t, rd.name, rd.r, o, want, ok, m.universe)
				}
			}
			if t.Failed() {
				t.Fatalf("replay with -pebble-seed %d -run 'TestRandomOptions/^%d$'", seed, i)
			}
		})
		if t.Failed() {
			return
		}
	}
	t.Logf("%d cases: the snapshot differs from the database in %d; of their %d reads, %d errors, %d empty; %d cases strip a prefix",
		tally.cases, tally.snapDiffers, 2*tally.cases, tally.errs, tally.empty, tally.stripped)
}

// checkRandomKeys reads r with o through Keys, directly and through
// ReadAhead, to the end and stopping early, and compares with want (or
// an error, when ok is false).
func checkRandomKeys(t *testing.T, rng *rand.Rand, name string, r pebble.Reader, o Options, want []string, ok bool) {
	t.Helper()
	stop := -1
	if len(want) > 0 {
		stop = 1 + rng.IntN(len(want))
	}
	for _, read := range []struct {
		how  string
		keys iter.Seq2[[]byte, error]
		stop int
	}{
		{"Keys", Keys(r, o), -1},
		{"ReadAhead(Keys)", ReadAhead(Keys(r, o)), -1},
		{"Keys stopped early", Keys(r, o), stop},
		{"ReadAhead(Keys) stopped early", ReadAhead(Keys(r, o)), stop},
	} {
		got, err := collect(read.keys, read.stop)
		switch {
		case !ok:
			if err == nil || len(got) != 0 {
				t.Errorf("%s: %s: %d keys and error %v, want an error alone", name, read.how, len(got), err)
			}
		case err != nil:
			t.Errorf("%s: %s: %v", name, read.how, err)
		default:
			w := want
			if read.stop >= 0 {
				w = want[:read.stop]
			}
			if !slices.Equal(got, w) {
				t.Errorf("%s: %s: %d keys, want %d; first difference: %s", name, read.how, len(got), len(w), firstDifference(got, w))
			}
		}
	}
}

// checkRandomBuild builds an index from r with o and checks it against
// want: the file, each key by ordinal and by membership, and its bytes,
// which must be a Builder's for the same keys. When ok is false, Build
// must fail and write nothing.
func checkRandomBuild(t *testing.T, name string, r pebble.Reader, o Options, want []string, ok bool, universe map[string]bool) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".stru")
	stats, err := Build(context.Background(), r, path, o, builder.Options{HashKey: &testHashKey, TempDir: dir})
	if !ok {
		if err == nil {
			t.Errorf("%s: Build succeeded, want an error", name)
		}
		checkNoOutput(t, dir)
		return
	}
	if err != nil {
		t.Errorf("%s: Build: %v", name, err)
		return
	}
	if stats.Keys != uint64(len(want)) || stats.Duplicates != 0 {
		t.Errorf("%s: stats: %d keys, %d duplicates; want %d, 0", name, stats.Keys, stats.Duplicates, len(want))
	}
	wantSet := map[string]bool{}
	for _, k := range want {
		wantSet[k] = true
	}
	checkIndex(t, path, wantSet, universe, o)
	checkSameAsBuilder(t, path, wantSet)
	rd, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if rd.Len() != len(want) {
		t.Errorf("%s: Len %d, want %d", name, rd.Len(), len(want))
	}
	for i, k := range want {
		if got := rd.Key(i); string(got) != k {
			t.Errorf("%s: Key(%d) = %q, want %q", name, i, got, k)
			break
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("%s: the build's directory holds %v (%v), want the index alone", name, entries, err)
	}
}

// describe returns o for a log line, telling nil from empty.
func describe(o Options) string {
	q := func(b []byte) string {
		if b == nil {
			return "nil"
		}
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("Lower %s, Upper %s, Prefix %s, StripPrefix %v", q(o.Lower), q(o.Upper), q(o.Prefix), o.StripPrefix)
}
