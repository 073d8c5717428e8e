package builder

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/stru-index/stru/index"
)

// TestSortKeys sorts sets of keys, large enough for the radix passes and
// shaped to defeat them (shared prefixes, NUL bytes, short and empty keys,
// duplicates), and checks the order against bytes.Compare.
func TestSortKeys(t *testing.T) {
	rng := newRand(t)
	random := func(n, maxLen int, alphabet string) [][]byte {
		keys := make([][]byte, n)
		for i := range keys {
			k := make([]byte, rng.IntN(maxLen+1))
			for j := range k {
				k[j] = alphabet[rng.IntN(len(alphabet))]
			}
			keys[i] = k
		}
		return keys
	}
	prefixed := func(prefix string, keys [][]byte) [][]byte {
		for i, k := range keys {
			keys[i] = append([]byte(prefix), k...)
		}
		return keys
	}
	allBytes := string(func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}())
	cases := []struct {
		name string
		keys [][]byte
	}{
		{"few", random(10, 5, allBytes)},
		{"random bytes", random(100000, 40, allBytes)},
		{"short keys, NUL and 0xff", random(100000, 9, "\x00\x01\xfe\xff")},
		{"empty and one-byte keys", random(20000, 1, "\x00ab")},
		{"shared 20-byte prefix", prefixed("https://example.com/", random(60000, 12, "abc/\x00"))},
		{"shared 7-byte prefix", prefixed("abcdefg", random(60000, 3, "\x00\xff"))},
		{"duplicates", slices.Repeat(random(3000, 10, allBytes), 20)},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s (%d)", c.name, len(c.keys)), func(t *testing.T) {
			kb := keyBuf{chunkShift: 16}
			for _, k := range c.keys {
				kb.hold(k)
			}
			kb.sortKeys()
			var got [][]byte
			for _, r := range kb.recs {
				got = append(got, kb.key(r))
			}
			want := sortedSet(c.keys)
			if !slices.EqualFunc(got, want, bytes.Equal) {
				for i := range min(len(got), len(want)) {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("%d keys, want %d; key %d is %q, want %q", len(got), len(want), i, got[i], want[i])
					}
				}
				t.Fatalf("%d keys, want %d", len(got), len(want))
			}
		})
	}
}

// TestEmptyKeyAfterFullChunk adds keys that fill the first chunk of the
// arena exactly, then the empty key, and writes the file: the empty key
// must not be placed at the offset just past the full chunk, the start of
// a chunk that does not exist, where sorting the keys would index out of
// range. The budget makes chunks of 64 KiB from the first (a larger
// chunk's first piece is smaller than its range of offsets, and the
// offset past it still in chunk 0); keys run up to the maximum length, so
// the chunk fills in 2 keys.
func TestEmptyKeyAfterFullChunk(t *testing.T) {
	b := mustNew(t, Options{HashKey: &testKey, MemoryBudget: 1 << 20})
	if b.chunkCap(0) != 1<<b.chunkShift {
		t.Fatalf("the first chunk holds %d bytes, not its whole range of %d", b.chunkCap(0), 1<<b.chunkShift)
	}
	want := [][]byte{{}}
	for left := b.chunkCap(0); left > 0; {
		k := bytes.Repeat([]byte{'k'}, min(left, index.MaxKeyLen))
		k[0] = byte(len(want))
		want = append(want, k)
		left -= len(k)
	}
	for _, k := range want[1:] {
		if err := b.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add(nil); err != nil {
		t.Fatal(err)
	}
	if b.nchunks != 2 {
		t.Errorf("the empty key after a full chunk: %d chunks in use, want 2", b.nchunks)
	}
	var file bytes.Buffer
	if _, err := b.WriteTo(&file); err != nil {
		t.Fatal(err)
	}
	checkHolds(t, file.Bytes(), want)
}

// TestKeyBufChunkEdges holds keys in arenas of tiny chunks, with lengths
// drawn to land on a chunk's edges: the empty key, a key as long as a
// chunk, and a key exactly as long as the space left in the last chunk,
// which must fill that chunk rather than take a new one. Each key's
// record must lie inside a chunk in use when the key is held, and the
// keys must come back sorted and distinct, also after the arena is
// emptied for reuse.
func TestKeyBufChunkEdges(t *testing.T) {
	rng := newRand(t)
	for _, shift := range []uint{3, 4, 6} {
		size := 1 << shift
		kb := keyBuf{chunkShift: shift}
		for round := range 3 {
			var keys [][]byte
			for range 2000 {
				n := rng.IntN(size + 1)
				fills := false // n is the room left in the last chunk
				switch rng.IntN(4) {
				case 0:
					n = 0
				case 1:
					if kb.nchunks > 0 {
						c := kb.chunks[kb.nchunks-1]
						n = cap(c) - len(c) // 0 when full
						fills = n > 0
					}
				}
				inUse := kb.nchunks
				k := make([]byte, n)
				for i := range k {
					k[i] = "ab"[rng.IntN(2)]
				}
				keys = append(keys, k)
				kb.hold(k)
				r := kb.recs[len(kb.recs)-1]
				if r.off()>>shift >= uint64(kb.nchunks) || r.off()&uint64(size-1)+r.len() > uint64(size) {
					t.Fatalf("chunks of %d bytes, round %d: key %d (offset %d, length %d) is outside the %d chunks in use", size, round, len(keys)-1, r.off(), r.len(), kb.nchunks)
				}
				if fills && kb.nchunks != inUse {
					t.Fatalf("chunks of %d bytes, round %d: key %d, as long as the %d bytes left in the last chunk, took a new chunk", size, round, len(keys)-1, n)
				}
			}
			kb.sortKeys()
			var got [][]byte
			for _, r := range kb.recs {
				got = append(got, kb.key(r))
			}
			if want := sortedSet(keys); !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("chunks of %d bytes, round %d: %d keys back, want the %d distinct ones sorted", size, round, len(got), len(want))
			}
			kb.release(true)
		}
	}
}

// TestKeyBufChunkGrowth checks that the arena's chunks start at 64 KiB
// and double up to the chunk size, so that a few keys take little memory,
// that every key lies inside its chunk, and that heldBytes counts the
// chunks' real capacity, also after the arena is emptied for reuse.
func TestKeyBufChunkGrowth(t *testing.T) {
	kb := keyBuf{chunkShift: 22} // 4 MiB chunks
	wantCaps := []int{64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20, 4 << 20, 4 << 20}
	key := bytes.Repeat([]byte{'k'}, 50000)
	held := 0
	for round := range 2 {
		for kb.nchunks < len(wantCaps) {
			kb.hold(key)
			held++
			r := kb.recs[len(kb.recs)-1]
			c := kb.chunks[r.off()>>kb.chunkShift]
			if at := r.off() & (1<<kb.chunkShift - 1); at+r.len() > uint64(cap(c)) {
				t.Fatalf("round %d: key %d ends at %d in its chunk of %d bytes", round, held, at+r.len(), cap(c))
			}
		}
		var sum int64
		for i, c := range kb.chunks {
			if i < len(wantCaps) && cap(c) != wantCaps[i] {
				t.Errorf("round %d: chunk %d holds %d bytes, want %d", round, i, cap(c), wantCaps[i])
			}
			sum += int64(cap(c))
		}
		if want := sum + recordSize*int64(cap(kb.recs)); kb.heldBytes() != want {
			t.Errorf("round %d: heldBytes() = %d, want %d (chunks %d, records %d)", round, kb.heldBytes(), want, sum, cap(kb.recs))
		}
		kb.release(true)
	}
	kb.release(false)
	if kb.heldBytes() != 0 {
		t.Errorf("after release(false), heldBytes() = %d, want 0", kb.heldBytes())
	}
}

// TestKeyBufFits holds keys of many lengths, up to the longest, in arenas
// of two chunk sizes, also after they are emptied for reuse, and checks
// before each what fits says against the memory the key then takes:
// whatever the limit when no key is held or when holding it takes no more
// memory (a chunk with room, or one kept for reuse, and records with
// room); otherwise not within the memory held before, and within the
// memory held after.
func TestKeyBufFits(t *testing.T) {
	rng := newRand(t)
	for _, shift := range []uint{16, 18} {
		kb := keyBuf{chunkShift: shift}
		for round := range 3 {
			for i := range 6000 {
				n := rng.IntN(1000)
				if rng.IntN(50) == 0 {
					n = index.MaxKeyLen - rng.IntN(2)
				}
				before := kb.heldBytes()
				was := kb // fits reads the chunks' lengths, which hold changes in place
				was.chunks = slices.Clone(kb.chunks)
				kb.hold(make([]byte, n))
				after := kb.heldBytes()
				what := fmt.Sprintf("chunks of %d bytes, round %d, key %d of %d bytes, held in %d bytes before, %d after", 1<<shift, round, i, n, before, after)
				switch {
				case len(was.recs) == 0 || after == before:
					if !was.fits(n, 0) {
						t.Fatalf("%s: fits(%d, 0) = false", what, n)
					}
				case was.fits(n, before):
					t.Fatalf("%s: fits(%d, %d) = true", what, n, before)
				case !was.fits(n, after):
					t.Fatalf("%s: fits(%d, %d) = false", what, n, after)
				}
			}
			kb.release(true)
		}
	}
}
