//go:build !unix

package main

import "errors"

// mkfifo makes a named pipe at path, where the system has them.
func mkfifo(path string) error { return errors.ErrUnsupported }
