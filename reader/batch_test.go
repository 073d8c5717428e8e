package reader_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stru-index/stru/reader"
)

// TestContainsBatch checks that ContainsBatch and ContainsStrings answer
// exactly as Contains does, for batch lengths around the group size, on a
// random mix of members, non-members and near misses.
func TestContainsBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var members []string
	for i := range 30_000 {
		members = append(members, fmt.Sprintf("%x-%d", rng.Uint64()>>rng.UintN(64), i))
	}
	members = append(members, "")
	path := filepath.Join(t.TempDir(), "set.stru")
	publish(t, path, members)
	r, err := reader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, n := range []int{0, 1, 15, 16, 17, 63, 64, 65, 1000, 4099} {
		t.Run(fmt.Sprintf("len=%d", n), func(t *testing.T) {
			keys := make([][]byte, n)
			strs := make([]string, n)
			for i := range keys {
				k := members[rng.IntN(len(members))]
				switch rng.IntN(3) {
				case 1:
					k += "x" // a near miss
				case 2:
					k = fmt.Sprint(rng.Uint64()) // a miss
				}
				keys[i], strs[i] = []byte(k), k
			}
			out := make([]bool, n)
			outS := make([]bool, n+3) // longer than needed is fine
			r.ContainsBatch(keys, out)
			r.ContainsStrings(strs, outS)
			for i, k := range keys {
				want := r.Contains(k)
				if out[i] != want || outS[i] != want {
					t.Fatalf("key %d %q: ContainsBatch %v, ContainsStrings %v, Contains %v", i, k, out[i], outS[i], want)
				}
			}
		})
	}
	keys := [][]byte{[]byte(members[0]), []byte("absent")}
	out := make([]bool, 2)
	if allocs := testing.AllocsPerRun(100, func() { r.ContainsBatch(keys, out) }); allocs != 0 {
		t.Errorf("ContainsBatch allocates %v times per call, want 0", allocs)
	}
	if !out[0] || out[1] {
		t.Fatalf("ContainsBatch = %v, want [true false]", out)
	}
	r.Close()
	out[0] = true
	r.ContainsBatch(keys, out)
	if out[0] || out[1] {
		t.Fatalf("ContainsBatch after Close = %v, want all false", out)
	}
}
