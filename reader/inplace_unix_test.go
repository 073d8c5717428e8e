//go:build unix

package reader_test

// Tests of what only a mapped file shows: elsewhere (mmap_other.go) Open
// reads the whole file into memory, so a rewrite of the file after Open
// cannot be seen, and a large file is read whole.

import (
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// TestVerifyHeaderRewrittenInPlace opens a file, then rewrites its header
// in place, as the docs say not to: Open read the header with a read
// call, so only Verify, which reads the header's bytes in the mapping
// again, can see the change. Verify must fail with ErrCorrupt in the
// header at the byte changed, whether the new header is damaged (stale
// checksum) or valid but another (a new hash key, checksum resealed).
func TestVerifyHeaderRewrittenInPlace(t *testing.T) {
	good := buildIndex(t, tinyKeys, builder.Options{HashKey: &fixedKey})
	cases := []struct {
		name   string
		at     int
		reseal bool
	}{
		{"hash key, stale checksum", hdrHashKey + 3, false},
		{"hash key, resealed", hdrHashKey + 3, true},
		{"key count, resealed", hdrKeys, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "set.stru", good)
			r, err := reader.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			header := slices.Clone(good[:index.HeaderSize])
			header[c.at] ^= 0x10
			if c.reseal {
				resealHeader(header)
			}
			overwrite(t, path, header)
			err = r.Verify()
			var fe *index.FormatError
			if !errors.Is(err, index.ErrCorrupt) || !errors.As(err, &fe) {
				t.Fatalf("Verify: %v, want a *FormatError wrapping ErrCorrupt", err)
			}
			wantOff := int64(c.at)
			if !c.reseal {
				wantOff = index.HeaderSize - 4 // the header checksum
			}
			if fe.Section != "header" || fe.Off != wantOff || fe.File != path {
				t.Errorf("Verify: %v: section %q at %d in %q, want the header at %d in %q", err, fe.Section, fe.Off, fe.File, wantOff, path)
			}
			t.Logf("Verify: %v", err)
		})
	}
}

// TestFileLargerThanAddressSpace opens a sparse file of over 2 GiB whose
// header is consistent in every field with its length: a 64-bit process
// maps it, as Open reads nothing sized by it; a 32-bit one, whose int
// cannot index it, must refuse it with an error wrapping
// errors.ErrUnsupported (neither ErrCorrupt nor a crash).
func TestFileLargerThanAddressSpace(t *testing.T) {
	h := claimedSet(200 << 20)
	if h.FileSize <= 1<<31 {
		t.Fatalf("the claimed file is %d bytes, want over 2 GiB", h.FileSize)
	}
	data := make([]byte, index.HeaderSize)
	h.Encode(data)
	path := writeTemp(t, "large.stru", data)
	if err := os.Truncate(path, int64(h.FileSize)); err != nil {
		t.Fatal(err)
	}
	r, err := reader.Open(path)
	if h.FileSize > math.MaxInt {
		if r != nil || !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Open of a %d-byte file in a %d-bit process: %v, want an error wrapping errors.ErrUnsupported", h.FileSize, strconv.IntSize, err)
		}
		for _, s := range []error{index.ErrNotIndex, index.ErrVersion, index.ErrCorrupt} {
			if errors.Is(err, s) {
				t.Errorf("Open's error %v wraps %v: the file is not at fault", err, s)
			}
		}
		t.Logf("Open: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("Open of a %d-byte file: %v", h.FileSize, err)
	}
	defer r.Close()
	if r.Len() != int(h.Keys) {
		t.Errorf("Len() = %d, want %d", r.Len(), h.Keys)
	}
}
