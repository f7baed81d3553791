// Package random is gonbd's random disk plugin, after nbdkit's random plugin: a disk
// of random bytes, the same every time for the same seed, that accepts a write only
// if it writes what the disk already holds.
//
// From the command line:
//
//	gonbd random 1G seed=42
//	gonbd -U - random size=100M --run 'nbdcopy "$uri" "$uri"'
//
// The second line is the plugin's purpose: copying the disk onto itself tests a
// copying program, since a byte written to the wrong place fails the copy with EIO.
// Trim and zero requests fail likewise, as random data does not read as zeroes.
//
// The bytes are computed from the seed and their offset, so any part of the disk can
// be read first and a disk of any size costs nothing. They are not nbdkit's bytes for
// the same seed, and they are not secret: the generator (SplitMix64) is fast and
// statistically sound, not cryptographic.
//
// Programs that embed the server make the plugin with [New]:
//
//	disk, err := random.New(random.Options{Size: 1 << 30, Seed: 42})
//	if err != nil {
//		return err
//	}
//	layer := server.PluginLayer("random", disk)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package random
