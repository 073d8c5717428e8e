package index

// sipHash returns the SipHash-2-4 of key under (k0, k1), as
// github.com/dchest/siphash's Hash does (siphash_amd64.s): the same
// assembly, but for a key of 8 bytes or more it reads the last len%8
// bytes without a branch on how many there are. With keys of 8 to 64
// bytes of random lengths (BenchmarkHashThenRead's keylen=8-64), the
// processor could not predict those branches, and the hash took about a
// third longer than with keys all 36 bytes long; without them, a few
// percent longer.
//
//go:noescape
func sipHash(k0, k1 uint64, key []byte) uint64
