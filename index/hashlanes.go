package index

// hashLanes computes the hashes of many keys at once, for FindBatch. A
// SipHash-2-4 of a 36-byte key is some 250 dependent instructions, and
// hashing a batch one key at a time costs about as much as all its cache
// misses put together. Where the processor has AVX-512 or AVX2
// (hashlanes_amd64.s), hashLanes runs eight or four SipHashes side by
// side, one in each 64-bit lane of the vector registers, with the same
// result as Hash for every key, which hashes one message at a time.
// Elsewhere, and for the last keys of a batch that do not fill the lanes,
// hashLanes calls Hash.

// laneCode names a vector form of hashGroups.
type laneCode int

const (
	lanesNone   laneCode = iota // no vector code: hashLanes calls Hash
	lanesAVX2                   // four keys at once in AVX2 registers (amd64)
	lanesAVX512                 // eight keys at once in AVX-512 registers (amd64)
)

// hashLanes sets hashes[i] to Hash(k0, k1, keys[i]) for every i below
// len(keys); hashes must be at least as long as keys.
func hashLanes(k0, k1 uint64, keys [][]byte, hashes []uint64) {
	hashes = hashes[:len(keys)]
	for i := hashGroups(k0, k1, keys, hashes); i < len(keys); i++ {
		hashes[i] = Hash(k0, k1, keys[i])
	}
}
