package index

import "golang.org/x/sys/cpu"

// useProbe says whether locate (Has and Find) runs probe's vector code.
// Tests turn it off to check the other path.
var useProbe = probeCodeAvailable()

// probeCodeAvailable reports whether the processor and the operating system
// support what probe's assembly needs: AVX-512 F, VL and BW, and BMI1.
func probeCodeAvailable() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512BW && cpu.X86.HasBMI1
}

// probe hashes key under (k0, k1) as Hash does, finds its two buckets b1
// and b2 in a table of blocks blocks of perBlock buckets as bucketsIn
// does, and reads both from buckets, the bucket section: bit i of cand,
// i < 8, says that slot i of b1 holds the key's tag (Tag) in its top 16
// bits and comes before b1's first empty slot; bit 8+i says the same of
// slot i of b2, and is set only when b1 has no empty slot and b2 != b1
// (probe_amd64.s). The caller compares the slots' length fields, and must
// make sure the buckets section holds blocks × perBlock buckets: b1 and b2
// are below that.
//
//go:noescape
func probe(k0, k1 uint64, key []byte, buckets *byte, blocks, perBlock uint64) (h, b1, b2, cand uint64)
