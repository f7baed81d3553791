package nocache

import (
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	t.Run("none", func(t *testing.T) {
		d := servertest.NewDisk(1 << 20)
		s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()})
		servertest.Nbdsh(t, s.URI(),
			"assert not h.can_cache()",
			"assert h.can_trim() and h.can_zero() and h.can_fua()",
		)
		servertest.QemuIO(t, s.URI(), "write -P 0x5a 0 64k", "read -P 0x5a 0 64k")
		if d.Counts().Caches.Load() != 0 {
			t.Error("a cache request reached the plugin")
		}
	})
	t.Run("emulate", func(t *testing.T) {
		d := servertest.NewDisk(1 << 20)
		s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "cachemode=emulate")
		servertest.Nbdsh(t, s.URI(), "assert h.can_cache()", "h.cache(1 << 20, 0)")
		c := d.Counts()
		if c.Caches.Load() != 0 || c.BytesRead.Load() != 1<<20 {
			t.Errorf("cache of 1 MiB: the plugin saw %d cache requests and %d bytes read, want 0 and 1 MiB",
				c.Caches.Load(), c.BytesRead.Load())
		}
	})
	t.Run("nop", func(t *testing.T) {
		d := servertest.NewDisk(1 << 20)
		s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "cachemode=nop")
		servertest.Nbdsh(t, s.URI(), "assert h.can_cache()", "h.cache(1 << 20, 0)")
		c := d.Counts()
		if c.Caches.Load() != 0 || c.Reads.Load() != 0 {
			t.Errorf("cache with nop: the plugin saw %d cache requests and %d reads, want none",
				c.Caches.Load(), c.Reads.Load())
		}
	})
}
