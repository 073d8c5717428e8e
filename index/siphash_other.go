//go:build !amd64

package index

import "github.com/dchest/siphash"

// sipHash returns the SipHash-2-4 of key under (k0, k1): siphash.Hash
// (siphash_amd64.go says what amd64 does instead).
func sipHash(k0, k1 uint64, key []byte) uint64 { return siphash.Hash(k0, k1, key) }
