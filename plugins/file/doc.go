// Package file is gonbd's file plugin, after nbdkit's: it serves a regular file or a
// block device over NBD, or every regular file and block device of a directory, each
// as an export named after it.
//
// From the command line:
//
//	gonbd file disk.img
//	gonbd file /dev/sdb cache=none
//	gonbd file dir=/srv/images
//	gonbd file fd=3                # a descriptor inherited from the parent
//
// Reads and writes use pread and pwrite, so requests run in parallel, on every
// connection at once. Where the system has them (Linux), trim punches holes, zero
// requests use fallocate(2) or BLKZEROOUT rather than writing zeroes, and extents come
// from lseek's SEEK_DATA and SEEK_HOLE; flush and FUA use fdatasync(2). With
// cache=none the data bypasses the page cache (O_DIRECT), unaligned requests going
// through aligned buffers.
//
// Programs that embed the server make the plugin with [New]:
//
//	p, err := file.New(file.Options{File: "disk.img"})
//	if err != nil {
//		return err
//	}
//	defer p.Cleanup(ctx)
//	layer := server.PluginLayer("file", p)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package file
