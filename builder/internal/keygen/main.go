// Command keygen writes random keys for measuring builds: one key a line,
// each of 8–64 random bytes that are never "\n", "\r" or NUL, so that the
// output is a valid input of idxbuild in both line and -0 modes.
//
// Usage:
//
//	keygen -n COUNT [-seed S] [-sorted] > keys.txt
//
// The keys are a pure function of COUNT and the seed. Random keys of at
// least 8 bytes almost never repeat (a repeat needs two 8-byte prefixes
// out of 253^8 to meet), so COUNT keys are COUNT distinct keys in practice;
// idxbuild reports any duplicates it drops. With -sorted the keys are
// written in ascending byte order (they are generated, sorted in memory,
// then written: about 60 bytes of memory per key).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
)

func main() {
	n := flag.Int64("n", 1000, "number of keys")
	seed := flag.Uint64("seed", 1, "random seed")
	sorted := flag.Bool("sorted", false, "write the keys in ascending order")
	flag.Parse()
	if err := run(*n, *seed, *sorted); err != nil {
		fmt.Fprintln(os.Stderr, "keygen:", err)
		os.Exit(1)
	}
}

func run(n int64, seed uint64, sorted bool) error {
	rng := rand.New(rand.NewPCG(seed, 0x6b657967656e))
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	var keys [][]byte
	var arena []byte
	for range n {
		k := randomKey(rng)
		if !sorted {
			w.Write(k)
			w.WriteByte('\n')
			continue
		}
		if len(arena)+len(k) > cap(arena) {
			arena = make([]byte, 0, 64<<20)
		}
		arena = append(arena, k...)
		keys = append(keys, arena[len(arena)-len(k):])
	}
	if sorted {
		slices.SortFunc(keys, bytes.Compare)
		for _, k := range keys {
			w.Write(k)
			w.WriteByte('\n')
		}
	}
	return w.Flush()
}

// randomKey returns 8–64 bytes, none of them '\n', '\r' or 0. Its result
// is valid until the next call.
func randomKey(rng *rand.Rand) []byte {
	var buf [64]byte
	k := buf[:8+rng.IntN(57)]
	for i := 0; i < len(k); {
		for v := rng.Uint64(); v != 0 && i < len(k); v >>= 8 {
			if c := byte(v); c != '\n' && c != '\r' && c != 0 {
				k[i] = c
				i++
			}
		}
	}
	return k
}
