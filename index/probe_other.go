//go:build !amd64

package index

// useProbe is false: there is no vector form of the lookup on this
// architecture (see probe.go).
var useProbe = false

// probeCodeAvailable reports false: there is no vector code here.
func probeCodeAvailable() bool { return false }

// probe is never called: useProbe is false.
func probe(k0, k1 uint64, key []byte, buckets *byte, blocks, perBlock uint64) (h, b1, b2, cand uint64) {
	panic("index: probe without its vector code")
}
