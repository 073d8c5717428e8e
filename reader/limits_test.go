package reader_test

// Tests that a header claiming enormous sizes or counts is rejected when
// the file is opened, in constant time and memory: nothing sized by the
// header is allocated or walked before the header has been checked against
// the file's real length.

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stru-index/stru/builder"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// claimedSet returns a header that is consistent in every field, file size
// and checksum included, for a set of keys one-byte keys: only the length
// of a file holding nothing but this header betrays it.
func claimedSet(keys uint64) index.Header {
	h := index.Header{
		Version: index.Version, Keys: keys, KeyBytes: keys, MaxKeyLen: 1,
		Buckets: index.BucketCount(keys, builder.DefaultLoadFactor), OffsetWidth: index.OffsetWidth(keys), LengthWidth: 1,
	}
	l, ok := index.ComputeLayout(h.Keys, h.Buckets, h.KeyBytes, 0, h.OffsetWidth, h.LengthWidth)
	if !ok {
		panic(fmt.Sprintf("no layout for %d keys", keys))
	}
	h.FileSize = l.FileSize()
	return h
}

// hugeClaims returns headers that claim more than any file can hold, or
// far more than the 128 bytes that will follow them, by name.
func hugeClaims() []struct {
	name string
	h    index.Header
} {
	small := index.Header{Version: index.Version, Keys: 4, Buckets: 1, KeyBytes: 12, OffsetWidth: 4, LengthWidth: 1, MaxKeyLen: 6, FileSize: 320}
	with := func(change func(h *index.Header)) index.Header {
		h := small
		change(&h)
		return h
	}
	cs := []struct {
		name string
		h    index.Header
	}{
		{"key count 2^40-2", with(func(h *index.Header) { h.Keys = index.MaxKeys })},
		{"key count 2^40-2 with buckets for them", with(func(h *index.Header) {
			h.Keys, h.Buckets = index.MaxKeys, index.MaxKeys/index.BucketSlots+1
		})},
		{"bucket count 2^58", with(func(h *index.Header) { h.Buckets = 1 << 58 })},
		{"bucket count 2^57", with(func(h *index.Header) { h.Buckets = 1 << 57 })},
		{"key bytes 2^62", with(func(h *index.Header) { h.KeyBytes, h.OffsetWidth = 1<<62, 8 })},
		{"key bytes 2^62 in as many keys as allowed", with(func(h *index.Header) {
			h.Keys, h.Buckets, h.KeyBytes, h.OffsetWidth, h.LengthWidth, h.MaxKeyLen = index.MaxKeys, 1<<37, 1<<62, 8, 2, index.MaxKeyLen
		})},
		{"key count, bucket count and key bytes at once", with(func(h *index.Header) {
			h.Keys, h.Buckets, h.KeyBytes, h.OffsetWidth, h.LengthWidth, h.MaxKeyLen = index.MaxKeys, 1<<58, 1<<62, 8, 2, index.MaxKeyLen
		})},
		{"file size 2^63", with(func(h *index.Header) { h.FileSize = 1 << 63 })},
		{"file size 2^64-1", with(func(h *index.Header) { h.FileSize = 1<<64 - 1 })},
	}
	for _, keys := range []uint64{1 << 20, 1 << 30, 1 << 35, index.MaxKeys} {
		cs = append(cs, struct {
			name string
			h    index.Header
		}{fmt.Sprintf("consistent header of %d keys", keys), claimedSet(keys)})
	}
	return cs
}

// allocsPerCall returns the allocations per call of f, the least of five
// testing.AllocsPerRun measurements of 100 calls: under the race detector
// sync.Pool drops what is put in it at random, so that fmt's pooled
// printer is now and then allocated anew, and one measurement can count
// one or two more allocations than another for the same work.
func allocsPerCall(f func()) float64 {
	least := testing.AllocsPerRun(100, f)
	for range 4 {
		least = min(least, testing.AllocsPerRun(100, f))
	}
	return least
}

// bytesPerCall returns the bytes f allocates per call, the least of three
// measurements of 100 calls, so that a stray allocation elsewhere in the
// process does not count.
func bytesPerCall(f func()) uint64 {
	least := ^uint64(0)
	var before, after runtime.MemStats
	for range 3 {
		runtime.ReadMemStats(&before)
		for range 100 {
			f()
		}
		runtime.ReadMemStats(&after)
		least = min(least, (after.TotalAlloc-before.TotalAlloc)/100)
	}
	return least
}

// TestHugeClaimsRejectedAtOpen opens 128-byte files whose headers, with
// valid checksums, claim up to 2^40-2 keys, 2^58 buckets, 2^62 bytes of
// key data or a file of 2^64-1 bytes. Open and FromBytes must both fail
// with ErrCorrupt, quickly, allocating the same small amount whatever the
// claim.
func TestHugeClaimsRejectedAtOpen(t *testing.T) {
	const (
		maxAllocs = 20   // allocations per call: the error, and Open's file
		maxBytes  = 4096 // bytes allocated per call
	)
	type cost struct{ fromBytes, open float64 }
	costs := map[string]cost{}
	for _, c := range hugeClaims() {
		t.Run(c.name, func(t *testing.T) {
			data := make([]byte, index.HeaderSize)
			c.h.Encode(data)
			path := writeTemp(t, "huge.stru", data)

			r, err := reader.FromBytes(data)
			if r != nil || !errors.Is(err, index.ErrCorrupt) {
				t.Fatalf("FromBytes: %v, want ErrCorrupt", err)
			}
			checkSentinel(t, err)
			var fe *index.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("FromBytes error %v is not a *index.FormatError", err)
			}
			r, err = reader.Open(path)
			if r != nil || !errors.Is(err, index.ErrCorrupt) {
				t.Fatalf("Open: %v, want ErrCorrupt", err)
			}
			checkSentinel(t, err)
			t.Logf("Open: %v", err)

			fromBytes := func() { reader.FromBytes(data) }
			open := func() {
				if r, err := reader.Open(path); err == nil {
					r.Close()
				}
			}
			cf, co := allocsPerCall(fromBytes), allocsPerCall(open)
			if cf > maxAllocs || co > maxAllocs {
				t.Errorf("allocations per call: FromBytes %v, Open %v, want at most %d", cf, co, maxAllocs)
			}
			costs[c.name] = cost{cf, co}
			if bf, bo := bytesPerCall(fromBytes), bytesPerCall(open); bf > maxBytes || bo > maxBytes {
				t.Errorf("bytes allocated per call: FromBytes %d, Open %d, want at most %d", bf, bo, maxBytes)
			}
			// Work proportional to the claim would take hours; a second
			// for a thousand calls allows for a loaded machine.
			start := time.Now()
			for range 1000 {
				fromBytes()
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("1000 calls of FromBytes took %v", d)
			}
		})
	}
	// The consistent claims fail at the same check, whatever their size:
	// the cost must not depend on the size.
	var consistent []cost
	for name, c := range costs {
		var keys uint64
		if _, err := fmt.Sscanf(name, "consistent header of %d keys", &keys); err == nil {
			consistent = append(consistent, c)
		}
	}
	if len(consistent) < 2 {
		t.Fatalf("%d consistent claims measured, want several", len(consistent))
	}
	// A pooled buffer inside fmt, emptied by a garbage collection at the
	// wrong moment, can still cost one more allocation in all five
	// measurements: allow that much, far below anything sized by a claim
	// of a million keys.
	lo, hi := consistent[0], consistent[0]
	for _, c := range consistent {
		lo.fromBytes, hi.fromBytes = min(lo.fromBytes, c.fromBytes), max(hi.fromBytes, c.fromBytes)
		lo.open, hi.open = min(lo.open, c.open), max(hi.open, c.open)
	}
	if hi.fromBytes-lo.fromBytes > 1 || hi.open-lo.open > 1 {
		t.Errorf("allocations depend on the claimed size: %v", consistent)
	}
}

// TestHugeFileSizeOfRealIndex takes a real index and changes only its
// header's file size to huge values, the header checksum recomputed: the
// file is rejected at Open, its sections never read.
func TestHugeFileSizeOfRealIndex(t *testing.T) {
	good := buildIndex(t, tinyKeys, builder.Options{HashKey: &fixedKey})
	for _, size := range []uint64{1 << 40, 1<<62 - index.Align, 1 << 62, 1<<64 - index.Align} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := slices.Clone(good)
			le.PutUint64(data[hdrFileSize:], size)
			resealHeader(data)
			for _, file := range [][]byte{data, data[:index.HeaderSize]} {
				if _, err := reader.FromBytes(file); !errors.Is(err, index.ErrCorrupt) {
					t.Fatalf("FromBytes of %d bytes: %v, want ErrCorrupt", len(file), err)
				}
				path := writeTemp(t, "huge.stru", file)
				if _, err := reader.Open(path); !errors.Is(err, index.ErrCorrupt) {
					t.Fatalf("Open of %d bytes: %v, want ErrCorrupt", len(file), err)
				}
			}
		})
	}
}

// TestHeaderLimits opens 128-byte files whose headers are consistent in
// every field but the file's real length, with the key count and the key
// data size at and just past their largest values: at the limit, the
// field itself passes and only the file's length betrays the header; one
// past, Open rejects the field itself, at its offset. Key data of
// index.MaxKeyBytes bytes is the most a slot's 40-bit offset+1 can point
// into.
func TestHeaderLimits(t *testing.T) {
	// keyBytes returns a header of 2^25 keys of up to 65535 bytes, so that
	// the key count allows any key data size up to 2^41, holding n bytes.
	keyBytes := func(n uint64) index.Header {
		h := index.Header{
			Version: index.Version, Keys: 1 << 25, KeyBytes: n, MaxKeyLen: index.MaxKeyLen, OffsetWidth: 8, LengthWidth: 2,
		}
		h.Buckets = index.BucketCount(h.Keys, builder.DefaultLoadFactor)
		return h
	}
	keys := func(n uint64) index.Header {
		h := claimedSet(min(n, index.MaxKeys))
		h.Keys = n
		return h
	}
	cases := []struct {
		name    string
		h       index.Header
		fieldAt int64 // the header offset of the field Open must reject, or -1
	}{
		{"key data of MaxKeyBytes", keyBytes(index.MaxKeyBytes), -1},
		{"key data of MaxKeyBytes+1", keyBytes(index.MaxKeyBytes + 1), hdrKeyBytes},
		{"key data of 2^40", keyBytes(1 << 40), hdrKeyBytes},
		{"MaxKeys keys", keys(index.MaxKeys), -1},
		{"MaxKeys+1 keys", keys(index.MaxKeys + 1), hdrKeys},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if l, ok := index.ComputeLayout(c.h.Keys, c.h.Buckets, c.h.KeyBytes, 0, c.h.OffsetWidth, c.h.LengthWidth); ok {
				c.h.FileSize = l.FileSize()
			} else {
				c.h.FileSize = 1 << 61
			}
			data := make([]byte, index.HeaderSize)
			c.h.Encode(data)
			_, err := reader.FromBytes(data)
			var fe *index.FormatError
			if !errors.Is(err, index.ErrCorrupt) || !errors.As(err, &fe) {
				t.Fatalf("FromBytes: %v, want a *FormatError wrapping ErrCorrupt", err)
			}
			atField := fe.Section == "header" && fe.Off == c.fieldAt
			if c.fieldAt >= 0 && !atField {
				t.Errorf("FromBytes: %v, want the field at header offset %d rejected", err, c.fieldAt)
			}
			if c.fieldAt < 0 && (fe.Section != "file" || fe.Off != index.HeaderSize) {
				t.Errorf("FromBytes: %v, want the header accepted and only the file's length, %d bytes, rejected", err, index.HeaderSize)
			}
		})
	}
}
