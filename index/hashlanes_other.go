//go:build !amd64

package index

// useLanes is false: there is no vector form of the hash on this
// architecture (see hashlanes.go).
var useLanes = false

// laneCodeAvailable reports false: hash8 has no vector code here.
func laneCodeAvailable() bool { return false }

// hash8 sets out[i] to Hash(k0, k1, keys[i]) for each of the eight keys.
func hash8(k0, k1 uint64, keys *[lanes][]byte, out *[lanes]uint64) {
	for i, k := range keys {
		out[i] = Hash(k0, k1, k)
	}
}
