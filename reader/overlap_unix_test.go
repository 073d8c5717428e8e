//go:build unix

package reader_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// TestLookupOverlappingClose checks the package's promise that a lookup
// overlapping Close answers from the file or returns false. Close puts
// zero pages in the place of the file's while lookups may still read
// them, so a lookup can read part of what it uses from the file and the
// rest as zeros. Each case builds a file in which such a mix gives an
// answer that is neither the file's nor false, with keys of
// index.MaxKeyLen bytes that end in zeros, so that Close is likely to
// strike while a lookup compares one (the comparison reads the file's
// bytes, then zeros, which match the key's); each round opens the file,
// runs lookups on another goroutine and closes the Reader under them.
func TestLookupOverlappingClose(t *testing.T) {
	zeros := strings.Repeat("\x00", index.MaxKeyLen-8)
	// collider has the tag of the key of MaxKeyLen zero bytes under
	// collisionKey (found by trying suffixes): in a file of one key, and
	// one bucket, its slot is the one a lookup of that key compares.
	var suffix [8]byte
	binary.BigEndian.PutUint64(suffix[:], 89898)
	collider := zeros + string(suffix[:])
	collisionKey := index.HashKey{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	absent := zeros + "\x00\x00\x00\x00\x00\x00\x00\x00"
	k0, k1 := collisionKey.Halves()
	if index.Tag(index.Hash(k0, k1, []byte(collider))) != index.Tag(index.Hash(k0, k1, []byte(absent))) {
		t.Fatal("collider's tag is not that of the key of zeros")
	}
	for _, tc := range []struct {
		name  string
		keys  []string
		opts  builder.Options
		query string
		wrong func(r *reader.Reader, key []byte) string // the answer of one lookup of key if it is neither the file's nor false, else ""
	}{{
		// Once the offset table reads as zeros, every ordinal has the
		// offset of the first key, and the search for its ordinal ends
		// at the last.
		name:  "Lookup of the first key",
		keys:  []string{"\x01" + zeros + "\x00\x00\x00\x00\x00\x00\x00", "b", "c"},
		query: "\x01" + zeros + "\x00\x00\x00\x00\x00\x00\x00",
		wrong: func(r *reader.Reader, key []byte) string {
			if ord, ok := r.Lookup(key); ok && ord != 0 {
				return fmt.Sprintf("Lookup = %d, true, want 0, true or 0, false", ord)
			}
			return ""
		},
	}, {
		// Once the key data reads as zeros, the absent key of zeros is
		// what collider's slot points at.
		name:  "Contains of an absent key",
		keys:  []string{collider},
		opts:  builder.Options{HashKey: &collisionKey, FilterBitsPerKey: -1},
		query: absent,
		wrong: func(r *reader.Reader, key []byte) string {
			if r.Contains(key) {
				return "Contains = true, want false"
			}
			return ""
		},
	}, {
		name:  "ContainsBatch of an absent key",
		keys:  []string{collider},
		opts:  builder.Options{HashKey: &collisionKey, FilterBitsPerKey: -1},
		query: absent,
		wrong: func(r *reader.Reader, key []byte) string {
			var out [1]bool
			if r.ContainsBatch([][]byte{key}, out[:]); out[0] {
				return "ContainsBatch = [true], want [false]"
			}
			return ""
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "set.stru")
			b, err := builder.New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.AddStrings(slices.Values(tc.keys)); err != nil {
				t.Fatal(err)
			}
			if err := b.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			key := []byte(tc.query)
			for round := range 300 {
				r, err := reader.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				var stop atomic.Bool
				var lookups atomic.Int64
				wrong := make(chan string)
				go func() {
					w := ""
					for !stop.Load() {
						if got := tc.wrong(r, key); got != "" {
							w = got
						}
						lookups.Add(1)
					}
					wrong <- w
				}()
				for lookups.Load() < 2 {
					runtime.Gosched()
				}
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
				stop.Store(true)
				if w := <-wrong; w != "" {
					t.Fatalf("round %d: a lookup overlapping Close answered %s", round, w)
				}
			}
		})
	}
}

// TestVerifyOverlappingClose checks that Verify, overlapping Close, does
// not report a valid file as damaged: once Close has put zero pages in
// the place of the file's, the checks Verify has yet to make read zeros,
// which fail them, but the file has not changed. Verify must then return
// nil, if it had read everything before, or the error of a Verify after
// Close, which wraps neither index.ErrCorrupt nor ErrFault. Each round
// lets Verify start on another goroutine before it closes the Reader.
func TestVerifyOverlappingClose(t *testing.T) {
	var keys []string
	for i := range 200_000 {
		keys = append(keys, fmt.Sprintf("key-%07d", i))
	}
	path := filepath.Join(t.TempDir(), "set.stru")
	publish(t, path, keys)
	for round := range 20 {
		r, err := reader.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		verified := make(chan error)
		started := make(chan struct{})
		go func() {
			close(started)
			verified <- r.Verify()
		}()
		<-started
		for range 1000 { // let Verify get under way
			runtime.Gosched()
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-verified; errors.Is(err, index.ErrCorrupt) || errors.Is(err, reader.ErrFault) {
			t.Fatalf("round %d: Verify overlapping Close = %v, want nil or an error wrapping neither ErrCorrupt nor ErrFault", round, err)
		}
	}
}
