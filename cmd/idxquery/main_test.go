package main

// End-to-end tests: TestMain builds the real idxbuild and idxquery
// binaries and an index of testdata/words.txt with idxbuild; each test runs
// idxquery on real files.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
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

// Paths of the binaries under test, and of the index of words.txt.
var idxbuild, idxquery, wordsIndex string

const wordsFile = "../../testdata/words.txt"

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := clitest.Build("github.com/stru-index/stru/cmd/idxbuild", "github.com/stru-index/stru/cmd/idxquery")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	idxbuild, idxquery = filepath.Join(dir, "idxbuild"), filepath.Join(dir, "idxquery")
	wordsIndex = filepath.Join(dir, "words.stru")
	if out, err := exec.Command(idxbuild, "-q", "-o", wordsIndex, wordsFile).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "idxbuild: %v\n%s", err, out)
		return 2
	}
	return m.Run()
}

// words returns the lines of testdata/words.txt, in file order.
func words(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(wordsFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// nonWords returns keys that are not words: each word with a suffix that
// no word in the list has.
func nonWords(t *testing.T) []string {
	var keys []string
	for _, w := range words(t) {
		keys = append(keys, w+"\x01zq")
	}
	return keys
}

// lines joins keys, each followed by term.
func lines(keys []string, term string) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + term)
	}
	return b.String()
}

// runQuery runs idxquery with stdin and args and checks that nothing went to
// standard error.
func runQuery(t *testing.T, stdin string, args ...string) clitest.Result {
	t.Helper()
	res := clitest.Run(t, strings.NewReader(stdin), idxquery, args...)
	if res.Stderr != "" {
		t.Errorf("idxquery %q: stderr:\n%s", args, res.Stderr)
	}
	return res
}

// copyIndex copies the words index into a new temporary file.
func copyIndex(t *testing.T) (path string, data []byte) {
	t.Helper()
	data, err := os.ReadFile(wordsIndex)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "copy.stru")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestKeyArguments(t *testing.T) {
	tests := []struct {
		name     string
		keys     []string
		flags    []string
		want     string
		wantCode int
	}{
		{name: "all present", keys: []string{"apple", "zoo", "A"}, want: "present\tapple\npresent\tzoo\npresent\tA\n"},
		{name: "one absent", keys: []string{"apple", "applx", "zoo"}, want: "present\tapple\nabsent\tapplx\npresent\tzoo\n", wantCode: 1},
		{name: "all absent", keys: []string{"Appl", "apple "}, want: "absent\tAppl\nabsent\tapple \n", wantCode: 1},
		{name: "keys that look like flags", keys: []string{"-x", "--info", "-"}, want: "absent\t-x\nabsent\t--info\nabsent\t-\n", wantCode: 1},
		{name: "empty key", keys: []string{""}, want: "absent\t\n", wantCode: 1},
		{name: "UTF-8 word", keys: []string{"appliqué"}, want: "present\tappliqué\n"},
		{name: "--present", flags: []string{"--present"}, keys: []string{"apple", "applx", "zoo"}, want: "apple\nzoo\n", wantCode: 1},
		{name: "--absent", flags: []string{"--absent"}, keys: []string{"apple", "applx", "zoo"}, want: "applx\n", wantCode: 1},
		{name: "--absent all present", flags: []string{"--absent"}, keys: []string{"apple"}, want: ""},
		{name: "-0 output", flags: []string{"-0"}, keys: []string{"apple", "applx"}, want: "present\tapple\x00absent\tapplx\x00", wantCode: 1},
		{name: "--preload", flags: []string{"--preload"}, keys: []string{"apple", "applx", "zoo"}, want: "present\tapple\nabsent\tapplx\npresent\tzoo\n", wantCode: 1},
		{name: "longest key allowed", flags: []string{"--present"}, keys: []string{"apple", strings.Repeat("k", index.MaxKeyLen)}, want: "apple\n", wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append(slices.Clone(tt.flags), wordsIndex), tt.keys...)
			res := runQuery(t, "", args...)
			if res.Stdout != tt.want || res.Code != tt.wantCode {
				t.Errorf("got exit %d, output:\n%q\nwant exit %d, output:\n%q", res.Code, res.Stdout, tt.wantCode, tt.want)
			}
		})
	}
}

// TestStream checks keys read from standard input: every word and as many
// non-words, in each output mode and input format.
func TestStream(t *testing.T) {
	w, nw := words(t), nonWords(t)
	mixed := slices.Concat(w[:5000], nw[:5000], w[5000:], nw[5000:])
	var answers []string
	for _, k := range mixed {
		if strings.HasSuffix(k, "\x01zq") {
			answers = append(answers, "absent\t"+k)
		} else {
			answers = append(answers, "present\t"+k)
		}
	}
	tests := []struct {
		name     string
		stdin    string
		flags    []string
		want     string
		wantCode int
	}{
		{name: "all words", stdin: lines(w, "\n"), want: lines(w, "\n") /* with --present */, flags: []string{"--present"}},
		{name: "all words, --absent prints nothing", stdin: lines(w, "\n"), flags: []string{"--absent"}, want: ""},
		{name: "mixed", stdin: lines(mixed, "\n"), want: lines(answers, "\n"), wantCode: 1},
		{name: "mixed --present", stdin: lines(mixed, "\n"), flags: []string{"--present"}, want: lines(w, "\n"), wantCode: 1},
		{name: "mixed --absent", stdin: lines(mixed, "\n"), flags: []string{"--absent"}, want: lines(nw, "\n"), wantCode: 1},
		{name: "CRLF", stdin: lines(mixed, "\r\n"), want: lines(answers, "\n"), wantCode: 1},
		{name: "unterminated last line", stdin: "apple\nzoo", want: "present\tapple\npresent\tzoo\n"},
		{name: "empty line is the empty key", stdin: "apple\n\n", want: "present\tapple\nabsent\t\n", wantCode: 1},
		{name: "embedded CR is kept", stdin: "apple\r\r\nap\rple\n", want: "absent\tapple\r\nabsent\tap\rple\n", wantCode: 1},
		{name: "no input", stdin: "", want: ""},
		{name: "-0", flags: []string{"-0"}, stdin: lines(mixed, "\x00"), want: lines(answers, "\x00"), wantCode: 1},
		{name: "-0 --absent", flags: []string{"-0", "--absent"}, stdin: "apple\x00apple\r\x00app\nle\x00zoo", want: "apple\r\x00app\nle\x00", wantCode: 1},
		{name: "mixed --preload", stdin: lines(mixed, "\n"), flags: []string{"--preload"}, want: lines(answers, "\n"), wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runQuery(t, tt.stdin, append(tt.flags, wordsIndex)...)
			if res.Code != tt.wantCode {
				t.Errorf("exit %d, want %d", res.Code, tt.wantCode)
			}
			if res.Stdout != tt.want {
				got, want := strings.Split(res.Stdout, "\n"), strings.Split(tt.want, "\n")
				i := 0
				for i < min(len(got), len(want)) && got[i] == want[i] {
					i++
				}
				t.Errorf("output has %d lines, want %d; first difference at line %d", len(got), len(want), i+1)
			}
		})
	}
}

// TestErrors checks that problems with the file or the command line exit
// 2 with one line on standard error and no output.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	truncated := filepath.Join(dir, "truncated.stru")
	_, data := copyIndex(t)
	os.WriteFile(truncated, data[:len(data)-64], 0o644)
	badHeader := filepath.Join(dir, "bad-header.stru")
	bad := slices.Clone(data)
	bad[24] ^= 1 // the key count
	os.WriteFile(badHeader, bad, 0o644)
	// The version field: a newer version and the previous one, with the
	// header checksum left stale (the version is checked first) or
	// recomputed.
	newer := filepath.Join(dir, "newer.stru")
	bad = slices.Clone(data)
	binary.LittleEndian.PutUint16(bad[4:], index.Version+1)
	os.WriteFile(newer, bad, 0o644)
	version1 := filepath.Join(dir, "version1.stru")
	bad = slices.Clone(data)
	binary.LittleEndian.PutUint16(bad[4:], 1)
	os.WriteFile(version1, bad, 0o644)
	version1Sealed := filepath.Join(dir, "version1-sealed.stru")
	binary.LittleEndian.PutUint32(bad[index.HeaderSize-4:], index.Checksum(bad[:index.HeaderSize-4]))
	os.WriteFile(version1Sealed, bad, 0o644)

	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"missing file", []string{filepath.Join(dir, "nonexistent"), "apple"}, "no such file"},
		// The magic is the first field (format.md §2): the error is at offset 0.
		{"not a STRU file", []string{wordsFile, "apple"}, "not a STRU index file: header at offset 0x0: "},
		{"empty file", []string{"--info", empty}, "not a STRU index file: header at offset 0x0: "},
		{"directory", []string{"--list", dir}, "not a regular file"},
		{"truncated", []string{truncated, "apple"}, "corrupt STRU file"},
		{"damaged header", []string{badHeader, "apple"}, "corrupt STRU file"},
		{"KEY too long", []string{wordsIndex, "apple", strings.Repeat("k", index.MaxKeyLen+1)}, fmt.Sprintf("KEY 2 is %d bytes long, more than the maximum of %d", index.MaxKeyLen+1, index.MaxKeyLen)},
		{"newer version", []string{newer, "apple"}, fmt.Sprintf("unsupported STRU file: header at offset 0x4: format version %d ", index.Version+1)},
		{"version 1", []string{version1, "apple"}, "unsupported STRU file: header at offset 0x4: format version 1 "},
		{"version 1, header checksum recomputed", []string{"--info", version1Sealed}, "unsupported STRU file: header at offset 0x4: format version 1 "},
		{"version 1 --verify", []string{"--verify", version1Sealed}, "unsupported STRU file"},
		{"not a STRU file --verify", []string{"--verify", wordsFile}, "not a STRU index file"},
		{"missing FILE", []string{}, "missing FILE"},
		{"unknown flag", []string{"--bogus", wordsIndex}, "-bogus"},
		{"--present and --absent", []string{"--present", "--absent", wordsIndex}, "--present and --absent"},
		{"--json without --info", []string{"--json", wordsIndex}, "--json requires --info"},
		{"--prefix without --list", []string{"--prefix", "a", wordsIndex}, "--prefix requires --list"},
		{"--info and --list", []string{"--info", "--list", wordsIndex}, "cannot be used together"},
		{"--absent with --info", []string{"--absent", "--info", wordsIndex}, "--info"},
		{"--info with two files", []string{"--info", wordsIndex, wordsIndex}, "one FILE"},
		{"--json after FILE", []string{"--info", wordsIndex, "--json"}, "flag --json after the first FILE"},
		{"--prefix after FILE", []string{"--list", wordsIndex, "--prefix", "a"}, "flag --prefix after the first FILE"},
		{"-h after FILE of --verify", []string{"--verify", wordsIndex, "-h"}, "flag -h after the first FILE"},
		{"-0 with --verify", []string{"-0", "--verify", wordsIndex}, "-0"},
		{"--preload with --list", []string{"--preload", "--list", wordsIndex}, "--preload applies to queries, not to --list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := clitest.Run(t, strings.NewReader("apple\n"), idxquery, tt.args...)
			if res.Code != 2 || res.Stdout != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", res.Code, res.Stdout)
			}
			line := clitest.OneLineError(t, res.Stderr, "idxquery: ")
			if !strings.Contains(line, tt.wantMsg) {
				t.Errorf("error %q does not contain %q", line, tt.wantMsg)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, flag := range []string{"-h", "--help"} {
		res := runQuery(t, "", flag)
		if res.Code != 0 || !strings.HasPrefix(res.Stdout, "usage: idxquery") {
			t.Errorf("%s: exit %d, stdout %.40q; want the usage and exit 0", flag, res.Code, res.Stdout)
		}
	}
}

// infoFields are the documented fields of --info --json.
var infoFields = []string{
	"file", "version", "keys", "file_size", "key_bytes", "buckets", "load_factor", "longest_probe",
	"second_bucket_keys", "longest_key", "offset_width", "length_width", "hash_key_fingerprint", "filter_blocks", "filter_bits_per_key", "sections",
}

// sectionNames are the members of the sections field, in file order.
var sectionNames = []string{"header", "buckets", "offsets", "lengths", "keys", "filter"}

// TestInfoFieldsDocumented checks that the usage text and README.md's
// idxquery section name every field of --info --json and every member of
// its sections, so that neither falls behind the output when a format
// version adds to it.
func TestInfoFieldsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## idxquery\n")
	section, _, _ = strings.Cut(section, "\n## ")
	if section == "" {
		t.Fatal(`README.md has no "## idxquery" section`)
	}
	_, jsonHelp, _ := strings.Cut(usage, "--json ")
	jsonHelp, _, _ = strings.Cut(jsonHelp, "--verify ")
	docs := []struct{ name, text string }{
		{"the usage text's --json", jsonHelp},
		{"README.md's idxquery section", section},
	}
	// A name counts only as a whole word, so that "keys" is not found in
	// "second_bucket_keys".
	word := func(text, name string) bool {
		return regexp.MustCompile(`(^|[^a-z_])` + regexp.QuoteMeta(name) + `($|[^a-z_])`).MatchString(text)
	}
	for _, d := range docs {
		for _, name := range append(slices.Clone(infoFields), sectionNames...) {
			if !word(d.text, name) {
				t.Errorf("%s does not name %q", d.name, name)
			}
		}
	}
}

// infoJSON holds the output of --info --json.
type infoJSON struct {
	File             string  `json:"file"`
	Version          int     `json:"version"`
	Keys             uint64  `json:"keys"`
	FileSize         uint64  `json:"file_size"`
	KeyBytes         uint64  `json:"key_bytes"`
	Buckets          uint64  `json:"buckets"`
	LoadFactor       float64 `json:"load_factor"`
	LongestProbe     int     `json:"longest_probe"`
	SecondBucketKeys uint64  `json:"second_bucket_keys"`
	LongestKey       int     `json:"longest_key"`
	OffsetWidth      int     `json:"offset_width"`
	LengthWidth      int     `json:"length_width"`
	Fingerprint      string  `json:"hash_key_fingerprint"`
	FilterBlocks     uint64  `json:"filter_blocks"`
	FilterBitsPerKey float64 `json:"filter_bits_per_key"`
	Sections         map[string]struct {
		Offset  uint64 `json:"offset"`
		Size    uint64 `json:"size"`
		Padding uint64 `json:"padding"`
	} `json:"sections"`
}

// parseInfo checks that out is one JSON object with exactly the documented
// fields and decodes it.
func parseInfo(t *testing.T, out string) infoJSON {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatalf("--info --json output is not a JSON object: %v\n%s", err, out)
	}
	names := slices.Sorted(maps.Keys(fields))
	if want := slices.Sorted(slices.Values(infoFields)); !slices.Equal(names, want) {
		t.Fatalf("--info --json fields are %q, want %q", names, want)
	}
	var sections map[string]map[string]json.RawMessage
	if err := json.Unmarshal(fields["sections"], &sections); err != nil {
		t.Fatalf("sections: %v", err)
	}
	if names := slices.Sorted(maps.Keys(sections)); !slices.Equal(names, slices.Sorted(slices.Values(sectionNames))) {
		t.Fatalf("sections are %q, want %q", names, sectionNames)
	}
	for name, s := range sections {
		if got := slices.Sorted(maps.Keys(s)); !slices.Equal(got, []string{"offset", "padding", "size"}) {
			t.Fatalf("section %s has fields %q, want offset, size, padding", name, got)
		}
	}
	var info infoJSON
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("--info --json: %v", err)
	}
	return info
}

// keyStats returns the total bytes and the length of the longest of keys.
func keyStats(keys []string) (keyBytes, longest int) {
	for _, k := range keys {
		keyBytes, longest = keyBytes+len(k), max(longest, len(k))
	}
	return keyBytes, longest
}

// buildIndex builds an index of keys with idxbuild and the given flags.
func buildIndex(t *testing.T, keys []string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "keys.txt"), filepath.Join(dir, "keys.stru")
	if err := os.WriteFile(in, []byte(lines(keys, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	res := clitest.Run(t, nil, idxbuild, append(flags, "-q", "-o", out, in)...)
	if res.Code != 0 {
		t.Fatalf("idxbuild: exit %d:\n%s", res.Code, res.Stderr)
	}
	return out
}

// TestInfo checks --info --json against the file and the word list, and
// that the text form shows the same figures.
func TestInfo(t *testing.T) {
	w := words(t)
	tests := []struct {
		name          string
		path          string
		keys          []string
		wantProbe     int
		wantLoadRange [2]float64
		filterBits    int // idxbuild's --filter-bits
	}{
		{"words", wordsIndex, w, 2, [2]float64{0.79, 0.8}, 6},
		{"words at 0.05", buildIndex(t, w[:1000], "--load-factor", "0.05"), w[:1000], 1, [2]float64{0.045, 0.05}, 6},
		{"words, no filter", buildIndex(t, w[:1000], "--filter-bits", "0"), w[:1000], 2, [2]float64{0.79, 0.8}, 0},
		{"words, 16 filter bits", buildIndex(t, w[:1000], "--filter-bits", "16"), w[:1000], 2, [2]float64{0.79, 0.8}, 16},
		{"words, filter bits 010 (decimal)", buildIndex(t, w[:1000], "--filter-bits", "010"), w[:1000], 2, [2]float64{0.79, 0.8}, 10},
		{"empty set", buildIndex(t, nil), nil, 1, [2]float64{0, 0}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := reader.Open(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			hk := r.Header().HashKey
			r.Close()

			res := runQuery(t, "", "--info", "--json", tt.path)
			if res.Code != 0 {
				t.Fatalf("--info --json: exit %d", res.Code)
			}
			info := parseInfo(t, res.Stdout)
			keyBytes, longest := keyStats(tt.keys)
			if info.File != tt.path || info.Version != index.Version {
				t.Errorf("file %q version %d, want %q %d", info.File, info.Version, tt.path, index.Version)
			}
			if info.Keys != uint64(len(tt.keys)) || info.KeyBytes != uint64(keyBytes) || info.LongestKey != longest {
				t.Errorf("keys %d, key bytes %d, longest key %d; want %d, %d, %d",
					info.Keys, info.KeyBytes, info.LongestKey, len(tt.keys), keyBytes, longest)
			}
			if info.FileSize != uint64(fi.Size()) {
				t.Errorf("file_size %d, the file is %d bytes", info.FileSize, fi.Size())
			}
			if lf := info.LoadFactor; lf < tt.wantLoadRange[0] || lf > tt.wantLoadRange[1] ||
				lf != float64(info.Keys)/float64(info.Buckets*index.BucketSlots) {
				t.Errorf("load_factor %v with %d keys in %d buckets, want it in %v", lf, info.Keys, info.Buckets, tt.wantLoadRange)
			}
			if info.LongestProbe != tt.wantProbe || (info.SecondBucketKeys > 0) != (tt.wantProbe == 2) {
				t.Errorf("longest_probe %d with %d keys in their second bucket, want %d", info.LongestProbe, info.SecondBucketKeys, tt.wantProbe)
			}
			if info.OffsetWidth != 4 || info.LengthWidth != 1 {
				t.Errorf("offset_width %d, length_width %d; want 4, 1", info.OffsetWidth, info.LengthWidth)
			}
			if info.Fingerprint != hk.Fingerprint() {
				t.Errorf("hash_key_fingerprint %q, want %q", info.Fingerprint, hk.Fingerprint())
			}
			// Sections: in order, contiguous, aligned, covering the file.
			var next uint64
			for _, name := range sectionNames {
				s := info.Sections[name]
				if s.Offset != next || s.Offset%index.Align != 0 || s.Padding >= index.Align {
					t.Errorf("section %s at %d, size %d, padding %d; want it at %d, aligned", name, s.Offset, s.Size, s.Padding, next)
				}
				next = s.Offset + s.Size + s.Padding
			}
			// The filter: ⌈keys × bits / 512⌉ blocks of 64 bytes.
			wantBlocks := (uint64(len(tt.keys))*uint64(tt.filterBits) + 511) / 512
			if info.FilterBlocks != wantBlocks || info.Sections["filter"].Size != 64*wantBlocks ||
				len(tt.keys) > 0 && info.FilterBitsPerKey != float64(512*wantBlocks)/float64(len(tt.keys)) {
				t.Errorf("filter_blocks %d (section %d bytes), filter_bits_per_key %v; want %d blocks at %d bits a key",
					info.FilterBlocks, info.Sections["filter"].Size, info.FilterBitsPerKey, wantBlocks, tt.filterBits)
			}
			if next != uint64(fi.Size()) || info.Sections["keys"].Size != uint64(keyBytes) ||
				info.Sections["buckets"].Size != info.Buckets*index.BucketSize {
				t.Errorf("sections end at %d, keys section %d bytes, buckets section %d bytes",
					next, info.Sections["keys"].Size, info.Sections["buckets"].Size)
			}

			// The text form shows the same figures, and neither shows the key.
			text := runQuery(t, "", "--info", tt.path)
			if text.Code != 0 {
				t.Fatalf("--info: exit %d", text.Code)
			}
			// Counts name their unit, singular for 1 only ("1 byte", "2 bytes").
			unit := func(n uint64, word string) string {
				if n != 1 {
					word += "s"
				}
				return fmt.Sprintf("%d %s", n, word)
			}
			for _, want := range []string{
				fmt.Sprintf("format version: %d\n", info.Version),
				fmt.Sprintf("keys:           %d\n", info.Keys),
				fmt.Sprintf("file size:      %d bytes\n", fi.Size()),
				fmt.Sprintf("load factor:    %.4f\n", info.LoadFactor),
				fmt.Sprintf("longest probe:  %s (%s stored in the second bucket)\n", unit(uint64(info.LongestProbe), "bucket"), unit(info.SecondBucketKeys, "key")),
				fmt.Sprintf("longest key:    %s\n", unit(uint64(info.LongestKey), "byte")),
				fmt.Sprintf("offset width:   %d bytes\n", info.OffsetWidth),
				fmt.Sprintf("length width:   %s\n", unit(uint64(info.LengthWidth), "byte")),
				"fingerprint " + hk.Fingerprint() + "\n",
			} {
				if !strings.Contains(text.Stdout, want) {
					t.Errorf("--info output lacks %q:\n%s", want, text.Stdout)
				}
			}
			secRE := regexp.MustCompile(`(?m)^\s+(header|buckets|offsets|lengths|keys|filter)\s+(\d+)\s+(\d+)\s+(\d+)$`)
			rows := secRE.FindAllStringSubmatch(text.Stdout, -1)
			if len(rows) != 6 {
				t.Fatalf("--info shows %d section rows, want 6:\n%s", len(rows), text.Stdout)
			}
			wantFilter := "filter:         none\n"
			if info.FilterBlocks > 0 {
				wantFilter = fmt.Sprintf("filter:         %s of 64 bytes, ", unit(info.FilterBlocks, "block"))
			}
			if !strings.Contains(text.Stdout, wantFilter) {
				t.Errorf("--info output lacks %q:\n%s", wantFilter, text.Stdout)
			}
			for _, row := range rows {
				s := info.Sections[row[1]]
				if row[2] != strconv.FormatUint(s.Offset, 10) || row[3] != strconv.FormatUint(s.Size, 10) || row[4] != strconv.FormatUint(s.Padding, 10) {
					t.Errorf("--info row %q disagrees with the JSON %d %d %d", row[0], s.Offset, s.Size, s.Padding)
				}
			}
			for _, out := range []string{res.Stdout, text.Stdout} {
				if strings.Contains(strings.ToLower(out), fmt.Sprintf("%x", hk[:])) {
					t.Errorf("--info shows the hash key itself")
				}
			}
		})
	}
}

// TestVerify checks --verify on the good index and on copies with one
// byte changed in each section.
func TestVerify(t *testing.T) {
	res := runQuery(t, "", "--verify", wordsIndex)
	if res.Code != 0 || res.Stdout != wordsIndex+": ok\n" {
		t.Fatalf("--verify on a good file: exit %d, output %q", res.Code, res.Stdout)
	}
	r, err := reader.Open(wordsIndex)
	if err != nil {
		t.Fatal(err)
	}
	layout := r.Layout()
	r.Close()
	for _, tt := range []struct {
		section index.Section
		at      func(e index.Extent) uint64 // the byte to change
		// reseal recomputes the section's checksum and the header's, so
		// that the damage must be found by the structural checks; want is
		// then what the error must say.
		reseal bool
		want   string
	}{
		{section: index.SectionKeys, at: func(e index.Extent) uint64 { return e.Off + e.Size/2 }},
		{section: index.SectionKeys, at: func(e index.Extent) uint64 { return e.End - 1 }}, // padding
		{section: index.SectionBuckets, at: func(e index.Extent) uint64 { return e.Off + 7 }},
		{section: index.SectionOffsets, at: func(e index.Extent) uint64 { return e.Off + e.Size - 4 }},
		{section: index.SectionLengths, at: func(e index.Extent) uint64 { return e.Off }},
		// A slot's tag, length field and offset: the slot of some key
		// is then missing from its buckets.
		{section: index.SectionBuckets, at: func(e index.Extent) uint64 { return firstUsedSlot(t, e) + 7 }, reseal: true, want: "buckets"},
		{section: index.SectionBuckets, at: func(e index.Extent) uint64 { return firstUsedSlot(t, e) + 5 }, reseal: true, want: "buckets"},
		{section: index.SectionBuckets, at: func(e index.Extent) uint64 { return firstUsedSlot(t, e) }, reseal: true, want: "buckets"},
		{section: index.SectionOffsets, at: func(e index.Extent) uint64 { return e.Off + 4 }, reseal: true, want: "offsets"},
	} {
		e := layout[tt.section]
		off := tt.at(e)
		t.Run(fmt.Sprintf("%v byte %d reseal=%v", tt.section, off-e.Off, tt.reseal), func(t *testing.T) {
			path, data := copyIndex(t)
			data[off] ^= 0x20
			want := tt.section.String()
			if tt.reseal {
				at := 72 + 4*int(tt.section-index.SectionBuckets) // the section's checksum
				binary.LittleEndian.PutUint32(data[at:], index.Checksum(data[e.Off:e.End]))
				binary.LittleEndian.PutUint32(data[index.HeaderSize-4:], index.Checksum(data[:index.HeaderSize-4]))
				want = tt.want
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			res := clitest.Run(t, nil, idxquery, "--verify", path)
			if res.Code != 1 || res.Stdout != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", res.Code, res.Stdout)
			}
			line := clitest.OneLineError(t, res.Stderr, "idxquery: "+path+": verification failed: corrupt STRU file: ")
			if !strings.Contains(line, want) {
				t.Errorf("error %q does not name the %v section", line, want)
			}
			if tt.reseal && strings.Contains(line, "checksum") {
				t.Errorf("error %q is about a checksum, which was recomputed", line)
			}

			// Queries, --info and --list on the damaged file still answer,
			// without crashing: only --verify reads every byte.
			res = clitest.Run(t, strings.NewReader(lines(words(t)[:2000], "\n")), idxquery, path)
			if res.Code != 0 && res.Code != 1 {
				t.Errorf("query on the damaged file: exit %d, stderr:\n%s", res.Code, res.Stderr)
			}
			for _, args := range [][]string{{"--info", "--json", path}, {"--list", path}, {"--list", "--prefix", "b", path}} {
				if res := clitest.Run(t, nil, idxquery, args...); res.Code != 0 || res.Stderr != "" {
					t.Errorf("%q on the damaged file: exit %d, stderr:\n%s", args, res.Code, res.Stderr)
				}
			}
		})
	}
}

// TestVerifyUnopenable checks that --verify reports damage that stops
// the file from opening as a failed verification (exit 1), like damage
// found by reading the whole file, not as an error (exit 2).
func TestVerifyUnopenable(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(data []byte) []byte
		want   string // what the error names
	}{
		{"truncated", func(d []byte) []byte { return d[:len(d)-64] }, "file at offset"},
		{"truncated into the header", func(d []byte) []byte { return d[:index.HeaderSize-1] }, "header"},
		{"key count changed", func(d []byte) []byte { d[24] ^= 1; return d }, "header at offset"},
		{"header checksum changed", func(d []byte) []byte { d[index.HeaderSize-1] ^= 1; return d }, "checksum"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, data := copyIndex(t)
			if err := os.WriteFile(path, tt.damage(data), 0o644); err != nil {
				t.Fatal(err)
			}
			res := clitest.Run(t, nil, idxquery, "--verify", path)
			if res.Code != 1 || res.Stdout != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", res.Code, res.Stdout)
			}
			line := clitest.OneLineError(t, res.Stderr, "idxquery: "+path+": verification failed: corrupt STRU file: ")
			if !strings.Contains(line, tt.want) {
				t.Errorf("error %q does not contain %q", line, tt.want)
			}
			// A query on the same file is an error, as before.
			if res := clitest.Run(t, nil, idxquery, path, "apple"); res.Code != 2 {
				t.Errorf("query: exit %d, want 2", res.Code)
			}
		})
	}
}

// firstUsedSlot returns the file offset of the first used slot in the
// buckets section e of the words index.
func firstUsedSlot(t *testing.T, e index.Extent) uint64 {
	t.Helper()
	data, err := os.ReadFile(wordsIndex)
	if err != nil {
		t.Fatal(err)
	}
	for at := e.Off; at < e.Off+e.Size; at += index.SlotSize {
		if binary.LittleEndian.Uint64(data[at:]) != 0 {
			return at
		}
	}
	t.Fatal("no used slot")
	return 0
}

func TestList(t *testing.T) {
	w := words(t)
	sorted := slices.Clone(w)
	slices.Sort(sorted) // byte order, as the index stores keys
	withPrefix := func(p string) []string {
		var keys []string
		for _, k := range sorted {
			if strings.HasPrefix(k, p) {
				keys = append(keys, k)
			}
		}
		return keys
	}
	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"all", nil, lines(sorted, "\n")},
		{"prefix appl", []string{"--prefix", "appl"}, lines(withPrefix("appl"), "\n")},
		{"prefix Z", []string{"--prefix", "Z"}, lines(withPrefix("Z"), "\n")},
		{"prefix is a whole word", []string{"--prefix", "zoo"}, lines(withPrefix("zoo"), "\n")},
		{"prefix with UTF-8", []string{"--prefix", "appliqu\xc3"}, lines(withPrefix("appliqu\xc3"), "\n")},
		{"prefix matching nothing", []string{"--prefix", "qqq"}, ""},
		{"empty prefix", []string{"--prefix", ""}, lines(sorted, "\n")},
		{"-0", []string{"-0", "--prefix", "b"}, lines(withPrefix("b"), "\x00")},
	}
	if len(withPrefix("appl")) < 2 || len(withPrefix("appliqu\xc3")) == 0 {
		t.Fatal("the word list lacks the words this test expects")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runQuery(t, "", append(append([]string{"--list"}, tt.flags...), wordsIndex)...)
			if res.Code != 0 {
				t.Errorf("exit %d", res.Code)
			}
			if res.Stdout != tt.want {
				t.Errorf("output is %d bytes, want %d:\n%.300q\nwant:\n%.300q", len(res.Stdout), len(tt.want), res.Stdout, tt.want)
			}
		})
	}
}

// TestDescribeVerifyFault checks the line of a verification that a memory
// fault stopped (the file truncated while --verify read it, which no test
// can time): it names the failure once, without the package's "stru: "
// prefix in the middle of the line.
func TestDescribeVerifyFault(t *testing.T) {
	err := &statusError{exitAbsent, fmt.Errorf("%w: verifying tr.stru at address 0x7f00", reader.ErrFault)}
	want := "verification failed: " + strings.TrimPrefix(reader.ErrFault.Error(), "stru: ") + ": verifying tr.stru at address 0x7f00"
	if got := describe(err); got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
}
