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
