// Command gonbd-fuzz runs every fuzz test of every module of go.work, one at
// a time, each for a fixed time.
//
// Usage:
//
//	gonbd-fuzz [-C dir] [-fuzztime 60s] [-list]
//
// It finds the fuzz tests by parsing the _test.go files of each module's
// packages for functions "func FuzzXxx(f *testing.F)", so a new one is run
// without being registered anywhere, and runs each as
// "go test -run '^$' -fuzz '^FuzzXxx$' -fuzztime D" in its package
// directory (go test fuzzes one target of one package at a time). A failing
// fuzz test leaves its input in the package's testdata/fuzz, to be
// committed with the fix. -list prints the tests instead of running them.
//
// "make fuzz" runs it with FUZZTIME.
package main
