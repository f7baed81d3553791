// Package nofilter is gonbd's do-nothing filter, after nbdkit's nofilter filter: every
// call passes through to the next layer unchanged. It exists to test filter stacking
// (a stack with it must behave exactly like the stack without it) and as the smallest
// example of a filter.
//
// From the command line:
//
//	gonbd --filter=nofilter memory 1G
//
// From Go, [New] wraps a layer:
//
//	layer := nofilter.New(server.PluginLayer("memory", disk))
//
// [Spec] is what the gonbd command links to offer the filter by name.
package nofilter
