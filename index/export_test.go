package index

// HashLanes is hashLanes, for the tests of package index_test.
var HashLanes = hashLanes

// LaneCodes names the vector forms of HashLanes, for SetLanes.
var LaneCodes = []string{"avx512", "avx2"}

// SetLanes makes hashLanes run the vector code named (one of LaneCodes, or
// "" for none) for a test, and returns a function that restores the
// previous setting. It reports whether the code is available on this
// machine: when it is not, nothing changes.
func SetLanes(name string) (available bool, restore func()) {
	code, ok := map[string]laneCode{"": lanesNone, "avx2": lanesAVX2, "avx512": lanesAVX512}[name]
	if !ok {
		panic("index.SetLanes: no vector code " + name)
	}
	was := useLanes
	available = laneCodeAvailable(code)
	if available {
		useLanes = code
	}
	return available, func() { useLanes = was }
}

// SetProbe turns Find's vector code on or off for a test, and returns a
// function that restores the previous setting. It reports whether the code
// is available on this machine: turning on what is not there does nothing.
func SetProbe(on bool) (available bool, restore func()) {
	was := useProbe
	available = probeCodeAvailable()
	useProbe = on && available
	return available, func() { useProbe = was }
}

// SetHashFirst makes Has and Find of every file with a filter hash first
// (locateHashFirst), or of none, for a test, and returns a function that
// restores the previous setting.
func SetHashFirst(on bool) (restore func()) {
	was := hashFirstBlocks
	hashFirstBlocks = ^uint64(0)
	if on {
		hashFirstBlocks = 1
	}
	return func() { hashFirstBlocks = was }
}

// Probe is probe, for the tests of package index_test, on a bucket section
// that must hold blocks × perBlock buckets.
func Probe(k0, k1 uint64, key, buckets []byte, blocks, perBlock uint64) (h, b1, b2, cand uint64) {
	if blocks*perBlock == 0 || uint64(len(buckets)) < blocks*perBlock*BucketSize {
		panic("index.Probe: the bucket section is too short")
	}
	return probe(k0, k1, key, &buckets[0], blocks, perBlock)
}

// MayHave is mayHave, for the tests of package index_test.
func (v *View) MayHave(key []byte) bool { return v.mayHave(key) }
