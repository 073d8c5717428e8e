package prefetch

import (
	"testing"
	"unsafe"
)

// TestLineNeverFaults asks for lines at addresses that a load would
// fault on, nil and one in the kernel's half of the address space, and
// at a valid one: a prefetch is a hint, so none may crash the process.
// A Line that loaded from p would die here with SIGSEGV.
func TestLineNeverFaults(t *testing.T) {
	var x [64]byte
	high := uintptr(1) << 63
	for _, p := range []unsafe.Pointer{nil, unsafe.Add(nil, high), unsafe.Pointer(&x[0])} {
		Line(p)
	}
}
