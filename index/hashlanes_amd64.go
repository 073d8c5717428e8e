package index

import (
	"encoding/binary"

	"golang.org/x/sys/cpu"
)

// useLanes says whether hashGroups runs sipHash8's vector code. Tests turn
// it off to check the other path.
var useLanes = laneCodeAvailable()

// laneCodeAvailable reports whether the processor and the operating system
// support AVX-512F, which hash8's assembly needs.
func laneCodeAvailable() bool { return cpu.X86.HasAVX512F }

// lanes is how many keys sipHash8 hashes at once.
const lanes = 8

// hashGroups sets hashes[i] to Hash(k0, k1, keys[i]) for the keys of every
// whole group of eight, when useLanes is set, and returns how many keys it
// hashed: len(keys) rounded down to a multiple of eight, or 0.
func hashGroups(k0, k1 uint64, keys [][]byte, hashes []uint64) int {
	if !useLanes {
		return 0
	}
	n := len(keys) / lanes * lanes
	for i := 0; i < n; i += lanes {
		hash8(k0, k1, (*[lanes][]byte)(keys[i:i+lanes]), (*[lanes]uint64)(hashes[i:i+lanes]))
	}
	return n
}

// hash8 sets out[i] to Hash(k0, k1, keys[i]) for each of the eight keys.
func hash8(k0, k1 uint64, keys *[lanes][]byte, out *[lanes]uint64) {
	var last [lanes]uint64
	most := 0
	for i, k := range keys {
		last[i] = lastWord(k)
		most = max(most, len(k)/8)
	}
	sipHash8(k0, k1, keys, &last, most+1, out)
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
func sipHash8(k0, k1 uint64, keys *[lanes][]byte, last *[lanes]uint64, words int, out *[lanes]uint64)
