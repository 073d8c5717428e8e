package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stru-index/stru/cmd/internal/clitest"
	"github.com/stru-index/stru/index"
	"github.com/stru-index/stru/reader"
)

// TestFormatLargerExample checks format.md §10.6, which tells the writer
// of an independent reader how to make a larger test file and what it
// holds: it runs the section's own commands (keygen, idxbuild with the
// section's seed, idxquery --info --json) and compares the file with the
// figures the section gives, read from format.md, and with what it says
// of the keys' ordinals.
func TestFormatLargerExample(t *testing.T) {
	doc, err := os.ReadFile("../../format.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### §10.6 ")
	if !ok {
		t.Fatal(`format.md has no "### §10.6" section`)
	}
	text := strings.Join(strings.Fields(section), " ") // the prose wraps anywhere
	find := func(what string, re *regexp.Regexp) []string {
		t.Helper()
		m := re.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("format.md §10.6: no %s (%s)", what, re)
		}
		return m[1:]
	}
	count := find("keygen command", regexp.MustCompile(`keygen -n (\d+) > k\.txt`))[0]
	seed := find("idxbuild command", regexp.MustCompile(`idxbuild --seed ([0-9a-f]{32}) -o k\.stru k\.txt`))[0]
	figures := find("figures", regexp.MustCompile(`B = (\d+) buckets in (\d+) blocks of (\d+) \(§3\), (\d+) of its keys in their second bucket, and F = (\d+) filter blocks`))
	var want [5]uint64
	for i, f := range figures {
		if want[i], err = strconv.ParseUint(f, 10, 64); err != nil {
			t.Fatalf("format.md §10.6: %q: %v", f, err)
		}
	}

	dir := t.TempDir()
	keys, stru := filepath.Join(dir, "k.txt"), filepath.Join(dir, "k.stru")
	res := clitest.Run(t, nil, keygen, "-n", count)
	if res.Code != 0 {
		t.Fatalf("keygen -n %s: exit %d: %s", count, res.Code, res.Stderr)
	}
	keyText := res.Stdout
	if err := os.WriteFile(keys, []byte(keyText), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := clitest.Run(t, nil, idxbuild, "--seed", seed, "-o", stru, keys); res.Code != 0 {
		t.Fatalf("idxbuild: exit %d: %s", res.Code, res.Stderr)
	}
	res = clitest.Run(t, nil, idxquery, "--info", "--json", stru)
	if res.Code != 0 {
		t.Fatalf("idxquery --info --json: exit %d: %s", res.Code, res.Stderr)
	}
	var info struct {
		Keys             uint64 `json:"keys"`
		Buckets          uint64 `json:"buckets"`
		SecondBucketKeys uint64 `json:"second_bucket_keys"`
		FilterBlocks     uint64 `json:"filter_blocks"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &info); err != nil {
		t.Fatalf("idxquery --info --json: %v\n%s", err, res.Stdout)
	}
	blocks := index.Blocks(info.Buckets)
	got := [5]uint64{info.Buckets, blocks, info.Buckets / blocks, info.SecondBucketKeys, info.FilterBlocks}
	if got != want {
		t.Errorf("format.md §10.6 says B = %d buckets in %d blocks of %d, %d keys in their second bucket, F = %d filter blocks;\n"+
			"the file its commands make has %d, %d, %d, %d, %d", want[0], want[1], want[2], want[3], want[4], got[0], got[1], got[2], got[3], got[4])
	}

	// "Every line of k.txt is a key of the file; its ordinal is its rank
	// in k.txt sorted bytewise."
	lines := strings.Split(strings.TrimSuffix(keyText, "\n"), "\n")
	if n, _ := strconv.ParseUint(count, 10, 64); uint64(len(lines)) != n || info.Keys != n {
		t.Fatalf("keygen wrote %d lines and the file holds %d keys; format.md §10.6 says %s distinct keys", len(lines), info.Keys, count)
	}
	sorted := slices.Clone(lines)
	slices.Sort(sorted)
	r, err := reader.Open(stru)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, k := range sorted {
		if ord, ok := r.LookupString(k); !ok || ord != i {
			t.Fatalf("key %q: Lookup gives %d, %v; its rank in k.txt sorted is %d", k, ord, ok, i)
		}
	}
}
