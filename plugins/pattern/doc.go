// Package pattern is gonbd's plugin of a fixed test pattern, after nbdkit's pattern
// plugin: a read-only disk in which every 8-byte word holds its own offset as a
// big-endian 64-bit integer.
//
//	offset  data
//	  0000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 08
//	  0010  00 00 00 00 00 00 00 10  00 00 00 00 00 00 00 18
//
// From the command line:
//
//	gonbd pattern 1G
//	gonbd pattern $((2**63 - 1))
//
// Any byte of the disk says where it is, which makes the pattern the disk of choice
// for testing filters that move data around (offset, partition, swab...) and clients
// that might read the wrong place. A size that is not a multiple of 8 cuts the last
// word short. The contents are computed, not stored, so any size up to 2⁶³-1 costs
// nothing.
//
// Programs that embed the server make the plugin with [New]:
//
//	disk, err := pattern.New(pattern.Options{Size: 1 << 30})
//	if err != nil {
//		return err
//	}
//	layer := server.PluginLayer("pattern", disk)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package pattern
