package main

// Data sets and query sets. Everything here is a pure function of the data
// set's kind, its size and the seed, so two runs with the same flags measure
// the same keys and the same queries.

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Data set kinds, as named by -datasets.
const (
	kindRandom = "random" // 8–64 random bytes (never NUL, CR or LF, so keys fit a text file)
	kindURL    = "url"    // URL-like keys: scheme, host, path, sometimes a query
	kindUUID   = "uuid"   // 36-character lowercase UUID version 4 strings
)

var kinds = []string{kindRandom, kindURL, kindUUID}

// A dataset is one key set with the queries every system answers.
type dataset struct {
	Kind string
	Size int
	Seed uint64

	Keys     []string // distinct, ascending byte order
	KeyBytes int64    // sum of len(key) over Keys

	// Query sets. Each holds its own copy of the bytes, laid out in query
	// order, so that no query shares memory with a key held by a system
	// under test (Go's string comparison returns early on equal pointers).
	Hits       []string // keys, in random order
	HitsSorted []string // the same keys as Hits, ascending
	Misses     []string // strings that are not keys, in random order
	Mixed      []string // half from Hits, half from Misses, shuffled together
	mixedHit   []bool   // whether Mixed[i] is a hit

	// Hashes of Keys and of Misses under xxhash: distinct, so that a
	// filter over key hashes never sees a miss colliding with a key.
	keyHash []uint64
}

// Query mixes, in the order the report shows them.
const (
	mixHit       = "hit"        // all hits, shuffled
	mixMiss      = "miss"       // all misses, shuffled
	mixMixed     = "mixed"      // 50% hits and 50% misses, shuffled
	mixHitSorted = "hit-sorted" // all hits in ascending key order
)

var mixes = []string{mixHit, mixMiss, mixMixed, mixHitSorted}

// queries returns the query set of a mix.
func (d *dataset) queries(mix string) []string {
	switch mix {
	case mixHit:
		return d.Hits
	case mixMiss:
		return d.Misses
	case mixMixed:
		return d.Mixed
	case mixHitSorted:
		return d.HitsSorted
	}
	panic("unknown mix " + mix)
}

// hitsIn returns how many of the ops queries of mix that window asks,
// from start, are keys: what an exact system's count must be.
func (d *dataset) hitsIn(mix string, start, ops int) int {
	switch mix {
	case mixHit, mixHitSorted:
		return ops
	case mixMiss:
		return 0
	}
	n := 0
	for ops > 0 && len(d.mixedHit) > 0 {
		end := min(len(d.mixedHit), start+ops)
		for _, hit := range d.mixedHit[start:end] {
			if hit {
				n++
			}
		}
		ops -= end - start
		start = 0
	}
	return n
}

// maxQueries bounds each query set: a million queries drawn at random
// reach every page of the larger files, and keep the query sets' own memory
// small next to the systems'.
const maxQueries = 1 << 20

// An arena hands out strings carved from large chunks, so that millions of
// keys cost a few allocations instead of millions.
type arena struct {
	chunk []byte
}

const arenaChunk = 64 << 20

// add returns a string holding a copy of b.
func (a *arena) add(b []byte) string {
	if len(a.chunk)+len(b) > cap(a.chunk) {
		a.chunk = make([]byte, 0, max(arenaChunk, len(b)))
	}
	start := len(a.chunk)
	a.chunk = append(a.chunk, b...)
	s := a.chunk[start:len(a.chunk):len(a.chunk)]
	return unsafe.String(unsafe.SliceData(s), len(s))
}

// A keyGen appends one key of its kind to a buffer.
type keyGen func(rng *rand.Rand, buf []byte) []byte

func generator(kind string) (keyGen, error) {
	switch kind {
	case kindRandom:
		return genRandom, nil
	case kindURL:
		return genURL, nil
	case kindUUID:
		return genUUID, nil
	}
	return nil, fmt.Errorf("unknown data set %q (want one of %v)", kind, kinds)
}

// genRandom appends 8–64 bytes drawn uniformly from the 253 values other
// than NUL, CR and LF.
func genRandom(rng *rand.Rand, buf []byte) []byte {
	n := 8 + rng.IntN(57)
	for range n {
		b := byte(3 + rng.IntN(253)) // 3..255
		switch b {
		case '\n':
			b = 1
		case '\r':
			b = 2
		}
		buf = append(buf, b)
	}
	return buf
}

var (
	urlSchemes = []string{"https://", "https://", "https://", "http://"}
	urlSubs    = []string{"www.", "www.", "", "api.", "cdn.", "m.", "shop.", "blog.", "docs.", "static."}
	urlWords   = []string{
		"alpha", "apple", "archive", "atlas", "beacon", "blue", "book", "bridge", "cable", "cedar",
		"cloud", "coral", "data", "delta", "echo", "ember", "field", "forge", "garden", "gold",
		"harbor", "hill", "iron", "jade", "kite", "lake", "leaf", "lumen", "maple", "market",
		"meadow", "metro", "north", "nova", "oak", "orbit", "pine", "pixel", "quartz", "rapid",
		"river", "rock", "sage", "signal", "silver", "solar", "spark", "stone", "summit", "tide",
		"timber", "union", "vector", "violet", "wave", "willow", "wolf", "yard", "zen", "zinc",
	}
	urlTLDs     = []string{".com", ".com", ".com", ".org", ".net", ".io", ".de", ".co.uk", ".fr", ".dev"}
	urlSections = []string{
		"products", "item", "articles", "news", "user", "profile", "search", "category", "docs",
		"blog", "posts", "images", "api/v1", "api/v2", "download", "tag", "help", "account",
	}
)

// genURL appends a URL-like key: a scheme, one of some hundreds of
// millions of hosts,
// one to four path segments of words, numbers and slugs, and sometimes a
// query string.
func genURL(rng *rand.Rand, buf []byte) []byte {
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	buf = append(buf, pick(urlSchemes)...)
	buf = append(buf, pick(urlSubs)...)
	buf = append(buf, pick(urlWords)...)
	if rng.IntN(2) == 0 {
		buf = append(buf, pick(urlWords)...)
	}
	if rng.IntN(3) == 0 {
		buf = strconv.AppendInt(buf, int64(rng.IntN(1000)), 10)
	}
	buf = append(buf, pick(urlTLDs)...)
	buf = append(buf, '/')
	buf = append(buf, pick(urlSections)...)
	for range rng.IntN(4) {
		buf = append(buf, '/')
		switch rng.IntN(3) {
		case 0:
			buf = strconv.AppendInt(buf, int64(rng.IntN(10_000_000)), 10)
		case 1:
			buf = append(buf, pick(urlWords)...)
			buf = append(buf, '-')
			buf = append(buf, pick(urlWords)...)
			buf = append(buf, '-')
			buf = strconv.AppendInt(buf, int64(rng.IntN(100_000)), 10)
		default:
			buf = append(buf, pick(urlWords)...)
		}
	}
	switch rng.IntN(4) {
	case 0:
		buf = append(buf, "?id="...)
		buf = strconv.AppendInt(buf, int64(rng.IntN(1_000_000_000)), 10)
	case 1:
		buf = append(buf, ".html"...)
	}
	return buf
}

// genUUID appends a random (version 4, variant 1) UUID in its canonical
// 8-4-4-4-12 lowercase hexadecimal form.
func genUUID(rng *rand.Rand, buf []byte) []byte {
	const hexDigits = "0123456789abcdef"
	var u [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, hexDigits[b>>4], hexDigits[b&0x0f])
	}
	return buf
}

// generate returns the data set of the given kind and size for seed.
//
// Keys and misses are drawn from two random streams of the same generator,
// so misses look like keys. A drawn string is rejected when its 64-bit
// xxhash equals that of one already drawn: keys are distinct, misses are
// not keys, and the key hashes a filter is built from are distinct.
func generate(kind string, size int, seed uint64) (*dataset, error) {
	gen, err := generator(kind)
	if err != nil {
		return nil, err
	}
	d := &dataset{Kind: kind, Size: size, Seed: seed}
	nq := min(size, maxQueries)

	var keysArena arena
	seen := make(map[uint64]struct{}, size+nq)
	d.Keys = make([]string, 0, size)
	rng := rand.New(rand.NewPCG(seed, 0x5354525500000000|uint64(len(kind))<<8))
	var buf []byte
	for len(d.Keys) < size {
		buf = gen(rng, buf[:0])
		h := xxhash.Sum64(buf)
		if _, dup := seen[h]; dup {
			continue
		}
		seen[h] = struct{}{}
		d.Keys = append(d.Keys, keysArena.add(buf))
		d.KeyBytes += int64(len(buf))
	}

	var queryArena arena
	d.Misses = make([]string, 0, nq)
	missRng := rand.New(rand.NewPCG(seed^0x6d69737365730000, 0x4d49535300000000|uint64(len(kind))<<8))
	for len(d.Misses) < nq {
		buf = gen(missRng, buf[:0])
		h := xxhash.Sum64(buf)
		if _, dup := seen[h]; dup {
			continue
		}
		seen[h] = struct{}{}
		d.Misses = append(d.Misses, queryArena.add(buf))
	}
	seen = nil

	// Hits: a uniform sample of nq keys without replacement (a partial
	// Fisher–Yates shuffle of the ordinals), each copied.
	qrng := rand.New(rand.NewPCG(seed^0x7175657269657300, 0x5155455259000000))
	if nq == size {
		d.Hits = make([]string, size)
		for i, k := range d.Keys {
			d.Hits[i] = queryArena.add([]byte(k))
		}
		qrng.Shuffle(len(d.Hits), func(i, j int) { d.Hits[i], d.Hits[j] = d.Hits[j], d.Hits[i] })
	} else {
		ord := make([]int32, size)
		for i := range ord {
			ord[i] = int32(i)
		}
		d.Hits = make([]string, nq)
		for i := range nq {
			j := i + qrng.IntN(size-i)
			ord[i], ord[j] = ord[j], ord[i]
			d.Hits[i] = queryArena.add([]byte(d.Keys[ord[i]]))
		}
	}
	d.HitsSorted = slices.Clone(d.Hits)
	slices.Sort(d.HitsSorted)

	d.Mixed = make([]string, 0, nq)
	d.Mixed = append(d.Mixed, d.Hits[:nq/2]...)
	d.Mixed = append(d.Mixed, d.Misses[:nq-nq/2]...)
	d.mixedHit = make([]bool, nq)
	for i := range nq / 2 {
		d.mixedHit[i] = true
	}
	qrng.Shuffle(len(d.Mixed), func(i, j int) {
		d.Mixed[i], d.Mixed[j] = d.Mixed[j], d.Mixed[i]
		d.mixedHit[i], d.mixedHit[j] = d.mixedHit[j], d.mixedHit[i]
	})

	// Lay each query set's bytes out in query order, in an arena of its
	// own: a service reads its queries from a request stream, so reading a
	// query's bytes should not cost a cache miss of its own, and the hit
	// and miss sets should not differ in that cost.
	d.Hits = relayout(d.Hits)
	d.HitsSorted = relayout(d.HitsSorted)
	d.Misses = relayout(d.Misses)
	d.Mixed = relayout(d.Mixed)

	slices.Sort(d.Keys)
	d.keyHash = make([]uint64, len(d.Keys))
	for i, k := range d.Keys {
		d.keyHash[i] = xxhash.Sum64String(k)
	}
	return d, nil
}

// relayout returns copies of qs whose bytes lie one after another in qs's
// order.
func relayout(qs []string) []string {
	var a arena
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = a.add(bytesOf(q))
	}
	return out
}

// writeKeyFile writes the keys, one per line in ascending order, to path:
// the text file the in-memory systems load at start.
func (d *dataset) writeKeyFile(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	for _, k := range d.Keys {
		w.WriteString(k)
		w.WriteByte('\n')
		n += int64(len(k)) + 1
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	return n, f.Close()
}

// bytesOf returns the bytes of s without copying. The caller must not
// modify them.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
