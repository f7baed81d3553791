// Package full is gonbd's plugin of a disk that is always full, after nbdkit's full
// plugin: it reads as zeroes, and every write, trim and zero request fails with ENOSPC
// (no space left on device), as a thin-provisioned disk does once its host has run
// out of space.
//
// From the command line:
//
//	gonbd full 1G
//
// Use it to see how a client copes with a full disk. Fast-zero requests fail with
// ENOTSUP, which tells a client that zeroing is not cheap here, and block status
// reports the whole disk as a hole that reads as zeroes.
//
// Programs that embed the server make the plugin with [New]:
//
//	disk, err := full.New(full.Options{Size: 1 << 30})
//	if err != nil {
//		return err
//	}
//	layer := server.PluginLayer("full", disk)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package full
