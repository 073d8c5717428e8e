// Package readmeexample holds the test of the library program in
// README.md: it runs the program as README.md shows it and checks that
// it prints what README.md says it prints.
package readmeexample
