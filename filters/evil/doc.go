// Package evil is gonbd's evil filter, after nbdkit's: it corrupts the data clients
// read, at random but repeatably, to test what checksums, file systems and
// applications make of bad data. Writes pass through untouched, so the plugin keeps
// the right data.
//
// Three modes (evil=):
//
//   - stuck-bits (the default): bits at fixed places of the disk are stuck high or
//     low. Every read of a stuck bit sees the stuck value, wherever the read starts
//     and however long it is, as with bad storage. evil-probability= is the chance of
//     each bit of the disk to be stuck.
//   - cosmic-rays: each bit read flips with probability evil-probability=, anew at
//     every read.
//   - stuck-wires: bits at fixed places of the read buffer are stuck, as with a broken
//     data path: whatever offset is read, the same bits of each buffer (the 100th bit
//     read, say) are stuck high or low.
//
// A stuck bit stuck at the value the data has anyway changes nothing, so on random
// data about half of the stuck bits show. evil-stuck-probability= (default 1) makes
// stuck bits intermittent: each read sees each stuck bit as stuck with that
// probability, else as the right value.
//
// Block status passes through, except that no range is said to read as zeroes (holes
// stay holes): with the corruption, holes no longer read as zeroes.
//
// Probabilities are written as nbdkit writes them: a number ("1e-6", "0.001"), N in M
// ("1:1000000", which may also be written "1/1000000") or a percentage ("0.1%").
//
// evil-seed= makes runs repeatable: the same seed gives the same stuck bits, and the
// same sequence of reads gives the same cosmic rays. Without it the seed is random
// (it is logged at debug level). The bits are drawn from streams keyed by the seed
// and by 4 KiB blocks of the disk (or of the read buffer), so that the stuck bits of a
// range are the same however reads are split.
//
// From the command line:
//
//	gonbd --filter=evil file disk.img evil=cosmic-rays evil-probability=1e-6
//	gonbd --filter=evil memory 1G evil-probability=1:1000000 evil-seed=42
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package evil
