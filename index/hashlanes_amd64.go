package index

import (
	"encoding/binary"

	"golang.org/x/sys/cpu"
)

// useLanes is the vector code hashGroups runs. Tests change it to check
// each path.
var useLanes = bestLaneCode()

// bestLaneCode returns the widest vector code this machine runs.
func bestLaneCode() laneCode {
	for _, code := range []laneCode{lanesAVX512, lanesAVX2} {
		if laneCodeAvailable(code) {
			return code
		}
	}
	return lanesNone
}

// laneCodeAvailable reports whether the processor and the operating system
// support what code's assembly needs: AVX-512F for sipHash8, AVX2 for
// sipHash4.
func laneCodeAvailable(code laneCode) bool {
	switch code {
	case lanesNone:
		return true
	case lanesAVX2:
		return cpu.X86.HasAVX2
	case lanesAVX512:
		return cpu.X86.HasAVX512F
	}
	return false
}

// hashGroups sets hashes[i] to Hash(k0, k1, keys[i]) for the keys of every
// whole group of eight (AVX-512) or four (AVX2), as useLanes says, and
// returns how many keys it hashed: len(keys) rounded down to a multiple of
// the group, or 0 without vector code.
func hashGroups(k0, k1 uint64, keys [][]byte, hashes []uint64) int {
	switch useLanes {
	case lanesAVX512:
		n := len(keys) / 8 * 8
		for i := 0; i < n; i += 8 {
			hash8(k0, k1, (*[8][]byte)(keys[i:i+8]), (*[8]uint64)(hashes[i:i+8]))
		}
		return n
	case lanesAVX2:
		n := len(keys) / 4 * 4
		for i := 0; i < n; i += 4 {
			hash4(k0, k1, (*[4][]byte)(keys[i:i+4]), (*[4]uint64)(hashes[i:i+4]))
		}
		return n
	}
	return 0
}

// hash8 sets out[i] to Hash(k0, k1, keys[i]) for each of the eight keys.
func hash8(k0, k1 uint64, keys *[8][]byte, out *[8]uint64) {
	var last [8]uint64
	most := 0
	for i, k := range keys {
		last[i] = lastWord(k)
		most = max(most, len(k)/8)
	}
	sipHash8(k0, k1, keys, &last, most+1, out)
}

// hash4 sets out[i] to Hash(k0, k1, keys[i]) for each of the four keys.
func hash4(k0, k1 uint64, keys *[4][]byte, out *[4]uint64) {
	var (
		last [4]uint64
		lag  [4]int64
	)
	most := 0
	for i, k := range keys {
		last[i] = lastWord(k)
		most = max(most, len(k)/8)
	}
	for i, k := range keys {
		lag[i] = int64(len(k)/8 - most)
	}
	sipHash4(k0, k1, keys, &last, &lag, most, out)
}

// lastWord returns the last word SipHash compresses for key: its final
// len(key) mod 8 bytes, little-endian, with len(key) mod 256 in the top
// byte (format.md §3). For a key of 8 bytes or more it loads the key's last
// eight bytes, never reading outside the key.
func lastWord(key []byte) uint64 {
	n := len(key)
	var w uint64
	if n >= 8 {
		// The tail is the top n%8 bytes of the last eight; a shift by
		// 64 (n%8 == 0) gives 0 in Go.
		w = binary.LittleEndian.Uint64(key[n-8:]) >> (64 - 8*(n%8))
	} else {
		for i := n - 1; i >= 0; i-- {
			w = w<<8 | uint64(key[i])
		}
	}
	return w | uint64(n)<<56
}

// sipHash8 is SipHash-2-4 of eight keys in the eight 64-bit lanes of the
// AVX-512 registers (hashlanes_amd64.s). Lane i compresses the
// len(keys[i])/8 whole words of keys[i], read straight from the key, and
// then last[i]; it stands still for the remaining rounds of compression,
// of which there are words: one more than the most whole words of any key.
//
//go:noescape
func sipHash8(k0, k1 uint64, keys *[8][]byte, last *[8]uint64, words int, out *[8]uint64)

// sipHash4 is SipHash-2-4 of four keys in the four 64-bit lanes of the
// AVX2 registers (hashlanes_amd64.s). AVX2 cannot leave a lane standing
// still, so the lanes are aligned at their ends instead: there are steps
// rounds of compression of whole words, then one of every lane's last
// word (last[i]), and lane i starts -lag[i] steps late, len(keys[i])/8
// before the end, its state set back to the initial one until then.
//
//go:noescape
func sipHash4(k0, k1 uint64, keys *[4][]byte, last *[4]uint64, lag *[4]int64, steps int, out *[4]uint64)
