// Command gonbd-cimatrix keeps the module matrix of the CI workflow equal to
// the module list of go.work.
//
// Usage:
//
//	gonbd-cimatrix [-C dir] [-workflow file] [-update]
//
// The workflow (.github/workflows/ci.yml by default) holds the list of module
// directories between two marker comments:
//
//	# BEGIN MODULES (generated from go.work by "make ci-matrix-update")
//	module:
//	  - protocol
//	  - server
//	# END MODULES
//
// Without -update it fails, naming the modules missing from or extra in the
// workflow, when the list there differs from go.work's; with -update it
// rewrites the list from go.work. "make ci-matrix" and "make
// ci-matrix-update" run it.
package main
