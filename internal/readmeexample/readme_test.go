package readmeexample

import (
	"encoding/json"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// between returns the text of s after the first from that follows
// after, up to the next to.
func between(t *testing.T, s, after, from, to string) string {
	t.Helper()
	i := strings.Index(s, after)
	if i < 0 {
		t.Fatalf("README.md has no %q", after)
	}
	s = s[i:]
	i = strings.Index(s, from)
	if i < 0 {
		t.Fatalf("README.md has no %q after %q", from, after)
	}
	s = s[i+len(from):]
	j := strings.Index(s, to)
	if j < 0 {
		t.Fatalf("README.md: %q after %q is not closed", from, after)
	}
	return s[:j]
}

// TestREADMEProgram takes the program under README.md's "The library",
// runs it with go run inside this module (through an overlay, so that
// nothing is written into the source tree), and compares what it prints
// with the output README.md gives below it.
func TestREADMEProgram(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	program := between(t, string(readme), "## The library", "```go\n", "```\n")
	want := between(t, string(readme), "It prints:", "```\n", "```\n")
	if formatted, err := format.Source([]byte(program)); err != nil || string(formatted) != program {
		t.Errorf("README.md's program is not as gofmt formats it (%v); gofmt gives:\n%s", err, formatted)
	}

	tmp := t.TempDir()
	source := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(source, []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(root, "internal", "readmeexample", "program", "main.go"): source},
	})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	files := filepath.Join(tmp, "files") // the program's os.TempDir, where it writes seen.stru
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "-overlay", overlayFile, "./internal/readmeexample/program")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TMPDIR="+files, "TMP="+files, "TEMP="+files) // Unix; Windows
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run of README.md's program: %v\n%s", err, stderr.String())
	}
	if string(out) != want {
		t.Errorf("README.md's program printed\n%s\nREADME.md says it prints\n%s", out, want)
	}
	if left, _ := os.ReadDir(files); len(left) != 0 {
		t.Errorf("the program left files in its temporary directory: %v", left)
	}
}
