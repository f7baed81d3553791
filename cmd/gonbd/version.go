package main

import "runtime/debug"

// modulePath is this command's module, whose version is gonbd's.
const modulePath = "github.com/gonbd/gonbd/cmd/gonbd"

// version is gonbd's version. A release build may set it with
// -ldflags "-X main.version=v1.2.3"; otherwise it is the module version `go install
// github.com/gonbd/gonbd/cmd/gonbd@VERSION` recorded, or "devel" for a build from a
// work tree.
var version = ""

// gonbdVersion returns the version to print.
func gonbdVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Path == modulePath &&
		info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}
