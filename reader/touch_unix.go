//go:build unix

package reader

import (
	"runtime"
	"runtime/debug"
)

// touch reads one byte of every page of data, in order, turning a memory
// fault into ErrFault.
func touch(data []byte, pageSize int) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err, "a page of the mapping")
	var sum byte
	// i stops at len(data) rather than passing it: on 32-bit systems a
	// mapping can end less than a page below math.MaxInt, where
	// i + pageSize would overflow to a negative index.
	for i := 0; i < len(data); i += min(pageSize, len(data)-i) {
		sum += data[i]
	}
	runtime.KeepAlive(sum) // so that the reads are not optimized away
	return nil
}
