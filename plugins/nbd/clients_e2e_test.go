package nbd

import (
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2ECommandsReachTheRemoteDisk drives the proxy with nbdsh and qemu-io and checks
// on the remote disk that each command arrived as itself: zero as zero, trim as trim,
// FUA as FUA, block status as block status.
func TestE2ECommandsReachTheRemoteDisk(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	disk := servertest.NewDisk(16 * miB)
	remote := servertest.Start(t, disk.Layer(), server.Options{})
	proxy := proxyTo(t, "socket="+remote.Socket)
	c := disk.Counts()

	servertest.Nbdsh(t, proxy.URI(),
		"assert h.can_fua() and h.can_trim() and h.can_zero() and h.can_flush() and h.can_cache()",
		"assert h.can_multi_conn() and h.can_meta_context('base:allocation')",
		"h.pwrite(b'\\xab' * 65536, 0, nbd.CMD_FLAG_FUA)",
		"h.zero(1 << 20, 1 << 20)",
		"h.trim(1 << 20, 4 << 20)",
		"h.flush()",
		"h.cache(65536, 0)",
		"e = []",
		"h.block_status(16 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"assert e == [65536, 0, (16 << 20) - 65536, 3], e",
		"assert h.pread(65536, 0) == b'\\xab' * 65536",
		// A read of data and hole comes back as data and hole chunks, as the server
		// would send them.
		"chunks = []",
		"h.pread_structured(1 << 20, 0, lambda buf, off, status, err: chunks.append((off, len(buf), status)))",
		"assert (0, 65536, nbd.READ_DATA) in chunks and (65536, (1 << 20) - 65536, nbd.READ_HOLE) in chunks, chunks",
	)
	for name, got := range map[string]int64{
		"writes": c.Writes.Load(), "FUA": c.FUA.Load(), "zeroes": c.Zeros.Load(),
		"trims": c.Trims.Load(), "caches": c.Caches.Load(),
	} {
		if got != 1 {
			t.Errorf("%s reaching the remote disk: %d, want 1", name, got)
		}
	}
	if c.Flushes.Load() < 1 || c.Extents.Load() < 1 {
		t.Errorf("flushes %d, block status requests %d reaching the remote disk; want at least 1 each",
			c.Flushes.Load(), c.Extents.Load())
	}

	// qemu-io's write -z is NBD_CMD_WRITE_ZEROES, -u lets the server trim.
	zeros := c.Zeros.Load()
	servertest.QemuIO(t, proxy.URI(), "write -P 0x11 2M 1M", "write -z -u 2M 512k", "read -P 0 2M 512k", "read -P 0x11 2560k 512k")
	if c.Zeros.Load() != zeros+1 {
		t.Errorf("qemu-io's write -z reached the disk as %d zero requests, want 1", c.Zeros.Load()-zeros)
	}
}

func TestE2EServerErrorReachesTheClient(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	disk := servertest.NewDisk(1 * miB)
	disk.Fault = func(op string, off, length int64) error {
		if op == "write" && off >= 512*kiB {
			return server.Errorf(syscall.ENOSPC, "the disk is full past 512 KiB")
		}
		return nil
	}
	remote := servertest.Start(t, disk.Layer(), server.Options{})
	proxy := proxyTo(t, "socket="+remote.Socket)
	servertest.Nbdsh(t, proxy.URI(),
		"import errno",
		"h.pwrite(b'x' * 4096, 0)",
		`try:
    h.pwrite(b'x' * 4096, 600 * 1024)
    raise AssertionError("a write past 512 KiB succeeded")
except nbd.Error as ex:
    assert ex.errnum == errno.ENOSPC, ex`,
		"assert h.pread(4096, 0) == b'x' * 4096",
	)
	r := servertest.RunQemuIO(t, proxy.URI(), "write 768k 4k")
	if !servertest.QemuIOFailed(r) || !containsAny(r.Stdout+r.Stderr, "No space left on device") {
		t.Errorf("qemu-io writing past 512 KiB: want ENOSPC, got %s", r)
	}
}
