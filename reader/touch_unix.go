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
	for i := 0; i < len(data); i += pageSize {
		sum += data[i]
	}
	runtime.KeepAlive(sum) // so that the reads are not optimized away
	return nil
}
