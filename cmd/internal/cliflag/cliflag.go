// Package cliflag parses the command lines of idxbuild and idxquery with
// package flag, and words its errors as their help does.
package cliflag

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// longFlag matches package flag's errors that name a flag of more than one
// letter, with one dash, in each of the forms they take: "flag provided
// but not defined: -nope", "flag needs an argument: -mem", "invalid value
// "x" for flag -mem: …", "invalid boolean value "x" for -sorted: …". The
// value is matched as %q writes it, so that nothing in it is rewritten.
var longFlag = []*regexp.Regexp{
	regexp.MustCompile(`^(flag provided but not defined: |flag needs an argument: )-(.{2,})()$`),
	regexp.MustCompile(`^(invalid (?:boolean )?value "(?:[^"\\]|\\.)*" for (?:flag )?)-([^\s:]{2,})(: )`),
}

// Parse parses args with fs. Its error writes a flag of more than one
// letter with two dashes, "--mem", as the commands' help does, where
// package flag writes one ("-mem"); one-letter flags keep one ("-o").
// flag.ErrHelp is returned as it is.
func Parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := err.Error()
	for _, re := range longFlag {
		msg = re.ReplaceAllString(msg, "$1--$2$3")
	}
	return errors.New(msg)
}

// MisplacedFlag returns an error naming the first argument left after
// parsing args with fs (fs.Args) that is one of fs's flags ("-q",
// "--mem=1GiB", or -h) and no file: package flag stops at the first
// argument that is not a flag, so a flag after it would be taken for a
// file name, and fail as a missing file rather than as the usage error
// it is. A file of that name is not refused, nor anything after a "--"
// that ended the flags (after a FILE, "--" is itself a FILE).
func MisplacedFlag(fs *flag.FlagSet, args []string) error {
	rest := fs.Args()
	if endedByDashDash(fs, args[:len(args)-len(rest)]) {
		return nil
	}
	for _, a := range rest {
		name, _, ok := flagArg(a)
		if !ok || name == "" || fs.Lookup(name) == nil && name != "h" && name != "help" {
			continue
		}
		if _, err := os.Lstat(a); err == nil {
			continue
		}
		return fmt.Errorf("flag %s after the first FILE: flags go before the FILE arguments", a)
	}
	return nil
}

// endedByDashDash reports whether the flags parsed, args, ended with a
// "--" that package flag took for the end of the flags, not for a flag's
// value ("-o --", "--mem -o --"): it steps through them as package flag
// does, a flag that takes a value with its value.
func endedByDashDash(fs *flag.FlagSet, args []string) bool {
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--":
			return i == len(args)-1
		case takesValue(fs, args[i]):
			i++ // its value
		}
	}
	return false
}

// flagArg returns the flag name that arg, "-name" or "--name", with or
// without "=value", gives, and whether it holds its value; ok is false
// for an argument that does not start with "-".
func flagArg(arg string) (name string, withValue, ok bool) {
	name, ok = strings.CutPrefix(arg, "-")
	if !ok {
		return "", false, false
	}
	name, _, withValue = strings.Cut(strings.TrimPrefix(name, "-"), "=")
	return name, withValue, true
}

// takesValue reports whether arg is one of fs's flags that takes its value
// from the next argument: not a boolean flag, and without "=value".
func takesValue(fs *flag.FlagSet, arg string) bool {
	name, withValue, ok := flagArg(arg)
	if !ok || withValue {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, isBool := f.Value.(interface{ IsBoolFlag() bool })
	return !isBool || !b.IsBoolFlag()
}
