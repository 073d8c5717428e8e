package builder

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorSaysStruOnce fails a build where an error of this package wraps
// another: the keys fit in memory, but the hash table, at load factor
// 0.05, needs partitions in temporary files, whose directory cannot be
// made. The message names the output and the cause and says "stru: " once
// (errorf), and the cause stays reachable with errors.Is.
func TestErrorSaysStruOnce(t *testing.T) {
	keys := randomKeys(newRand(t), 30000)
	gone := filepath.Join(t.TempDir(), "gone")
	b := mustNew(t, Options{HashKey: &testKey, LoadFactor: 0.05, MemoryBudget: 4 << 20, TempDir: gone})
	for i, k := range keys {
		if err := b.Add(k); err != nil {
			t.Fatalf("Add of key %d: %v: the keys must fit in memory for this test", i, err)
		}
	}
	path := filepath.Join(t.TempDir(), "set.index") // not "….stru", whose ": " would read "stru: "
	err := b.WriteFile(path)
	if err == nil {
		t.Fatal("WriteFile succeeded without its temporary directory: the table did not partition")
	}
	msg := err.Error()
	t.Log(msg)
	if n := strings.Count(msg, "stru: "); n != 1 || !strings.HasPrefix(msg, "stru: writing "+path+": ") {
		t.Errorf("message %q: want it to start with \"stru: writing %s: \" and say \"stru: \" once", msg, path)
	}
	if !strings.Contains(msg, gone) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("message %q does not name %s, or the error does not wrap fs.ErrNotExist", msg, gone)
	}
}
