// Package release knows how gonbd's modules are versioned and released:
// each module has its own tags, "<dir>/vX.Y.Z", and the modules are released
// in dependency order with each requiring the versions of its siblings that
// are released with it.
//
// Pack rehearses a release without tagging anything: it writes every module
// of the work tree, at the version it would be released at, into a
// directory laid out as a GOPROXY (file:// URL) serves it, so that the go
// command can install and build against the modules exactly as a user will
// once the tags are pushed.
package release
