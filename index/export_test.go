package index

// HashLanes is hashLanes, for the tests of package index_test.
var HashLanes = hashLanes

// SetLanes turns hashLanes's vector code on or off for a test, and returns
// a function that restores the previous setting. It reports whether the
// code is available on this machine: turning on what is not there does
// nothing.
func SetLanes(on bool) (available bool, restore func()) {
	was := useLanes
	available = laneCodeAvailable()
	useLanes = on && available
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

// Probe is probe, for the tests of package index_test, on a bucket section
// that must hold blocks × perBlock buckets.
func Probe(k0, k1 uint64, key, buckets []byte, blocks, perBlock uint64) (h, b1, b2, cand uint64) {
	if blocks*perBlock == 0 || uint64(len(buckets)) < blocks*perBlock*BucketSize {
		panic("index.Probe: the bucket section is too short")
	}
	return probe(k0, k1, key, &buckets[0], blocks, perBlock)
}
