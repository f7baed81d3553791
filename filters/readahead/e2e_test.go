package readahead

import (
	"encoding/hex"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	const size = 8 << 20
	d, original := randomDisk(size, 10)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()})

	// nbdsh reads the disk 4 KiB at a time and checks every byte against its hash.
	servertest.Nbdsh(t, s.URI(),
		"import hashlib",
		"sha = hashlib.sha256()",
		`for off in range(0, h.get_size(), 4096):
    sha.update(h.pread(4096, off))`,
		"assert sha.hexdigest() == '"+servertest.SHA256(original)+"', sha.hexdigest()",
	)
	if n := d.Counts().Reads.Load(); n > 12 {
		t.Errorf("2048 sequential reads reached the plugin as %d reads", n)
	}

	// A write on another connection is seen by a reader that had read ahead over it.
	servertest.Nbdsh(t, s.URI(),
		"assert h.pread(4096, 0) == bytes.fromhex('"+hex.EncodeToString(original[:4096])+"')",
		"h2 = nbd.NBD()",
		"h2.connect_uri(h.get_uri())",
		"h2.pwrite(b'\\x42' * 512, 32768)",
		"assert h.pread(512, 32768) == b'\\x42' * 512",
	)
	servertest.QemuIO(t, s.URI(), "read -P 0x42 32768 512")
}
