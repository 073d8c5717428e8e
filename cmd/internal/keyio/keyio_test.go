package keyio

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stru-index/stru/index"
)

func TestScanner(t *testing.T) {
	tests := []struct {
		name  string
		input string
		nul   bool
		want  []string
	}{
		{"empty input", "", false, nil},
		{"one terminated", "a\n", false, []string{"a"}},
		{"unterminated last", "a\nb", false, []string{"a", "b"}},
		{"empty line is the empty key", "a\n\nb\n", false, []string{"a", "", "b"}},
		{"lone newline", "\n", false, []string{""}},
		{"CRLF", "a\r\nb\r\n", false, []string{"a", "b"}},
		{"CR only stripped once", "a\r\r\n", false, []string{"a\r"}},
		{"embedded CR kept", "a\rb\n", false, []string{"a\rb"}},
		{"unterminated CR stripped", "a\r", false, []string{"a"}},
		{"lone CR is the empty key", "\r\n", false, []string{""}},
		{"NUL inside a line", "a\x00b\n", false, []string{"a\x00b"}},
		{"NUL mode", "a\x00b\x00", true, []string{"a", "b"}},
		{"NUL mode keeps CR and newline", "a\r\x00b\nc\x00", true, []string{"a\r", "b\nc"}},
		{"NUL mode unterminated", "a\x00b", true, []string{"a", "b"}},
		{"NUL mode empty key", "\x00\x00", true, []string{"", ""}},
		{"invalid UTF-8", "\xff\xfe\n", false, []string{"\xff\xfe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// OneByteReader makes every record span many reads.
			for _, wrap := range []func(io.Reader) io.Reader{identity, iotest.OneByteReader} {
				sc := NewScanner(wrap(strings.NewReader(tt.input)), "in", tt.nul)
				var got []string
				for sc.Scan() {
					got = append(got, string(sc.Bytes()))
					if sc.Line() != int64(len(got)) {
						t.Errorf("Line() = %d after %d keys", sc.Line(), len(got))
					}
				}
				if err := sc.Err(); err != nil {
					t.Fatalf("Err() = %v", err)
				}
				if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
					t.Errorf("keys = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func identity(r io.Reader) io.Reader { return r }

func TestScannerKeyTooLong(t *testing.T) {
	max := strings.Repeat("k", index.MaxKeyLen)
	tests := []struct {
		name, input string
		nul         bool
		wantLine    string // "" for no error
	}{
		{"longest key", "a\n" + max + "\n", false, ""},
		{"longest key with CR", "a\n" + max + "\r\n", false, ""},
		{"one byte over", "a\nb\n" + max + "x\nc\n", false, "in:3: key is 65536 bytes long"},
		{"CR counts in NUL mode", max + "\r\x00", true, "in:1: key is 65536 bytes long"},
		{"longer than the buffer", "a\n" + strings.Repeat("k", BufferSize+10), false, "in:2: key is at least 1048576 bytes long"},
		// A key that fills the buffer is not more than its size.
		{"as long as the buffer", "a\n" + strings.Repeat("k", BufferSize) + "\n", false, "in:2: key is at least 1048576 bytes long"},
		{"as long as the buffer, NUL mode", strings.Repeat("k", BufferSize) + "\x00", true, "in:1: key is at least 1048576 bytes long"},
		{"the buffer with the CR of CRLF", strings.Repeat("k", BufferSize-1) + "\r\n", false, "in:1: key is at least 1048575 bytes long"},
		{"the buffer with a CR, NUL mode", strings.Repeat("k", BufferSize-1) + "\r\x00", true, "in:1: key is at least 1048576 bytes long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := NewScanner(strings.NewReader(tt.input), "in", tt.nul)
			for sc.Scan() {
				if len(sc.Bytes()) > index.MaxKeyLen {
					t.Fatalf("Scan returned a key of %d bytes", len(sc.Bytes()))
				}
			}
			err := sc.Err()
			switch {
			case tt.wantLine == "" && err != nil:
				t.Fatalf("Err() = %v, want nil", err)
			case tt.wantLine != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantLine)):
				t.Fatalf("Err() = %v, want it to start with %q", err, tt.wantLine)
			}
			if sc.Scan() {
				t.Error("Scan after an error returned true")
			}
		})
	}
}

func TestScannerReadError(t *testing.T) {
	sc := NewScanner(iotest.TimeoutReader(bytes.NewReader(bytes.Repeat([]byte("ab\n"), BufferSize))), "in", false)
	n := 0
	for sc.Scan() {
		n++
	}
	if err := sc.Err(); err == nil || !strings.Contains(err.Error(), "reading in") {
		t.Fatalf("after %d keys Err() = %v, want a read error naming the input", n, err)
	}
}

// TestRemovedCR checks that RemovedCR tells which records lost a "\r".
func TestRemovedCR(t *testing.T) {
	for _, tt := range []struct {
		input string
		nul   bool
		want  []bool
	}{
		{"a\r\nb\n\r\nc\r\r\nd\r", false, []bool{true, false, true, true, true}},
		{"a\rb\nc", false, []bool{false, false}},
		{"a\r\x00b\x00", true, []bool{false, false}},
	} {
		sc := NewScanner(strings.NewReader(tt.input), "in", tt.nul)
		var got []bool
		for sc.Scan() {
			got = append(got, sc.RemovedCR())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: RemovedCR = %v, want %v", tt.input, got, tt.want)
		}
	}
}

// FuzzScanner checks the Scanner against the package's rules written as
// a split: the input cut at every delimiter, less the empty piece after a
// final delimiter (or of an empty input), each piece without one trailing
// "\r" in newline mode. Keys stay short, so the rules for long keys
// (TestScannerKeyTooLong) do not apply. Reads of one byte at a time, chosen
// by oneByte, make records span reads.
func FuzzScanner(f *testing.F) {
	f.Add([]byte("a\r\nb\n\r\nc\r\r\nd\r"), false, false)
	f.Add([]byte("a\x00\x00b\r\x00c"), true, true)
	f.Add([]byte("\n"), false, true)
	f.Add([]byte{}, true, false)
	f.Fuzz(func(t *testing.T, input []byte, nul, oneByte bool) {
		delim := byte('\n')
		if nul {
			delim = 0
		}
		want := bytes.Split(input, []byte{delim})
		if len(want[len(want)-1]) == 0 {
			want = want[:len(want)-1] // after a final delimiter, or all of an empty input
		}
		var wantCR []bool
		for i, k := range want {
			cr := !nul && bytes.HasSuffix(k, []byte("\r"))
			if cr {
				want[i] = k[:len(k)-1]
			}
			wantCR = append(wantCR, cr)
		}

		var r io.Reader = bytes.NewReader(input)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		sc := NewScanner(r, "in", nul)
		var got [][]byte
		var gotCR []bool
		for sc.Scan() {
			got = append(got, slices.Clone(sc.Bytes()))
			gotCR = append(gotCR, sc.RemovedCR())
			if sc.Line() != int64(len(got)) {
				t.Fatalf("Line() = %d after %d keys", sc.Line(), len(got))
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("Err() = %v", err)
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("keys = %q, want %q", got, want)
		}
		if !slices.Equal(gotCR, wantCR) {
			t.Errorf("RemovedCR = %v, want %v", gotCR, wantCR)
		}
	})
}
