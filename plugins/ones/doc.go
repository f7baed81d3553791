// Package ones is gonbd's plugin of a disk of ones, after nbdkit's ones plugin: a disk
// of any size whose every byte reads as 0xff (or another byte of your choice), and
// which discards whatever is written to it.
//
// From the command line:
//
//	gonbd ones 1G
//	gonbd ones 1G byte=0x5a
//
// It is the null plugin with another byte: writes, zeroes and trims succeed and change
// nothing, flush and cache do nothing, and block status reports the whole disk as
// data. It serves to test clients and filters that must not mistake non-zero data
// for a hole, and to measure a server's read path with data that is not zeroes.
//
// Programs that embed the server make the plugin with [New]:
//
//	disk, err := ones.New(ones.Options{Size: 1 << 30})
//	if err != nil {
//		return err
//	}
//	layer := server.PluginLayer("ones", disk)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package ones
