// Package sparserandom is gonbd's sparse random disk plugin, after nbdkit's
// sparse-random plugin: a disk shaped like a virtual machine's, with runs of random
// data between runs of holes, the same every time for the same seed, which accepts a
// write only if it writes what the disk already holds.
//
// Its module path is github.com/gonbd/gonbd/plugins/sparse-random; its package name
// is sparserandom.
//
// From the command line:
//
//	gonbd sparse-random 1T seed=42
//	gonbd -U - sparse-random size=1T --run 'nbdcopy "$uri" "$uri"'
//
// The second line is the plugin's purpose: benchmarking and testing copying programs,
// which should copy the data, skip or zero the holes, and put every byte where it
// belongs — a write that would change the disk, or a zero or trim of data, fails with
// EIO.
//
// The disk is 4 KiB blocks, each all data or all hole. Runs of data have a mean
// length of runlength= bytes (16 MiB by default) and make up about percent= of the
// disk (10 by default). A data block is one random non-zero byte repeated, or random
// bytes throughout with random-content=true. Block status reports the runs exactly.
//
// The layout is computed from the seed piece by piece, in superblocks of hundreds of
// runs, as clients touch them: start-up is instant, any size up to 2⁶³-1 works, and
// memory holds only the few superblocks in use. Neither the layout nor the bytes are
// nbdkit's for the same seed, and neither is secret: the generator (SplitMix64) is
// fast and statistically sound, not cryptographic.
//
// Programs that embed the server make the plugin with [New]:
//
//	disk, err := sparserandom.New(sparserandom.Options{Size: 1 << 40, Seed: 42})
//	if err != nil {
//		return err
//	}
//	layer := server.PluginLayer("sparse-random", disk)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package sparserandom
