package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeGenerated checks that the block of stru's README.md generated
// from the committed result file is what `go run . readme` makes of it now:
// a re-run result file, or a hand edit of the block, that was not followed
// by the command fails here.
func TestReadmeGenerated(t *testing.T) {
	root := ".."
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := renderReadme(root, readme)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readme, want) {
		t.Errorf("README.md's block generated from %s is stale: run `cd bench && go run . readme`", readmeSource)
	}
	// The block quotes the run's command and every system of its largest set.
	for _, s := range []string{"go run . -sizes", "| stru batch |", "| Go map |", "| bbolt |", "| pebble |"} {
		if !bytes.Contains(want, []byte(s)) {
			t.Errorf("the generated block lacks %q", s)
		}
	}
}

func TestReplaceBlock(t *testing.T) {
	const begin, end = "<!-- b -->", "<!-- e -->"
	tests := []struct {
		name, doc, want string
		fails           bool
	}{
		{"empty block", "x\n<!-- b -->\n<!-- e -->\ny\n", "x\n<!-- b -->\nNEW\n<!-- e -->\ny\n", false},
		{"old block", "x\n<!-- b -->\nold\nlines\n<!-- e -->\ny\n", "x\n<!-- b -->\nNEW\n<!-- e -->\ny\n", false},
		{"no begin", "x\n<!-- e -->\n", "", true},
		{"no end", "x\n<!-- b -->\nold\n", "", true},
		{"end before begin", "<!-- e -->\n<!-- b -->\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := replaceBlock([]byte(tt.doc), begin, end, []byte("NEW\n"))
			if tt.fails {
				if err == nil {
					t.Fatalf("replaceBlock succeeded: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if strings.Count(string(got), "NEW") != 1 {
				t.Error("block not written exactly once")
			}
		})
	}
}

// TestOpenAcrossSizes checks the row that judges stru's open and heap
// after open across the sizes of a dataset.
func TestOpenAcrossSizes(t *testing.T) {
	group := func(keys int, open float64, heap int64) []*result {
		return []*result{{System: "stru", Dataset: "random", Keys: keys, OpenMedian: open, HeapBytes: heap}}
	}
	tests := []struct {
		name   string
		groups [][]*result
		want   string // the verdict, or "" for no row
	}{
		{"same heap, fast opens", [][]*result{group(1e5, 20e-6, 808), group(1e7, 30e-6, 808)}, "| yes |"},
		{"heap grows with the keys", [][]*result{group(1e5, 20e-6, 808), group(1e7, 30e-6, 808+8192)}, "| **no** |"},
		{"a slow open", [][]*result{group(1e5, 20e-6, 808), group(1e7, 60e-6, 808)}, "| **no** |"},
		{"one size only", [][]*result{group(1e5, 20e-6, 808)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeOpenAcrossSizes(&b, tt.groups)
			got := b.String()
			if tt.want == "" {
				if got != "" {
					t.Errorf("wrote %q, want no row", got)
				}
				return
			}
			if !strings.HasSuffix(strings.TrimSpace(got), strings.TrimSpace(tt.want)) || strings.Count(got, "\n") != 1 {
				t.Errorf("wrote %q, want one row ending in %q", got, tt.want)
			}
		})
	}
}
