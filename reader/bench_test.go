package reader_test

// Benchmarks comparing the Reader with Go's map[string]struct{} holding the
// same keys and answering the same queries, in the same run. Run them with
//
//	go test ./reader -run '^$' -bench . -benchmem -count 6 | tee new.txt
//	benchstat -col /impl new.txt
//
// STRU_BENCH_10M=1 adds the 10-million-key sets (about 3 GiB of memory and
// a minute of setup).

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// benchSizes are the key counts every benchmark runs at.
func benchSizes() []int {
	sizes := []int{1_000, 1_000_000}
	if os.Getenv("STRU_BENCH_10M") != "" {
		sizes = append(sizes, 10_000_000)
	}
	return sizes
}

// randomKeys returns n distinct keys of 8–64 random bytes, the same for
// the same seed.
func randomKeys(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, seed^0x5354525542454e43))
	seen := make(map[string]struct{}, n)
	keys := make([]string, 0, n)
	buf := make([]byte, 64)
	for len(keys) < n {
		k := buf[:8+rng.IntN(57)]
		for i := range k {
			k[i] = byte(rng.Uint32())
		}
		if _, dup := seen[string(k)]; dup {
			continue
		}
		seen[string(k)] = struct{}{}
		keys = append(keys, string(k))
	}
	return keys
}

// A benchSet is one key set, built as a STRU file and as a Go map, with
// queries that hit and queries that miss. Query slices have a power-of-two
// length so the loop can index them with a mask.
type benchSet struct {
	path   string
	reader *reader.Reader
	keys   []string       // the members, for noFilter
	plain  *reader.Reader // the same keys without a filter: noFilter builds it
	set    map[string]struct{}
	hits   []string
	misses []string
	hitsB  [][]byte
	missB  [][]byte
}

var (
	benchMu   sync.Mutex
	benchSets = map[int]*benchSet{}
	benchDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func getBenchSet(b *testing.B, n int) *benchSet {
	benchMu.Lock()
	defer benchMu.Unlock()
	if s := benchSets[n]; s != nil {
		return s
	}
	if benchDir == "" {
		d, err := os.MkdirTemp("", "stru-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = d
	}
	keys := randomKeys(2*n, uint64(n))
	members, others := keys[:n], keys[n:]
	s := &benchSet{path: filepath.Join(benchDir, fmt.Sprintf("%d.stru", n)), set: make(map[string]struct{}, n), keys: members}
	bld, err := builder.New(builder.Options{HashKey: &index.HashKey{1, 2, 3}})
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range members {
		s.set[k] = struct{}{}
		bld.AddString(k)
	}
	if err := bld.WriteFile(s.path); err != nil {
		b.Fatal(err)
	}
	if s.reader, err = reader.Open(s.path); err != nil {
		b.Fatal(err)
	}
	// Verify reads every page, so no benchmark pays the first touch of a
	// page (a minor fault) inside its timed loop.
	if err := s.reader.Verify(); err != nil {
		b.Fatal(err)
	}
	// At least 64 Ki queries of each kind, drawn with repetition, even
	// for a small set: a loop over only a thousand queries repeats the
	// same sequence of key lengths, which the processor's branch
	// predictor learns, so that the branches on a key's length in the
	// hash and the compare cost nothing there that they cost on a real
	// stream of queries.
	q := 1
	for q < max(n, 1<<16) && q < 1<<20 {
		q <<= 1
	}
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	hits, misses := make([]string, q), make([]string, q)
	for i := range q {
		hits[i], misses[i] = members[rng.IntN(n)], others[rng.IntN(n)]
	}
	s.hits, s.hitsB = queryCopies(hits)
	s.misses, s.missB = queryCopies(misses)
	benchSets[n] = s
	return s
}

// queryCopies copies keys, in order, into one new block of memory and
// returns the copies as strings and as byte slices sharing those bytes.
// Every implementation thus reads its queries from the same addresses,
// in the order a stream of incoming keys would arrive, and never from the
// memory of the keys it holds: a Go map whose query shares its stored
// key's bytes would compare pointers instead of bytes.
func queryCopies(keys []string) ([]string, [][]byte) {
	size := 0
	for _, k := range keys {
		size += len(k)
	}
	arena := make([]byte, 0, size)
	strs, bufs := make([]string, len(keys)), make([][]byte, len(keys))
	for i, k := range keys {
		start := len(arena)
		arena = append(arena, k...)
		bufs[i] = arena[start:len(arena):len(arena)]
		strs[i] = unsafe.String(unsafe.SliceData(bufs[i]), len(bufs[i]))
	}
	return strs, bufs
}

// BenchmarkContains measures one lookup, hits and misses separately, for
// the Reader (impl=stru, []byte keys; impl=stru-string, string keys) and
// for Go's map (impl=map). The loops are written out rather than shared
// through a function value, which would add an indirect call to every
// lookup measured: a visible share of an in-cache map lookup.
//
// impl=stru-prehashed is not a lookup a user can make: it is the portable
// lookup (index.View.HasHashed: the slot-by-slot scan that Has uses
// where the processor lacks AVX-512) given each query's SipHash computed
// before the timed loop. Against impl=stru it shows what hashing costs a
// loop of lookups: not only the hash's own time, but the overlap of one
// lookup's cache misses with the next lookup's that a long hash prevents
// (index/probe.go).
//
// impl=map-siphash is the converse: the map's lookup, preceded by the
// query's SipHash under the index's key, which the map does not use (it is
// folded into a value kept past the loop so that the compiler cannot drop
// it). Against impl=map it shows what the same hash costs the map's loop;
// against impl=stru, whether stru's reads of memory cost more than the
// map's once both pay for SipHash. impl=map-siphash8 hashes only the
// query's first 8 bytes, the shortest SipHash-2-4 a key of 8 bytes or
// more can have (8 SipRounds against 14 for a 36-byte key): whether a
// faster SipHash would give the map's loop its overlap back.
func BenchmarkContains(b *testing.B) {
	for _, n := range benchSizes() {
		for _, kind := range []string{"hit", "miss"} {
			b.Run(fmt.Sprintf("keys=%d/%s/impl=stru", n, kind), func(b *testing.B) {
				s := getBenchSet(b, n)
				qs, want := s.hitsB, true
				if kind == "miss" {
					qs, want = s.missB, false
				}
				mask := len(qs) - 1
				b.ResetTimer()
				i := 0
				for b.Loop() {
					if s.reader.Contains(qs[i&mask]) != want {
						b.Fatal("wrong answer")
					}
					i++
				}
			})
			b.Run(fmt.Sprintf("keys=%d/%s/impl=stru-string", n, kind), func(b *testing.B) {
				s := getBenchSet(b, n)
				qs, want := s.hits, true
				if kind == "miss" {
					qs, want = s.misses, false
				}
				mask := len(qs) - 1
				b.ResetTimer()
				i := 0
				for b.Loop() {
					if s.reader.ContainsString(qs[i&mask]) != want {
						b.Fatal("wrong answer")
					}
					i++
				}
			})
			b.Run(fmt.Sprintf("keys=%d/%s/impl=stru-prehashed", n, kind), func(b *testing.B) {
				s := getBenchSet(b, n)
				qs, want := s.hitsB, true
				if kind == "miss" {
					qs, want = s.missB, false
				}
				v := s.reader.View()
				hashes := make([]uint64, len(qs))
				for i, q := range qs {
					hashes[i] = v.HashOf(q)
				}
				mask := len(qs) - 1
				b.ResetTimer()
				i := 0
				for b.Loop() {
					j := i & mask
					if v.HasHashed(qs[j], hashes[j]) != want {
						b.Fatal("wrong answer")
					}
					i++
				}
			})
			b.Run(fmt.Sprintf("keys=%d/%s/impl=map", n, kind), func(b *testing.B) {
				s := getBenchSet(b, n)
				qs, want := s.hits, true
				if kind == "miss" {
					qs, want = s.misses, false
				}
				mask := len(qs) - 1
				b.ResetTimer()
				i := 0
				for b.Loop() {
					if _, ok := s.set[qs[i&mask]]; ok != want {
						b.Fatal("wrong answer")
					}
					i++
				}
			})
			for _, hashed := range []struct {
				impl  string
				bytes int // the most bytes of a query hashed
			}{{"map-siphash", math.MaxInt}, {"map-siphash8", 8}} {
				b.Run(fmt.Sprintf("keys=%d/%s/impl=%s", n, kind, hashed.impl), func(b *testing.B) {
					s := getBenchSet(b, n)
					qs, want := s.hits, true
					if kind == "miss" {
						qs, want = s.misses, false
					}
					v := s.reader.View()
					mask := len(qs) - 1
					var hashes uint64
					b.ResetTimer()
					i := 0
					for b.Loop() {
						q := qs[i&mask]
						hashes ^= v.HashOf(unsafe.Slice(unsafe.StringData(q), min(len(q), hashed.bytes)))
						if _, ok := s.set[q]; ok != want {
							b.Fatal("wrong answer")
						}
						i++
					}
					benchSink = hashes
				})
			}
		}
	}
}

// benchSink keeps values that benchmarks compute and do not use (the hashes
// of impl=map-siphash, the last read of BenchmarkRandomReads) alive past
// their loops, so that the compiler cannot drop the work.
var benchSink uint64

// pairWindow is the number of lookups in one window of
// BenchmarkContainsPaired.
const pairWindow = 1 << 14

// batchGroup is how many keys the benchmarks give ContainsBatch at once.
const batchGroup = 256

// BenchmarkContainsPaired measures Contains and Go's map in alternating
// windows of the same queries, so that the ratio between them is taken
// under the same conditions. BenchmarkContains runs its sub-benchmarks one
// after the other, a second or more apart; on a machine shared with other
// work the memory system changes between them, and at a million keys the
// map's own figure has moved by half from one run to the next.
//
// Each round runs, in an order that alternates from round to round, an
// untimed window and then a timed window of pairWindow lookups on each
// side: the untimed one asks other queries, so that each side's timed
// window finds its own data in the caches and the TLB rather than the
// other side's. ns/op is Contains's mean time per lookup over the timed
// windows, map-ns/op the map's, and stru/map the median over the rounds of
// the ratio of the two sides' times within a round.
func BenchmarkContainsPaired(b *testing.B) {
	for _, n := range benchSizes() {
		for _, kind := range []string{"hit", "miss"} {
			b.Run(fmt.Sprintf("keys=%d/%s", n, kind), func(b *testing.B) {
				s := getBenchSet(b, n)
				qs, strs, want := s.hitsB, s.hits, true
				if kind == "miss" {
					qs, strs, want = s.missB, s.misses, false
				}
				mask := len(qs) - 1
				struWindow := func(start int) {
					for i := start; i < start+pairWindow; i++ {
						if s.reader.Contains(qs[i&mask]) != want {
							b.Fatal("wrong answer")
						}
					}
				}
				mapWindow := func(start int) {
					for i := start; i < start+pairWindow; i++ {
						if _, ok := s.set[strs[i&mask]]; ok != want {
							b.Fatal("wrong answer")
						}
					}
				}
				struNs, mapNs, ratio := runPaired(b, struWindow, mapWindow, len(qs))
				b.ReportMetric(struNs, "ns/op")
				b.ReportMetric(mapNs, "map-ns/op")
				b.ReportMetric(ratio, "stru/map")
			})
		}
	}
}

// runPaired runs b.N lookups on each of two sides in rounds of pairWindow,
// as BenchmarkContainsPaired describes: each side's window(start) looks up
// queries start to start+pairWindow of its own, taken modulo their number,
// nqueries, a power of two. It returns each side's mean time per lookup
// over the timed windows, in ns, and the median over the rounds of the
// ratio of a's time to b's.
func runPaired(b *testing.B, aWindow, bWindow func(start int), nqueries int) (aNs, bNs, ratio float64) {
	timed := func(window func(int), start int) time.Duration {
		window(start + nqueries/2) // other queries, untimed
		t0 := time.Now()
		window(start)
		return time.Since(t0)
	}
	rounds := (b.N + pairWindow - 1) / pairWindow
	ratios := make([]float64, 0, rounds)
	var aTotal, bTotal time.Duration
	b.ResetTimer()
	for r := range rounds {
		start := r * pairWindow
		var at, bt time.Duration
		if r%2 == 0 {
			at = timed(aWindow, start)
			bt = timed(bWindow, start)
		} else {
			bt = timed(bWindow, start)
			at = timed(aWindow, start)
		}
		aTotal, bTotal = aTotal+at, bTotal+bt
		ratios = append(ratios, float64(at)/float64(bt))
	}
	b.StopTimer()
	slices.Sort(ratios)
	lookups := float64(rounds * pairWindow)
	return float64(aTotal.Nanoseconds()) / lookups, float64(bTotal.Nanoseconds()) / lookups, ratios[len(ratios)/2]
}

// noFilter returns a Reader of the set's keys built without a filter
// (builder.Options.FilterBitsPerKey -1), with the same hash key: the same
// buckets, tables and keys as s.reader's file.
func (s *benchSet) noFilter(b *testing.B) *reader.Reader {
	benchMu.Lock()
	defer benchMu.Unlock()
	if s.plain != nil {
		return s.plain
	}
	bld, err := builder.New(builder.Options{HashKey: &index.HashKey{1, 2, 3}, FilterBitsPerKey: -1})
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range s.keys {
		bld.AddString(k)
	}
	path := s.path + ".nofilter"
	if err := bld.WriteFile(path); err != nil {
		b.Fatal(err)
	}
	if s.plain, err = reader.Open(path); err != nil {
		b.Fatal(err)
	}
	if err := s.plain.Verify(); err != nil { // touches every page, as getBenchSet's Verify
		b.Fatal(err)
	}
	return s.plain
}

// BenchmarkFilterPaired measures what the filter (format.md §3.1) costs
// and saves a single Contains: the same keys with the filter (ns/op) and
// without it (nofilter-ns/op), in paired rounds as BenchmarkContainsPaired
// runs them; filter/nofilter is the median ratio over the rounds. Misses
// gain where the filter turns them away before the SipHash; hits pay for
// the filter's hash and the read of its block. The batch variants do the
// same with ContainsBatch over groups of batchGroup keys.
func BenchmarkFilterPaired(b *testing.B) {
	for _, n := range benchSizes() {
		for _, kind := range []string{"hit", "miss"} {
			for _, api := range []string{"", "/batch"} {
				b.Run(fmt.Sprintf("keys=%d/%s%s", n, kind, api), func(b *testing.B) {
					s := getBenchSet(b, n)
					plain := s.noFilter(b)
					qs, want := s.hitsB, true
					if kind == "miss" {
						qs, want = s.missB, false
					}
					mask := len(qs) - 1
					present := make([]bool, batchGroup)
					window := func(r *reader.Reader) func(int) {
						if api == "/batch" {
							return func(start int) {
								start &= mask // pairWindow and len(qs) are powers of two
								for i := start; i < start+pairWindow; i += batchGroup {
									r.ContainsBatch(qs[i:i+batchGroup], present)
									if present[0] != want {
										b.Fatal("wrong answer")
									}
								}
							}
						}
						return func(start int) {
							for i := start; i < start+pairWindow; i++ {
								if r.Contains(qs[i&mask]) != want {
									b.Fatal("wrong answer")
								}
							}
						}
					}
					withNs, withoutNs, ratio := runPaired(b, window(s.reader), window(plain), len(qs))
					b.ReportMetric(withNs, "ns/op")
					b.ReportMetric(withoutNs, "nofilter-ns/op")
					b.ReportMetric(ratio, "filter/nofilter")
				})
			}
		}
	}
}

// BenchmarkLookup measures Lookup, which finds a present key as Contains
// does and then its ordinal by searching the offset table
// (format.md §4), against Contains on the same hits in the same run.
func BenchmarkLookup(b *testing.B) {
	for _, n := range benchSizes() {
		for _, impl := range []string{"contains", "lookup"} {
			b.Run(fmt.Sprintf("keys=%d/impl=%s", n, impl), func(b *testing.B) {
				s := getBenchSet(b, n)
				qs := s.hitsB
				mask := len(qs) - 1
				b.ResetTimer()
				i := 0
				for b.Loop() {
					q := qs[i&mask]
					ok := false
					if impl == "lookup" {
						ord, found := s.reader.Lookup(q)
						ok = found && ord < n
					} else {
						ok = s.reader.Contains(q)
					}
					if !ok {
						b.Fatal("wrong answer")
					}
					i++
				}
			})
		}
	}
}

// BenchmarkOpen measures Open followed by Close: it reads only the header,
// so its cost must not depend on the file's size. Besides the benchmark's
// own files it opens each file named in STRU_BENCH_OPEN (a list separated
// like PATH), for files larger than a benchmark can build in passing: a
// 5 GB file of 100 million keys, say.
func BenchmarkOpen(b *testing.B) {
	type file struct{ name, path string }
	var files []file
	for _, n := range benchSizes() {
		files = append(files, file{fmt.Sprintf("keys=%d", n), getBenchSet(b, n).path})
	}
	for _, path := range filepath.SplitList(os.Getenv("STRU_BENCH_OPEN")) {
		files = append(files, file{"file=" + filepath.Base(path), path})
	}
	for _, f := range files {
		path := f.path
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f.name, func(b *testing.B) {
			b.ReportMetric(float64(fi.Size()), "file-bytes")
			i := 0
			for b.Loop() {
				r, err := reader.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				r.Close()
				// A closed Reader keeps its addresses until it is garbage
				// collected. Each open allocates only a few hundred bytes,
				// so the collector would not run by itself before a loop
				// of 5 GB files ran out of address space.
				if i++; i%1024 == 0 {
					b.StopTimer()
					runtime.GC()
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkBuild measures building an index of n random keys into memory,
// from adding the keys to the last byte written, and reports the file's
// overhead beyond the key bytes.
func BenchmarkBuild(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys := randomKeys(n, uint64(n)+1)
			var st builder.Stats
			for b.Loop() {
				bld, _ := builder.New(builder.Options{})
				for _, k := range keys {
					bld.AddString(k)
				}
				if _, err := bld.WriteTo(discard{}); err != nil {
					b.Fatal(err)
				}
				st = bld.Stats()
			}
			b.ReportMetric(st.OverheadPerKey(), "overhead-bytes/key")
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkContainsGuarded compares Contains with TryContains, which turns
// memory faults into errors, on the same hits: the cost of the guard.
func BenchmarkContainsGuarded(b *testing.B) {
	for _, n := range benchSizes() {
		for _, guarded := range []bool{false, true} {
			b.Run(fmt.Sprintf("keys=%d/guarded=%v", n, guarded), func(b *testing.B) {
				s := getBenchSet(b, n)
				mask := len(s.hitsB) - 1
				i := 0
				for b.Loop() {
					q := s.hitsB[i&mask]
					ok := false
					if guarded {
						ok, _ = s.reader.TryContains(q)
					} else {
						ok = s.reader.Contains(q)
					}
					if !ok {
						b.Fatal("wrong answer")
					}
					i++
				}
			})
		}
	}
}

// BenchmarkContainsParallel runs hits from GOMAXPROCS goroutines at once on
// one Reader (impl=stru) and on one map (impl=map): with nothing shared
// but read-only memory, ns/op should fall with -cpu 1,2.
func BenchmarkContainsParallel(b *testing.B) {
	for _, n := range benchSizes() {
		for _, impl := range []string{"stru", "map"} {
			b.Run(fmt.Sprintf("keys=%d/impl=%s", n, impl), func(b *testing.B) {
				s := getBenchSet(b, n)
				mask := len(s.hits) - 1
				var seed atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					i := int(seed.Add(7919))
					for pb.Next() {
						var ok bool
						if impl == "stru" {
							ok = s.reader.ContainsString(s.hits[i&mask])
						} else {
							_, ok = s.set[s.hits[i&mask]]
						}
						if !ok {
							panic("wrong answer")
						}
						i++
					}
				})
			})
		}
	}
}

// BenchmarkContainsBatch compares, per key, a loop of Contains calls
// (impl=stru-loop), ContainsBatch over groups of 256 keys (impl=stru-batch)
// and Go's map (impl=map), on the same 50/50 mix of hits and misses.
func BenchmarkContainsBatch(b *testing.B) {
	const group = batchGroup
	for _, n := range benchSizes() {
		for _, mix := range []string{"hit", "miss", "mixed"} {
			for _, impl := range []string{"stru-loop", "stru-batch", "map"} {
				b.Run(fmt.Sprintf("keys=%d/%s/impl=%s", n, mix, impl), func(b *testing.B) {
					s := getBenchSet(b, n)
					qs, strs, want := batchQueries(s, mix)
					out := make([]bool, group)
					mask := len(qs)/group - 1
					g := 0
					b.ResetTimer()
					for b.Loop() {
						lo := (g & mask) * group
						batch := qs[lo : lo+group]
						switch impl {
						case "stru-loop":
							for i, q := range batch {
								out[i] = s.reader.Contains(q)
							}
						case "stru-batch":
							s.reader.ContainsBatch(batch, out)
						case "map":
							for i, q := range strs[lo : lo+group] {
								_, out[i] = s.set[q]
							}
						}
						if out[0] != want[lo] || out[group-1] != want[lo+group-1] {
							b.Fatal("wrong answer")
						}
						g++
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*group), "ns/key")
				})
			}
		}
	}
}

// batchQueries returns the queries of a mix, taken from the shared query
// copies: all hits, all misses, or hits and misses in equal numbers in a
// random order (so that no branch predictor learns which comes next), with
// the answer to each.
func batchQueries(s *benchSet, mix string) (qs [][]byte, strs []string, want []bool) {
	qs = make([][]byte, len(s.hitsB))
	strs = make([]string, len(qs))
	want = make([]bool, len(qs))
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range qs {
		hit := mix == "hit" || mix == "mixed" && rng.IntN(2) == 0
		if hit {
			qs[i], strs[i], want[i] = s.hitsB[i], s.hits[i], true
		} else {
			qs[i], strs[i] = s.missB[i], s.misses[i]
		}
	}
	return qs, strs, want
}

// BenchmarkCloseCheck measures what making Close safe costs a lookup: the
// Reader's Contains (impl=reader: the lookup between two atomic loads of
// the closed flag) against the same lookup through the index.View underneath
// (impl=view), which has no Close, on the same hits.
func BenchmarkCloseCheck(b *testing.B) {
	for _, n := range benchSizes() {
		for _, impl := range []string{"reader", "view"} {
			b.Run(fmt.Sprintf("keys=%d/impl=%s", n, impl), func(b *testing.B) {
				s := getBenchSet(b, n)
				v := s.reader.View()
				mask := len(s.hitsB) - 1
				i := 0
				for b.Loop() {
					var ok bool
					if impl == "reader" {
						ok = s.reader.Contains(s.hitsB[i&mask])
					} else {
						_, ok = v.Find(s.hitsB[i&mask])
					}
					if !ok {
						b.Fatal("wrong answer")
					}
					i++
				}
			})
		}
	}
}

// BenchmarkRandomReads measures the memory under a lookup rather than a
// lookup: reads of one byte at random places in the index file, each
// place drawn from the byte the read before it returned, so that no read
// starts before the last one has finished. impl=mapped reads the Reader's
// mapping, impl=heap a copy of the file on the Go heap, where the map's
// memory is too. Where the kernel maps the file with 2 MiB pages and the
// heap has 4 KiB pages, as on the machines we measure on (README.md,
// "Where it stands"), the two differ by what translating the addresses
// costs; huge-MiB reports how much of the mapping the kernel backed with
// 2 MiB pages (FilePmdMapped in /proc/self/smaps; not reported where that
// file cannot be read).
func BenchmarkRandomReads(b *testing.B) {
	for _, n := range benchSizes() {
		s := getBenchSet(b, n)
		mapped := s.reader.View().Data()
		heap := slices.Clone(mapped)
		for _, impl := range []string{"mapped", "heap"} {
			mem := mapped
			if impl == "heap" {
				mem = heap
			}
			b.Run(fmt.Sprintf("keys=%d/impl=%s", n, impl), func(b *testing.B) {
				size := uint64(len(mem))
				x := uint64(n)
				for b.Loop() {
					at, _ := bits.Mul64(x, size)
					x = x*0x9E3779B97F4A7C15 + uint64(mem[at]) + 1
				}
				benchSink = x
				if impl == "mapped" {
					if kib, ok := filePmdMappedKiB(unsafe.SliceData(mem)); ok {
						b.ReportMetric(float64(kib)/1024, "huge-MiB")
					}
				}
			})
		}
	}
}

// filePmdMappedKiB returns the FilePmdMapped figure of the mapping holding
// p, from /proc/self/smaps, and whether it found one.
func filePmdMappedKiB(p *byte) (int, bool) {
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, false
	}
	addr := uint64(uintptr(unsafe.Pointer(p)))
	inside := false
	for line := range strings.Lines(string(smaps)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok {
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				inside = start <= addr && addr < end
				continue
			}
		}
		if inside && fields[0] == "FilePmdMapped:" && len(fields) >= 2 {
			kib, err := strconv.Atoi(fields[1])
			return kib, err == nil
		}
	}
	return 0, false
}
