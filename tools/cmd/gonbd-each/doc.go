// Command gonbd-each runs a command in the directory of every module of
// go.work, one after the other, and reports which modules it failed in.
//
// Usage:
//
//	gonbd-each [-C dir] [-k=false] command [arg...]
//
// For example, "gonbd-each go test ./..." tests every module. The modules
// come in dependency order, so a failure in a module that others build on
// shows first. By default it goes on after a failure, so that one run shows
// every failing module; -k=false stops at the first. The command inherits
// the environment, standard output and standard error; each module's run is
// announced on standard error with a line "==> DIR: command". It exits with
// status 1 if the command failed in any module.
package main
