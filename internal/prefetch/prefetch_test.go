package prefetch

import (
	"testing"
	"unsafe"
)

// TestLineNeverFaults asks for lines at addresses that a load would
// fault on, nil and the last page of the address space (the kernel's on
// 64-bit systems, never mapped on 32-bit ones), and at a valid one: a
// prefetch is a hint, so none may crash the process. A Line that loaded
// from p would die here with SIGSEGV.
func TestLineNeverFaults(t *testing.T) {
	var x [64]byte
	high := ^uintptr(0) &^ 4095
	for _, p := range []unsafe.Pointer{nil, unsafe.Add(nil, high), unsafe.Pointer(&x[0])} {
		Line(p)
	}
}
