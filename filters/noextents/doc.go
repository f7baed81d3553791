// Package noextents is gonbd's noextents filter, after nbdkit's: it hides the sparseness
// of the layers behind it, so that clients see the whole export as allocated data. Block
// status queries answer one data extent, and reads are never split into holes. It helps
// where asking for extents is slow (lseek on some file systems) or to test clients
// against a server that knows nothing of holes.
//
// From the command line:
//
//	gonbd --filter=noextents file disk.img
//
// From Go, [New] wraps a layer. [Spec] is what the gonbd command links.
package noextents
