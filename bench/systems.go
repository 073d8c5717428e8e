package main

// The systems under measurement. Each builds its files from a dataset's keys
// into a directory of its own, opens them, and answers lookups through
// workers: one per goroutine, for the systems whose read handles are not
// safe for concurrent use (a bbolt transaction, a vellum Reader).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/FastFilter/xorfilter"
	"github.com/blevesearch/vellum"
	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	bolt "go.etcd.io/bbolt"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// A system is one contender: how to build it and how to open it.
type system struct {
	Name  string
	Exact bool   // false for a filter, which may answer true for a non-key
	Note  string // what the row measures, for the report

	// build writes the system's files for d's keys into the empty
	// directory dir, durably (fsynced).
	build func(dir string, d *dataset) error

	// open opens what build wrote: maps it, or loads it into the heap.
	open func(dir string) (openSet, error)
}

// An openSet is an opened system.
type openSet interface {
	// newWorker returns a handle for one goroutine's lookups.
	newWorker() (worker, error)
	close() error
}

// A worker answers lookups for one goroutine.
type worker interface {
	contains(q string) bool
	// count returns how many of qs are in the set. Each system has its
	// own loop, so that the loop calls its lookup directly.
	count(qs []string) int
	release()
}

// systems returns every system, in the report's order.
func systems() []*system {
	return []*system{
		struSystem(),
		struBatchSystem(),
		mapSystem(),
		sortedSystem(),
		boltSystem(),
		pebbleSystem(false),
		pebbleSystem(true),
		vellumSystem(),
		fuseSystem(),
	}
}

// benchHashKey is the SipHash key of the STRU files: fixed, so that runs
// are reproducible.
var benchHashKey = index.HashKey{'s', 't', 'r', 'u', '-', 'b', 'e', 'n', 'c', 'h', '-', 'h', 'a', 's', 'h', 0}

// lookupFailure is panicked by a worker whose system returned an error
// (rather than an answer) for a lookup; run recovers it into the report.
type lookupFailure struct{ err error }

func fail(system string, err error) {
	panic(lookupFailure{fmt.Errorf("%s: lookup: %w", system, err)})
}

// --- stru ---

func struSystem() *system {
	return &system{
		Name:  "stru",
		Exact: true,
		Note:  "reader.Open (mmap), ContainsString",
		build: func(dir string, d *dataset) error {
			b, err := builder.New(builder.Options{HashKey: &benchHashKey})
			if err != nil {
				return err
			}
			// Close removes the runs a build over the default memory
			// budget (512 MiB) spills to temporary files.
			defer b.Close()
			for _, k := range d.Keys {
				if err := b.AddString(k); err != nil {
					return err
				}
			}
			return b.WriteFile(filepath.Join(dir, "keys.stru"))
		},
		open: func(dir string) (openSet, error) {
			r, err := reader.Open(filepath.Join(dir, "keys.stru"))
			if err != nil {
				return nil, err
			}
			return struSet{r}, nil
		},
	}
}

type struSet struct{ r *reader.Reader }

func (s struSet) newWorker() (worker, error) { return s, nil }
func (s struSet) close() error               { return s.r.Close() }
func (s struSet) release()                   {}
func (s struSet) contains(q string) bool     { return s.r.ContainsString(q) }
func (s struSet) count(qs []string) int {
	n := 0
	for _, q := range qs {
		if s.r.ContainsString(q) {
			n++
		}
	}
	return n
}

// --- stru, batched lookups ---

// batchSize is the number of queries the batched row hands ContainsStrings
// at a time.
const batchSize = 256

func struBatchSystem() *system {
	s := struSystem()
	open := s.open
	s.Name = "stru batch"
	s.Note = fmt.Sprintf("the same file; ContainsStrings on groups of %d queries", batchSize)
	s.open = func(dir string) (openSet, error) {
		set, err := open(dir)
		if err != nil {
			return nil, err
		}
		return struBatchSet{set.(struSet).r}, nil
	}
	return s
}

type struBatchSet struct{ r *reader.Reader }

func (s struBatchSet) newWorker() (worker, error) {
	return &struBatchWorker{r: s.r}, nil
}
func (s struBatchSet) close() error { return s.r.Close() }

type struBatchWorker struct {
	r   *reader.Reader
	out [batchSize]bool
}

func (w *struBatchWorker) release()               {}
func (w *struBatchWorker) contains(q string) bool { return w.r.ContainsString(q) }
func (w *struBatchWorker) count(qs []string) int {
	n := 0
	for len(qs) > 0 {
		group := qs[:min(len(qs), batchSize)]
		out := w.out[:len(group)]
		w.r.ContainsStrings(group, out)
		for _, ok := range out {
			if ok {
				n++
			}
		}
		qs = qs[len(group):]
	}
	return n
}

// --- Go map, loaded from a text file ---

// buildKeyFile writes the keys as a text file, one per line: what a service
// holding its set in a Go map or slice loads at start.
func buildKeyFile(dir string, d *dataset) error {
	_, err := d.writeKeyFile(filepath.Join(dir, "keys.txt"))
	return err
}

// readLines calls fn with each line of the text file at path, without its
// newline. The slice is valid only during the call.
func readLines(path string, fn func(line []byte)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			fn(line[:len(line)-1])
		} else if len(line) > 0 {
			fn(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func mapSystem() *system {
	return &system{
		Name:  "Go map",
		Exact: true,
		Note:  "map[string]struct{} loaded from a text file (not presized)",
		build: buildKeyFile,
		open: func(dir string) (openSet, error) {
			m := map[string]struct{}{}
			err := readLines(filepath.Join(dir, "keys.txt"), func(line []byte) {
				m[string(line)] = struct{}{}
			})
			if err != nil {
				return nil, err
			}
			return mapSet{m}, nil
		},
	}
}

type mapSet struct{ m map[string]struct{} }

func (s mapSet) newWorker() (worker, error) { return s, nil }
func (s mapSet) close() error               { return nil }
func (s mapSet) release()                   {}
func (s mapSet) contains(q string) bool {
	_, ok := s.m[q]
	return ok
}
func (s mapSet) count(qs []string) int {
	n := 0
	for _, q := range qs {
		if _, ok := s.m[q]; ok {
			n++
		}
	}
	return n
}

// --- sorted []string with binary search ---

func sortedSystem() *system {
	return &system{
		Name:  "sorted []string",
		Exact: true,
		Note:  "loaded from the same sorted text file, slices.BinarySearch",
		build: buildKeyFile,
		open: func(dir string) (openSet, error) {
			var keys []string
			err := readLines(filepath.Join(dir, "keys.txt"), func(line []byte) {
				keys = append(keys, string(line))
			})
			if err != nil {
				return nil, err
			}
			if !slices.IsSorted(keys) {
				return nil, errors.New("keys.txt is not sorted")
			}
			return sortedSet{slices.Clip(keys)}, nil
		},
	}
}

type sortedSet struct{ keys []string }

func (s sortedSet) newWorker() (worker, error) { return s, nil }
func (s sortedSet) close() error               { return nil }
func (s sortedSet) release()                   {}
func (s sortedSet) contains(q string) bool {
	_, ok := slices.BinarySearch(s.keys, q)
	return ok
}
func (s sortedSet) count(qs []string) int {
	n := 0
	for _, q := range qs {
		if _, ok := slices.BinarySearch(s.keys, q); ok {
			n++
		}
	}
	return n
}

// --- bbolt ---

var boltBucket = []byte("keys")

// boltBatch is the number of keys per write transaction while building.
const boltBatch = 500_000

func boltSystem() *system {
	return &system{
		Name:  "bbolt",
		Exact: true,
		Note:  "one bucket, empty values, read-only transaction per goroutine (mmap)",
		build: func(dir string, d *dataset) error {
			path := filepath.Join(dir, "keys.bolt")
			db, err := bolt.Open(path, 0o644, &bolt.Options{NoSync: true, NoFreelistSync: true})
			if err != nil {
				return err
			}
			for start := 0; start < len(d.Keys); start += boltBatch {
				batch := d.Keys[start:min(start+boltBatch, len(d.Keys))]
				err := db.Update(func(tx *bolt.Tx) error {
					b, err := tx.CreateBucketIfNotExists(boltBucket)
					if err != nil {
						return err
					}
					b.FillPercent = 1.0 // keys arrive in ascending order
					for _, k := range batch {
						if err := b.Put(bytesOf(k), []byte{}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					db.Close()
					return err
				}
			}
			if len(d.Keys) == 0 {
				if err := db.Update(func(tx *bolt.Tx) error {
					_, err := tx.CreateBucketIfNotExists(boltBucket)
					return err
				}); err != nil {
					db.Close()
					return err
				}
			}
			if err := db.Sync(); err != nil {
				db.Close()
				return err
			}
			return db.Close()
		},
		open: func(dir string) (openSet, error) {
			db, err := bolt.Open(filepath.Join(dir, "keys.bolt"), 0o444, &bolt.Options{ReadOnly: true})
			if err != nil {
				return nil, err
			}
			s := &boltSet{db: db}
			// The first worker is part of opening: it begins the read
			// transaction and finds the bucket.
			w, err := s.newWorker()
			if err != nil {
				db.Close()
				return nil, err
			}
			s.first = w.(*boltWorker)
			return s, nil
		},
	}
}

type boltSet struct {
	db    *bolt.DB
	first *boltWorker // handed out by the first newWorker call
}

func (s *boltSet) newWorker() (worker, error) {
	if w := s.first; w != nil {
		s.first = nil
		return w, nil
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, err
	}
	b := tx.Bucket(boltBucket)
	if b == nil {
		tx.Rollback()
		return nil, errors.New("bbolt: bucket missing")
	}
	return &boltWorker{tx: tx, b: b}, nil
}

func (s *boltSet) close() error {
	if s.first != nil {
		s.first.release()
	}
	return s.db.Close()
}

type boltWorker struct {
	tx *bolt.Tx
	b  *bolt.Bucket
}

func (w *boltWorker) release()               { w.tx.Rollback() }
func (w *boltWorker) contains(q string) bool { return w.b.Get(bytesOf(q)) != nil }
func (w *boltWorker) count(qs []string) int {
	n := 0
	for _, q := range qs {
		if w.b.Get(bytesOf(q)) != nil {
			n++
		}
	}
	return n
}

// --- Pebble ---

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(string, ...any)        {}
func (quietLogger) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

// pebbleBatch is the number of keys per write batch while building.
const pebbleBatch = 100_000

// pebbleCacheBytes is the block cache of the tuned Pebble row: enough to
// hold the 10-million-key tables.
const pebbleCacheBytes = 1 << 30

// pebbleOptions returns the options of one of the two Pebble rows: the
// defaults (8 MiB block cache, no filters), or tuned for point lookups
// (bloom filters of 10 bits per key on every level, 1 GiB block cache).
func pebbleOptions(tuned bool, cache *pebble.Cache) *pebble.Options {
	opts := &pebble.Options{Logger: quietLogger{}}
	if tuned {
		for i := range opts.Levels {
			opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		}
		opts.Cache = cache
	}
	return opts
}

func pebbleSystem(tuned bool) *system {
	name, note := "pebble", "default options (8 MiB cache, no filters); flushed and compacted; DB.Get"
	if tuned {
		name, note = "pebble+bloom", "bloom filters 10 bits/key, 1 GiB block cache; flushed and compacted; an iterator per goroutine with UseL6Filters, SeekPrefixGE"
	}
	return &system{
		Name:  name,
		Exact: true,
		Note:  note,
		build: func(dir string, d *dataset) error {
			opts := pebbleOptions(tuned, nil)
			opts.DisableWAL = true
			db, err := pebble.Open(dir, opts)
			if err != nil {
				return err
			}
			for start := 0; start < len(d.Keys); start += pebbleBatch {
				b := db.NewBatch()
				for _, k := range d.Keys[start:min(start+pebbleBatch, len(d.Keys))] {
					if err := b.Set(bytesOf(k), nil, nil); err != nil {
						db.Close()
						return err
					}
				}
				if err := b.Commit(pebble.NoSync); err != nil {
					db.Close()
					return err
				}
			}
			if err := db.Flush(); err != nil {
				db.Close()
				return err
			}
			// Compact the whole key space into the bottom level: every
			// key is below 0xff repeated 70 times (no key of any data
			// set starts with 0xff).
			if err := db.Compact(context.Background(), nil, bytes.Repeat([]byte{0xff}, 70), true); err != nil {
				db.Close()
				return err
			}
			return db.Close()
		},
		open: func(dir string) (openSet, error) {
			var cache *pebble.Cache
			if tuned {
				cache = pebble.NewCache(pebbleCacheBytes)
			}
			opts := pebbleOptions(tuned, cache)
			opts.ReadOnly = true
			db, err := pebble.Open(dir, opts)
			if err != nil {
				if cache != nil {
					cache.Unref()
				}
				return nil, err
			}
			return &pebbleSet{name: name, db: db, cache: cache, filters: tuned}, nil
		},
	}
}

type pebbleSet struct {
	name    string
	db      *pebble.DB
	cache   *pebble.Cache
	filters bool // lookups through a pebbleFilterWorker
}

// newWorker returns the set itself, whose lookups are DB.Get, or, for
// the row with filters, a pebbleFilterWorker: DB.Get never reads the
// filters of the bottom level (L6), where the compacted build puts every
// key, so Get would leave them unused.
func (s *pebbleSet) newWorker() (worker, error) {
	if !s.filters {
		return s, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{UseL6Filters: true})
	if err != nil {
		return nil, err
	}
	return &pebbleFilterWorker{name: s.name, it: it}, nil
}

func (s *pebbleSet) release() {}
func (s *pebbleSet) close() error {
	err := s.db.Close()
	if s.cache != nil {
		s.cache.Unref()
	}
	return err
}

func (s *pebbleSet) contains(q string) bool {
	_, closer, err := s.db.Get(bytesOf(q))
	if err == nil {
		closer.Close()
		return true
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		fail(s.name, err)
	}
	return false
}

func (s *pebbleSet) count(qs []string) int {
	n := 0
	for _, q := range qs {
		if s.contains(q) {
			n++
		}
	}
	return n
}

// A pebbleFilterWorker looks keys up with SeekPrefixGE on an iterator of
// its own that reads the bloom filters of every level, L6 included
// (IterOptions.UseL6Filters): under Pebble's default comparer a key's
// prefix is the whole key, so a table whose filter turns the key away is
// not read. This is how Pebble serves point lookups that are expected to
// miss.
type pebbleFilterWorker struct {
	name string
	it   *pebble.Iterator
}

func (w *pebbleFilterWorker) release() { w.it.Close() }

func (w *pebbleFilterWorker) contains(q string) bool {
	k := bytesOf(q)
	if w.it.SeekPrefixGE(k) {
		return bytes.Equal(w.it.Key(), k)
	}
	if err := w.it.Error(); err != nil {
		fail(w.name, err)
	}
	return false
}

func (w *pebbleFilterWorker) count(qs []string) int {
	n := 0
	for _, q := range qs {
		if w.contains(q) {
			n++
		}
	}
	return n
}

// --- vellum FST ---

func vellumSystem() *system {
	return &system{
		Name:  "vellum FST",
		Exact: true,
		Note:  "vellum.Open (mmap), a Reader per goroutine",
		build: func(dir string, d *dataset) error {
			f, err := os.Create(filepath.Join(dir, "keys.fst"))
			if err != nil {
				return err
			}
			w := bufio.NewWriterSize(f, 1<<20)
			b, err := vellum.New(w, nil)
			if err != nil {
				f.Close()
				return err
			}
			for _, k := range d.Keys {
				if err := b.Insert(bytesOf(k), 0); err != nil {
					f.Close()
					return err
				}
			}
			if err := b.Close(); err != nil {
				f.Close()
				return err
			}
			if err := w.Flush(); err != nil {
				f.Close()
				return err
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		},
		open: func(dir string) (openSet, error) {
			fst, err := vellum.Open(filepath.Join(dir, "keys.fst"))
			if err != nil {
				return nil, err
			}
			return &vellumSet{fst}, nil
		},
	}
}

type vellumSet struct{ fst *vellum.FST }

func (s *vellumSet) close() error { return s.fst.Close() }
func (s *vellumSet) newWorker() (worker, error) {
	r, err := s.fst.Reader()
	if err != nil {
		return nil, err
	}
	return vellumWorker{r}, nil
}

type vellumWorker struct{ r *vellum.Reader }

func (w vellumWorker) release() {}
func (w vellumWorker) contains(q string) bool {
	_, ok, err := w.r.Get(bytesOf(q))
	if err != nil {
		fail("vellum", err)
	}
	return ok
}
func (w vellumWorker) count(qs []string) int {
	n := 0
	for _, q := range qs {
		if w.contains(q) {
			n++
		}
	}
	return n
}

// --- binary fuse filter ---

func fuseSystem() *system {
	return &system{
		Name:  "binary fuse 8",
		Exact: false,
		Note:  "xorfilter.BinaryFuse8 over xxhash64 of the keys; approximate, loaded into the heap",
		build: func(dir string, d *dataset) error {
			filter, err := xorfilter.PopulateBinaryFuse8(slices.Clone(d.keyHash))
			if err != nil {
				return err
			}
			f, err := os.Create(filepath.Join(dir, "keys.fuse"))
			if err != nil {
				return err
			}
			w := bufio.NewWriter(f)
			if err := filter.Save(w); err != nil {
				f.Close()
				return err
			}
			if err := w.Flush(); err != nil {
				f.Close()
				return err
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		},
		open: func(dir string) (openSet, error) {
			f, err := os.Open(filepath.Join(dir, "keys.fuse"))
			if err != nil {
				return nil, err
			}
			defer f.Close()
			filter, err := xorfilter.LoadBinaryFuse8(bufio.NewReader(f))
			if err != nil {
				return nil, err
			}
			return fuseSet{filter}, nil
		},
	}
}

type fuseSet struct{ f *xorfilter.BinaryFuse8 }

func (s fuseSet) newWorker() (worker, error) { return s, nil }
func (s fuseSet) close() error               { return nil }
func (s fuseSet) release()                   {}
func (s fuseSet) contains(q string) bool     { return s.f.Contains(xxhash.Sum64String(q)) }
func (s fuseSet) count(qs []string) int {
	n := 0
	for _, q := range qs {
		if s.f.Contains(xxhash.Sum64String(q)) {
			n++
		}
	}
	return n
}
