package builder

import "unsafe"

// unsafeBytes returns the bytes of s without copying. The caller must not
// modify them.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
