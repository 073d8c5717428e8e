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

// longFlag matches a flag name of more than one letter where package
// flag's errors write it, with one dash: "invalid value "x" for flag
// -mem: parse error", "invalid boolean value "x" for -sorted: …", "flag
// needs an argument: -mem", "flag provided but not defined: -nope".
var longFlag = regexp.MustCompile(`(flag |for |: )-([a-zA-Z0-9][a-zA-Z0-9_-]+)(:|$)`)

// Parse parses args with fs. Its error writes a flag of more than one
// letter with two dashes, "--mem", as the commands' help does, where
// package flag writes one ("-mem"); one-letter flags keep one ("-o").
// flag.ErrHelp is returned as it is.
func Parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errors.New(longFlag.ReplaceAllString(err.Error(), "$1--$2$3"))
}

// MisplacedFlag returns an error naming the first argument left after
// parsing args with fs (fs.Args) that is one of fs's flags ("-q",
// "--mem=1GiB", or -h) and no file: package flag stops at the first
// argument that is not a flag, so a flag after it would be taken for a
// file name, and fail as a missing file rather than as the usage error
// it is. A file of that name is not refused, nor anything after "--".
func MisplacedFlag(fs *flag.FlagSet, args []string) error {
	rest := fs.Args()
	if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
		return nil
	}
	for _, a := range rest {
		name, ok := strings.CutPrefix(a, "-")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(strings.TrimPrefix(name, "-"), "=")
		if name == "" || fs.Lookup(name) == nil && name != "h" && name != "help" {
			continue
		}
		if _, err := os.Lstat(a); err == nil {
			continue
		}
		return fmt.Errorf("flag %s after the first FILE: flags go before the FILE arguments", a)
	}
	return nil
}
