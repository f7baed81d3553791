// Command gonbd-release lists gonbd's modules with their versions and
// rehearses their release.
//
// Usage:
//
//	gonbd-release [-C dir] list
//	gonbd-release [-C dir] pack -proxy DIR
//	gonbd-release [-C dir] check [-timeout 20m]
//
// The modules are those that go.work uses, in dependency order: the order in
// which they must be released.
//
// list prints, for each module, its directory, module path, latest released
// version (from the git tags "<dir>/vX.Y.Z") or "unreleased", and the version
// its next release gets: v0.1.0 for a module never released, otherwise the
// next patch version.
//
// pack writes every module at its next version into DIR, laid out as a module
// proxy, with sibling requirements set to the versions packed and go.sum
// completed by "go mod tidy". GOPROXY=file://DIR then serves them.
//
// check packs into a temporary proxy and proves that users can install
// cmd/gonbd from it and build a program of their own on the server and
// memory plugin modules; see package releasecheck. "make release-check"
// runs it.
//
// docs/releasing.md describes the release procedure that these rehearse.
package main
