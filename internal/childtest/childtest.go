// Package childtest runs a test in a child process of the test binary,
// for tests that change what belongs to the whole process (a resource
// limit) or that go test's own files would disturb.
package childtest

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// env names the test a child process runs.
const env = "STRU_CHILD_TEST"

// InChild reports whether t runs in the child process. In the test's own
// process it runs the test binary again, running only t's test, with
// -test.v and without go test's log of the files a test opens
// (-test.testlogfile), and reports false, having failed t unless the
// child passed it. A test starts with
//
//	if !childtest.InChild(t) {
//		return
//	}
func InChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(env) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), env+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the test in a child process: %v\n%s", err, out)
	}
	return false
}
