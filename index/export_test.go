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
