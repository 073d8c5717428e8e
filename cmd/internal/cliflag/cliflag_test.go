package cliflag

import (
	"errors"
	"flag"
	"io"
	"os"
	"testing"
)

func TestParse(t *testing.T) {
	newSet := func() *flag.FlagSet {
		fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("o", "", "")
		fs.Int("filter-bits", 6, "")
		fs.Float64("load-factor", 0.8, "")
		fs.Bool("q", false, "")
		fs.Bool("sorted", false, "")
		fs.String("mem", "", "")
		return fs
	}
	tests := []struct {
		args []string
		want string // the error, "" for none
	}{
		{[]string{"-o", "x", "a.txt"}, ""},
		{[]string{"--filter-bits", "abc"}, `invalid value "abc" for flag --filter-bits: parse error`},
		{[]string{"-filter-bits=abc"}, `invalid value "abc" for flag --filter-bits: parse error`},
		{[]string{"--load-factor", "x"}, `invalid value "x" for flag --load-factor: parse error`},
		{[]string{"--mem"}, `flag needs an argument: --mem`},
		{[]string{"-o"}, `flag needs an argument: -o`},
		{[]string{"--sorted=maybe"}, `invalid boolean value "maybe" for --sorted: parse error`},
		{[]string{"-q=maybe"}, `invalid boolean value "maybe" for -q: parse error`},
		{[]string{"--no-such"}, `flag provided but not defined: --no-such`},
		{[]string{"-x"}, `flag provided but not defined: -x`},
		{[]string{"-o", "-mem-file"}, ""}, // a value, not an error
		{[]string{"--load-factor", " -ab: -cd"}, `invalid value " -ab: -cd" for flag --load-factor: parse error`},
		{[]string{"--load-factor", ": -ab:"}, `invalid value ": -ab:" for flag --load-factor: parse error`},
		{[]string{"--load-factor", `for -ab:x" for flag -cd: `}, `invalid value "for -ab:x\" for flag -cd: " for flag --load-factor: parse error`},
		{[]string{"--sorted=for -ab:"}, `invalid boolean value "for -ab:" for --sorted: parse error`},
		{[]string{"--foo.bar"}, `flag provided but not defined: --foo.bar`},
		{[]string{"-o x"}, `flag provided but not defined: --o x`}, // "-o $OUT" quoted as one argument: the flag "o x"
		{[]string{"-no pe"}, `flag provided but not defined: --no pe`},
	}
	for _, tt := range tests {
		err := Parse(newSet(), tt.args)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
	if err := Parse(newSet(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Parse(-h) = %v, want flag.ErrHelp", err)
	}
}

func TestMisplacedFlag(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("-q", nil, 0o644); err != nil { // a file named like a flag
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string // the error, "" for none
	}{
		{[]string{"-o", "x", "a.txt"}, ""},
		{[]string{"-o", "x", "a.txt", "-"}, ""},
		{[]string{"-o", "x", "a.txt", "--sorted"}, "flag --sorted after the first FILE: flags go before the FILE arguments"},
		{[]string{"-o", "x", "a.txt", "-sorted"}, "flag -sorted after the first FILE: flags go before the FILE arguments"},
		{[]string{"a.txt", "--mem=1GiB", "b.txt"}, "flag --mem=1GiB after the first FILE: flags go before the FILE arguments"},
		{[]string{"-o", "x", "a.txt", "-h"}, "flag -h after the first FILE: flags go before the FILE arguments"},
		{[]string{"-o", "x", "a.txt", "-o", "y"}, "flag -o after the first FILE: flags go before the FILE arguments"},
		// -q is the existing file, but --sorted after it is a flag.
		{[]string{"-o", "x", "a.txt", "-q", "--sorted"}, "flag --sorted after the first FILE: flags go before the FILE arguments"},
		{[]string{"-o", "x", "a.txt", "-q"}, ""},             // the file -q exists
		{[]string{"-o", "x", "a.txt", "--no-such-flag"}, ""}, // not a flag: a missing file, as any
		{[]string{"-o", "x", "--", "--sorted"}, ""},          // after --, only files
		{[]string{"-o", "x", "--", "a.txt", "--sorted"}, ""},
		{[]string{"--sorted", "--", "--sorted"}, ""}, // a boolean flag takes no value: -- ends the flags
		{[]string{"-o", "--", "a.txt", "--sorted"}, "flag --sorted after the first FILE: flags go before the FILE arguments"}, // -- is -o's value
		{[]string{"-o=x", "--", "--sorted"}, ""},
		{[]string{"--mem", "-o", "--", "--sorted"}, ""},          // -o is --mem's value: -- ends the flags
		{[]string{"-o", "-o", "--", "--sorted"}, ""},             // the second -o is the first's value
		{[]string{"--mem", "-o", "--", "a.txt", "--sorted"}, ""}, // after --, only files
		{[]string{"--sorted", "-o", "--", "a.txt", "--sorted"}, "flag --sorted after the first FILE: flags go before the FILE arguments"}, // -- is -o's value
		{[]string{"-o", "x", "a.txt", "--", "--sorted"}, "flag --sorted after the first FILE: flags go before the FILE arguments"},        // after a FILE, -- is a FILE
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("o", "", "")
		fs.Bool("q", false, "")
		fs.Bool("sorted", false, "")
		fs.String("mem", "", "")
		if err := fs.Parse(tt.args); err != nil {
			t.Fatalf("Parse(%q): %v", tt.args, err)
		}
		err := MisplacedFlag(fs, tt.args)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("MisplacedFlag(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
