// Package memory is gonbd's RAM disk plugin, after nbdkit's memory plugin: one disk,
// initially all zeroes, kept in the server's memory and shared by every connection, and
// gone when the server exits. It is meant for testing and for scratch disks whose
// contents do not matter afterwards.
//
// From the command line:
//
//	gonbd memory 1G
//	gonbd memory size=$((2**63 - 1))
//	gonbd memory 4G allocator=malloc,mlock=true
//	gonbd memory 8G allocator=zstd
//
// The default sparse allocator keeps 32 KiB pages, made when something other than
// zeroes is first written to them and freed when trim or zero leaves them all zeroes,
// so the disk's virtual size can be anything up to 2⁶³-1 bytes whatever the machine's
// RAM. The zstd allocator keeps the same pages compressed, each a zstd frame, which
// holds about twice the data in the same memory. The malloc allocator keeps one
// contiguous buffer of the whole size, which it can lock into RAM. Requests to different
// parts of the disk do not wait for each other with any allocator.
//
// Programs that embed the server make the plugin with [New] and adapt it as any other:
//
//	disk, err := memory.New(memory.Options{Size: 1 << 30})
//	if err != nil {
//		return err
//	}
//	defer disk.Cleanup(ctx)
//	layer := server.PluginLayer("memory", disk)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package memory
