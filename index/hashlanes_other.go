//go:build !amd64

package index

// useLanes is false: there is no vector form of the hash on this
// architecture (see hashlanes.go).
var useLanes = false

// laneCodeAvailable reports false: there is no vector code here.
func laneCodeAvailable() bool { return false }

// hashGroups hashes no keys: hashLanes hashes them all with Hash.
func hashGroups(k0, k1 uint64, keys [][]byte, hashes []uint64) int { return 0 }
