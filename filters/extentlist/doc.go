// Package extentlist is gonbd's extentlist filter, after nbdkit's: it answers extent
// (block status) queries from a static list read from a file, for plugins that cannot
// tell holes from data themselves (ssh, curl) when the information can be had another
// way, such as xfs_bmap on the source machine.
//
// The file has one extent per line, "offset length [type]":
//
//	0  1M
//	1M 9M  hole,zero
//
// Gaps are holes that read as zeroes. The list is not updated by writes, so the filter is
// generally only safe on a read-only export (gonbd -r).
//
// From the command line:
//
//	gonbd -r --filter=extentlist ssh host=example.com path=/disk.img extentlist=extents.txt
//
// From Go, [Parse] reads a list and [New] wraps a layer with it. [Spec] is what the
// gonbd command links.
package extentlist
