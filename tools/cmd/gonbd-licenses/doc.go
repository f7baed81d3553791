// Command gonbd-licenses checks the licences of gonbd and of everything it
// links.
//
// Usage:
//
//	gonbd-licenses [-C dir] [-v]
//
// For every module of go.work it checks that the module directory holds a
// LICENSE identical to the repository's, then lists the module's
// dependency closure, tests included ("go list -deps -test ./..." in the
// module directory), and reads the licence files (LICENSE, LICENCE,
// COPYING, ...) at the root of every other module in it from the module
// cache. Each must be MIT, BSD-2-Clause, BSD-3-Clause, Apache-2.0 or ISC,
// recognized by its text; any other licence, or none, fails with the module
// named. -v prints every dependency with its licence.
//
// "make licenses" runs it.
package main
