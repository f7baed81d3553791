// Package split is gonbd's split plugin, after nbdkit's: it concatenates regular
// files, in order, into one export, as if they were the pieces of one disk image
// split for a file system or a transfer that could not hold it whole.
//
// From the command line:
//
//	gonbd split disk.img.000 disk.img.001 disk.img.002
//	gonbd split file=part1 file=part2
//
// The files may have any sizes. A request crossing from one file into the next is
// split at the boundary. Requests run in parallel, with pread and pwrite. The export
// is writable when every file can be written; it cannot grow, since the files keep
// their sizes. Where the system has them (Linux), trim punches holes and zero
// requests use fallocate(2) in each file; extents come from each file's SEEK_DATA and
// SEEK_HOLE; flush fdatasyncs every file, and FUA the files a request changed.
//
// Programs that embed the server make the plugin with [New]:
//
//	p, err := split.New(split.Options{Files: []string{"a.img", "b.img"}})
//	if err != nil {
//		return err
//	}
//	layer := server.PluginLayer("split", p)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package split
