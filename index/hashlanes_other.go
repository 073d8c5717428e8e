//go:build !amd64

package index

// useLanes is lanesNone: there is no vector form of the hash on this
// architecture (see hashlanes.go).
var useLanes = lanesNone

// laneCodeAvailable reports whether code is lanesNone: there is no vector
// code here.
func laneCodeAvailable(code laneCode) bool { return code == lanesNone }

// hashGroups hashes no keys: hashLanes hashes them all with Hash.
func hashGroups(k0, k1 uint64, keys [][]byte, hashes []uint64) int { return 0 }
