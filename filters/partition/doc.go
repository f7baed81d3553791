// Package partition is gonbd's partition filter, after nbdkit's: it serves one
// partition of a disk that the layer behind it serves, as a whole export. It reads
// MBR tables, including logical partitions (5 and up) in an extended partition, and
// GPT tables, as qemu-nbd -P does.
//
// From the command line:
//
//	gonbd --filter=partition file disk.img partition=1
//	gonbd --filter=partition file disk.img partition=5
//
// The table is read when a client opens the export; a disk without a table, or without
// the partition asked for, fails the opening with an error saying why. Every request
// is moved by the partition's offset, and the export's size is the partition's.
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package partition
