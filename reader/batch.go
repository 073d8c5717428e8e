package reader

import (
	"runtime"
	"unsafe"
)

// ContainsBatch sets out[i] to Contains(keys[i]) for every i below
// len(keys); out must be at least as long as keys (a shorter out panics,
// as slicing it to len(keys) does). It interleaves the
// memory accesses of groups of keys so that their cache misses overlap:
// on sets much larger than the processor's caches it answers several times
// more keys per second than a loop of Contains calls. It does not allocate.
func (r *Reader) ContainsBatch(keys [][]byte, out []bool) {
	out = out[:len(keys)]
	if r.closed.Load() {
		clear(out)
		return
	}
	r.view.FindBatch(keys, out)
	if r.closed.Load() { // see above Reader.Close
		clear(out)
	}
	runtime.KeepAlive(r) // keep the mapping until here (see Reader)
}

// ContainsStrings is ContainsBatch for string keys.
func (r *Reader) ContainsStrings(keys []string, out []bool) {
	out = out[:len(keys)]
	var group [64][]byte
	for len(keys) > 0 {
		n := min(len(keys), len(group))
		for i, k := range keys[:n] {
			group[i] = unsafe.Slice(unsafe.StringData(k), len(k))
		}
		r.ContainsBatch(group[:n], out[:n])
		keys, out = keys[n:], out[n:]
	}
}
