package pebblesrc

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync/atomic"
	"testing"
)

// numbered yields n keys of various lengths, then err if not nil, and
// records in *closed that it returned.
func numbered(n int, err error, closed *bool) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		defer func() { *closed = true }()
		for i := range n {
			key := fmt.Appendf(nil, "%08d%s", i, make([]byte, i%300))
			if !yield(key, nil) {
				return
			}
		}
		if err != nil {
			yield(nil, err)
		}
	}
}

// TestReadAhead reads sequences of several batches through ReadAhead:
// the same keys in the same order, then the error; and an early stop
// waits for the sequence underneath to return.
func TestReadAhead(t *testing.T) {
	const n = 20000 // about 3 MiB of keys: a dozen batches
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		n    int
		err  error
	}{
		{"empty", 0, nil},
		{"one key", 1, nil},
		{"many keys", n, nil},
		{"error at once", 0, boom},
		{"error after many keys", n, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var closedDirect, closedAhead bool
			var want, got [][]byte
			var wantErr, gotErr error
			for k, err := range numbered(tc.n, tc.err, &closedDirect) {
				if err != nil {
					wantErr = err
					break
				}
				want = append(want, k)
			}
			for k, err := range ReadAhead(numbered(tc.n, tc.err, &closedAhead)) {
				if err != nil {
					gotErr = err
					break
				}
				got = append(got, slices.Clone(k))
			}
			if !slices.EqualFunc(got, want, func(a, b []byte) bool { return string(a) == string(b) }) {
				t.Errorf("%d keys, want %d, or not the same", len(got), len(want))
			}
			if gotErr != wantErr {
				t.Errorf("error %v, want %v", gotErr, wantErr)
			}
			if !closedAhead {
				t.Error("the sequence underneath had not returned")
			}
		})
	}
	for _, stop := range []int{1, 100, n / 2} {
		t.Run(fmt.Sprintf("stop after %d", stop), func(t *testing.T) {
			closed := false
			i := 0
			for k, err := range ReadAhead(numbered(n, nil, &closed)) {
				if err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("%08d", i); string(k[:8]) != want {
					t.Fatalf("key %d is %q, want %q...", i, k[:8], want)
				}
				if i++; i == stop {
					break
				}
			}
			if !closed {
				t.Error("ReadAhead returned before the sequence underneath")
			}
		})
	}
}

// TestReadAheadEmptyKeys reads a long run of empty keys through
// ReadAhead: they hold no bytes, but each takes an entry, so a batch
// fills all the same, and the first key reaches the caller long before
// the run ends. When only key bytes were counted, a batch of empty keys
// never filled: ReadAhead held the whole run in memory and passed on
// nothing until it ended.
func TestReadAheadEmptyKeys(t *testing.T) {
	const n = 10_000_000
	var produced atomic.Int64 // by ReadAhead's goroutine
	empty := func(yield func([]byte, error) bool) {
		for range n {
			produced.Add(1)
			if !yield(nil, nil) {
				return
			}
		}
	}
	// Keys the producer may be ahead by when the first reaches the
	// caller: the batches in use, and one being filled.
	most := int64((batches + 1) * batchBytes / endBytes)
	for k, err := range ReadAhead(empty) {
		if err != nil || len(k) != 0 {
			t.Fatalf("first key %q, error %v; want the empty key", k, err)
		}
		if p := produced.Load(); p > most {
			t.Errorf("the first key came after %d had been read, want at most %d", p, most)
		}
		break
	}
}
