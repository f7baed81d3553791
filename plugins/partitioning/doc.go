// Package partitioning is gonbd's partitioning plugin, after nbdkit's: it serves a
// virtual disk made of a partition table and files, each file becoming one partition,
// in order. Use it to boot or inspect filesystem images as if they were a partitioned
// disk, without copying them.
//
// From the command line:
//
//	gonbd partitioning boot.img swap.img root.img
//	gonbd partitioning mbr-id=0x82 swap.img mbr-id=default root.img
//	gonbd partitioning partition-type=gpt alignment=4k a.img b.img
//
// The table is MBR for up to 4 files whose total size MBR can address (about 2 TiB),
// GPT otherwise, unless partition-type= says which. With more than 4 files an MBR
// table has three primary partitions, an extended partition as partition 4 and one
// logical partition per remaining file, numbered from 5. A GPT table has a protective
// MBR, the primary header and entries at the start of the disk and the backup ones at
// its end, with correct CRCs; its disk and partition GUIDs are random, made afresh
// each time the plugin starts, and each partition is named after its file when the
// path is short ASCII, as in nbdkit.
//
// Each partition starts at a multiple of its alignment (1 MiB unless alignment= says
// otherwise) and is its file's size rounded up to whole 512-byte sectors. The tables
// live in memory and the padding between partitions reads as zeroes; neither can be
// changed: a write there fails with EIO unless it writes what is already there.
// Writes to partitions go to the files. Block status reports the tables as data, the
// padding as holes, and the files' own holes where the system can find them
// (SEEK_DATA).
//
// Programs that embed the server make the plugin with [New]:
//
//	disk, err := partitioning.New(partitioning.Options{
//		Partitions: []partitioning.Partition{{File: "boot.img"}, {File: "root.img"}},
//	})
//	if err != nil {
//		return err
//	}
//	defer disk.Cleanup(ctx)
//	layer := server.PluginLayer("partitioning", disk)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package partitioning
