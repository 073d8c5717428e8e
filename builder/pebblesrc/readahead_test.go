package pebblesrc

import (
	"errors"
	"fmt"
	"iter"
	"slices"
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
