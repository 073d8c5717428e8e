package main

// End-to-end tests of idxbuild --pebble: the test process writes real
// Pebble databases, and the idxbuild binary, another process, reads them.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stru-index/stru/cmd/internal/clitest"
	"github.com/stru-index/stru/index"
)

// openPebble opens (creating if needed) the database in dir read-write in
// the test process. The caller closes it.
func openPebble(t *testing.T, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{io.Discard}})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// pebbleSet writes keys to db.
func pebbleSet(t *testing.T, db *pebble.DB, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := db.Set([]byte(k), []byte("v"), pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
}

// pebbleKeys returns the keys of the database in dir, opened read-write
// in the test process: it fails the test if the database cannot be opened.
func pebbleKeys(t *testing.T, dir string) []string {
	t.Helper()
	db := openPebble(t, dir)
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for ok := it.First(); ok; ok = it.Next() {
		keys = append(keys, string(it.Key()))
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// testKeys are n keys, some with the prefix "user/", in no order.
func testKeys(n int) []string {
	keys := make([]string, 0, n)
	for i := range n {
		switch i % 3 {
		case 0:
			keys = append(keys, fmt.Sprintf("user/%05d", i*7919%n))
		case 1:
			keys = append(keys, fmt.Sprintf("item/%05d", i))
		default:
			keys = append(keys, fmt.Sprintf("%d", i*31))
		}
	}
	return keys
}

// makePebble creates a database in dir holding keys, some flushed to
// sstables and some only in the write-ahead log, with a few deleted, and
// closes it. It returns the keys it holds, sorted.
func makePebble(t *testing.T, dir string, keys []string) []string {
	t.Helper()
	db := openPebble(t, dir)
	pebbleSet(t, db, keys[:len(keys)/2]...)
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	pebbleSet(t, db, keys[len(keys)/2:]...)
	deleted := keys[:10]
	for _, k := range deleted {
		if err := db.Delete([]byte(k), pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return set(keys[10:]...)
}

// dirHashes returns the SHA-256 of each file in dir, by name.
func dirHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		hashes[e.Name()] = fmt.Sprintf("%x", sha256.Sum256(data))
	}
	return hashes
}

// TestPebbleOpenElsewhere runs idxbuild on a database that the test
// process has open: a one-line error and exit status 1, no OUT, and the
// database goes on working, and holds every key once closed.
func TestPebbleOpenElsewhere(t *testing.T) {
	dir := t.TempDir()
	dbDir, out := filepath.Join(dir, "db"), filepath.Join(dir, "out.stru")
	keys := testKeys(3000)
	db := openPebble(t, dbDir)
	pebbleSet(t, db, keys[:1000]...)
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	pebbleSet(t, db, keys[1000:2000]...)

	res := clitest.Run(t, nil, idxbuild, "--pebble", dbDir, "-o", out)
	if res.Code != exitFail {
		t.Errorf("exit status %d, want %d", res.Code, exitFail)
	}
	line := clitest.OneLineError(t, res.Stderr, "idxbuild: ")
	if want := dbDir + " is in use by another process"; !strings.Contains(line, want) {
		t.Errorf("error %q does not say %q", line, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s: %v, want it not to exist", out, err)
	}

	// The database is undisturbed: it takes more writes, closes, and
	// holds every key.
	pebbleSet(t, db, keys[2000:]...)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	want := set(keys...)
	if got := pebbleKeys(t, dbDir); !slices.Equal(got, want) {
		t.Fatalf("the database holds %d keys after idxbuild, want %d", len(got), len(want))
	}

	// Closed, it can be indexed.
	res = clitest.Run(t, nil, idxbuild, "-q", "--pebble", dbDir, "-o", out)
	if res.Code != exitOK {
		t.Fatalf("idxbuild on the closed database: exit status %d: %s", res.Code, res.Stderr)
	}
	if got := readIndex(t, out); !slices.Equal(got, want) {
		t.Errorf("index of %d keys, want %d", len(got), len(want))
	}
}

// TestPebbleCheckpoint indexes a checkpoint of a database that the test
// process keeps open and writes to.
func TestPebbleCheckpoint(t *testing.T) {
	dir := t.TempDir()
	dbDir, ckDir, out := filepath.Join(dir, "db"), filepath.Join(dir, "checkpoint"), filepath.Join(dir, "out.stru")
	keys := testKeys(3000)
	db := openPebble(t, dbDir)
	defer db.Close()
	pebbleSet(t, db, keys[:1000]...)
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	pebbleSet(t, db, keys[1000:2000]...)
	if err := db.Delete([]byte(keys[0]), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if err := db.Checkpoint(ckDir, pebble.WithFlushedWAL()); err != nil {
		t.Fatal(err)
	}
	pebbleSet(t, db, keys[2000:]...)
	pebbleSet(t, db, keys[0])

	res := clitest.Run(t, nil, idxbuild, "--pebble", ckDir, "-o", out)
	if res.Code != exitOK {
		t.Fatalf("exit status %d: %s", res.Code, res.Stderr)
	}
	want := set(keys[1:2000]...)
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if n, dups, size, _ := parseSummary(t, res.Stderr, out); n != int64(len(want)) || dups != 0 || size != fi.Size() {
		t.Errorf("summary says %d keys, %d duplicates, %d bytes; want %d, 0, %d", n, dups, size, len(want), fi.Size())
	}
	if got := readIndex(t, out); !slices.Equal(got, want) {
		t.Errorf("index of %d keys, want the %d keys of the checkpoint", len(got), len(want))
	}
}

// TestPebbleOptions indexes a closed database with each choice of keys,
// and checks that the database's files are unchanged.
func TestPebbleOptions(t *testing.T) {
	dir := t.TempDir()
	dbDir := filepath.Join(dir, "db")
	all := makePebble(t, dbDir, testKeys(3000))
	before := dirHashes(t, dbDir)
	// filter selects the keys expected for the flags, by plain string
	// comparison.
	filter := func(keep func(string) bool, strip string) []string {
		var want []string
		for _, k := range all {
			if keep(k) {
				want = append(want, strings.TrimPrefix(k, strip))
			}
		}
		return want
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"all", nil, all},
		{"prefix", []string{"--prefix", "user/"},
			filter(func(k string) bool { return strings.HasPrefix(k, "user/") }, "")},
		{"prefix stripped", []string{"--prefix", "user/", "--strip-prefix"},
			filter(func(k string) bool { return strings.HasPrefix(k, "user/") }, "user/")},
		{"bounds", []string{"--lower", "2", "--upper", "item/01"},
			filter(func(k string) bool { return k >= "2" && k < "item/01" }, "")},
		{"lower", []string{"--lower", "user/01"},
			filter(func(k string) bool { return k >= "user/01" }, "")},
		{"upper", []string{"--upper", "5"},
			filter(func(k string) bool { return k < "5" }, "")},
		{"prefix and bounds", []string{"--prefix", "user/", "--strip-prefix", "--lower", "user/005", "--upper", "user/01"},
			filter(func(k string) bool { return k >= "user/005" && k < "user/01" }, "user/")},
		{"nothing", []string{"--prefix", "none/"}, nil},
		// --lower K --upper K selects nothing, not even K (a key of the
		// database), and is not a usage error.
		{"nothing between equal bounds", []string{"--lower", "item/00001", "--upper", "item/00001"}, nil},
		// An empty prefix, as from an unset shell variable in
		// --prefix "$P" --strip-prefix, selects and strips nothing.
		{"empty prefix stripped", []string{"--prefix", "", "--strip-prefix"}, all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".stru")
			res := clitest.Run(t, nil, idxbuild, append(append([]string{"-q", "--pebble", dbDir}, tc.args...), "-o", out)...)
			if res.Code != exitOK || res.Stderr != "" {
				t.Fatalf("exit status %d, stderr %q", res.Code, res.Stderr)
			}
			if len(tc.want) < 10 && !strings.HasPrefix(tc.name, "nothing") {
				t.Fatalf("only %d keys expected: the test's keys do not fit its flags", len(tc.want))
			}
			if got := readIndex(t, out); !slices.Equal(got, tc.want) {
				t.Errorf("index of %d keys, want %d", len(got), len(tc.want))
			}
		})
	}
	if after := dirHashes(t, dbDir); !maps.Equal(before, after) {
		t.Errorf("idxbuild changed the database's files:\nbefore %v\nafter  %v", before, after)
	}
}

// TestPebbleErrors checks the command lines that cannot work and the
// directories that hold no database.
func TestPebbleErrors(t *testing.T) {
	dir := t.TempDir()
	dbDir := filepath.Join(dir, "db")
	makePebble(t, dbDir, testKeys(100))
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	longDB := filepath.Join(dir, "long")
	db := openPebble(t, longDB)
	pebbleSet(t, db, "a", "b"+strings.Repeat("x", index.MaxKeyLen), "c")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.stru")
	tests := []struct {
		name string
		args []string
		code int
		want string // in the one-line error
	}{
		{"prefix without pebble", []string{"--prefix", "a", "-o", out}, exitUsage, "need --pebble DIR"},
		{"empty prefix without pebble", []string{"--prefix", "", "-o", out}, exitUsage, "need --pebble DIR"},
		{"strip without pebble", []string{"--strip-prefix", "-o", out}, exitUsage, "need --pebble DIR"},
		{"lower without pebble", []string{"--lower", "a", "-o", out}, exitUsage, "need --pebble DIR"},
		{"upper without pebble", []string{"--upper", "a", "-o", out}, exitUsage, "need --pebble DIR"},
		{"files with pebble", []string{"--pebble", dbDir, "-o", out, "keys.txt"}, exitUsage, `no FILE may be given (got "keys.txt")`},
		{"-0 with pebble", []string{"-0", "--pebble", dbDir, "-o", out}, exitUsage, "-0 is for key lists"},
		{"strip without prefix", []string{"--pebble", dbDir, "--strip-prefix", "-o", out}, exitUsage, "--strip-prefix needs --prefix"},
		{"lower above upper", []string{"--pebble", dbDir, "--lower", "b", "--upper", "a", "-o", out}, exitUsage, `--lower "b" is above --upper "a"`},
		{"missing directory", []string{"--pebble", filepath.Join(dir, "missing"), "-o", out}, exitFail, "no such file or directory"},
		{"not a database", []string{"--pebble", empty, "-o", out}, exitFail, empty + " is not a Pebble database"},
		{"key too long", []string{"--pebble", longDB, "-o", out}, exitFail,
			fmt.Sprintf(`%s: key "b%s"... is 65536 bytes, more than the maximum of 65535`, longDB, strings.Repeat("x", 63))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := clitest.Run(t, nil, idxbuild, tc.args...)
			if res.Code != tc.code {
				t.Errorf("exit status %d, want %d", res.Code, tc.code)
			}
			if line := clitest.OneLineError(t, res.Stderr, "idxbuild: "); !strings.Contains(line, tc.want) {
				t.Errorf("error %q does not say %q", line, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s: %v, want it not to exist", out, err)
			}
		})
	}
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("the empty directory now holds %v (%v)", entries, err)
	}
}

// TestPebbleDamaged indexes a checkpoint with a damaged sstable: a
// one-line error naming the directory, exit status 1, no OUT.
func TestPebbleDamaged(t *testing.T) {
	dir := t.TempDir()
	dbDir, ckDir, out := filepath.Join(dir, "db"), filepath.Join(dir, "checkpoint"), filepath.Join(dir, "out.stru")
	db := openPebble(t, dbDir)
	defer db.Close()
	for i := range 2000 {
		if err := db.Set(fmt.Appendf(nil, "key%06d", i), []byte(strings.Repeat("v", 100)), pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Checkpoint(ckDir, pebble.WithFlushedWAL()); err != nil {
		t.Fatal(err)
	}
	tables, err := filepath.Glob(filepath.Join(ckDir, "*.sst"))
	if err != nil || len(tables) != 1 {
		t.Fatalf("checkpoint tables: %v, %v; want one", tables, err)
	}
	// The table is a hard link to the database's: write a damaged copy
	// in its place.
	data, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/4] ^= 0x55
	if err := os.Remove(tables[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tables[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := clitest.Run(t, nil, idxbuild, "--pebble", ckDir, "-o", out)
	if res.Code != exitFail {
		t.Errorf("exit status %d, want %d", res.Code, exitFail)
	}
	line := clitest.OneLineError(t, res.Stderr, "idxbuild: "+ckDir+": reading keys: ")
	if !strings.Contains(line, "checksum mismatch") {
		t.Errorf("error %q does not say checksum mismatch", line)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s: %v, want it not to exist", out, err)
	}
}

// TestPebbleCanceled runs a build whose context is canceled, as SIGINT
// does: the error wraps context.Canceled, which run turns into exit status
// 130 or 143, and OUT is left as it was, with no temporary file beside it.
func TestPebbleCanceled(t *testing.T) {
	dir := t.TempDir()
	dbDir, outDir := filepath.Join(dir, "db"), filepath.Join(dir, "out")
	makePebble(t, dbDir, testKeys(20000))
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := writeFile(t, outDir, "out.stru", "the old OUT")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := &config{out: out, quiet: true, pebble: pebbleConfig{dir: dbDir}}
	err := buildPebble(ctx, cfg, io.Discard, func() bool { return true })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("buildPebble with a canceled context: %v, want an error wrapping context.Canceled", err)
	}
	if data, err := os.ReadFile(out); err != nil || string(data) != "the old OUT" {
		t.Errorf("OUT is %q (%v), want the old OUT", data, err)
	}
	if entries, err := os.ReadDir(outDir); err != nil || len(entries) != 1 {
		t.Errorf("OUT's directory holds %v (%v), want OUT alone", entries, err)
	}
}
