package index

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// BenchmarkHashThenRead shows why a loop of single lookups waits for memory
// once per read while Go's map overlaps its lookups: a loop of independent
// iterations, each hashing a key (SipHash-2-4, as a lookup does) and then
// reading 8 bytes at a place the hash picks in a 256 MiB array, against
// the hash alone and the read alone (at a place drawn in advance). When the
// hash's instructions fill the processor's out-of-order window, the next
// iteration's read cannot start until the current one's has arrived, and
// hash+read costs nearly a whole memory latency rather than hash + read.
// Keys are random and 8–64 bytes long, all 36 bytes (the same mean
// length, but no branch on the length that the processor cannot predict),
// or all 8 bytes (fewer instructions). There are 64 Ki keys, more than a
// branch predictor learns the lengths of. For reference, maphash+read is
// the same loop with the hash Go's map uses (hash/maphash: a few AES
// instructions, not a keyed hash that the STRU format can depend on): with
// a hash that short, several iterations' reads are in flight at once and
// hash+read costs a fraction of a memory latency.
func BenchmarkHashThenRead(b *testing.B) {
	const words = 256 << 20 / 8
	var mem []uint64
	rng := rand.New(rand.NewPCG(1, 2))
	for _, keyLen := range []string{"8-64", "36", "8"} {
		keys := make([][]byte, 1<<16)
		places := make([]uint64, len(keys))
		for i := range keys {
			n := 8
			switch keyLen {
			case "8-64":
				n = 8 + rng.IntN(57)
			case "36":
				n = 36
			}
			keys[i] = make([]byte, n)
			for j := range keys[i] {
				keys[i][j] = byte(rng.Uint32())
			}
			places[i] = rng.Uint64N(words)
		}
		seed := maphash.MakeSeed()
		for _, what := range []string{"hash", "read", "hash+read", "maphash+read"} {
			b.Run(fmt.Sprintf("keylen=%s/%s", keyLen, what), func(b *testing.B) {
				if mem == nil {
					mem = make([]uint64, words)
					for i := range mem {
						mem[i] = uint64(i)
					}
				}
				var sum uint64
				i := 0
				for b.Loop() {
					k := i & (len(keys) - 1)
					switch what {
					case "hash":
						sum += Hash(1, 2, keys[k])
					case "read":
						sum += mem[places[k]]
					case "hash+read":
						sum += mem[Hash(1, 2, keys[k])%words]
					case "maphash+read":
						sum += mem[maphash.Bytes(seed, keys[k])%words]
					}
					i++
				}
				if sum == 1 {
					b.Log(sum)
				}
			})
		}
	}
}
