package pattern

import (
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2EClients checks the pattern with qemu-io (whose -P reads compare with a
// repeated byte, so words whose bytes are all alike are chosen) and nbdsh.
func TestE2EClients(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	s := servertest.StartStack(t, Spec(), nil, "1G")
	// The first 8 bytes of the first word are zeroes; bytes 0-3 of every word below
	// 4 GiB are zeroes as well.
	readOnlyQemuIO(t, s.URI(), "read -P 0 0 7", "read -P 0 1048576 4", "read -P 0 1073741816 4")
	servertest.Nbdsh(t, s.URI(),
		"assert h.is_read_only() and h.get_size() == 1 << 30",
		"assert h.pread(16, 0x28) == bytes.fromhex('0000000000000028 0000000000000030')",
		"assert h.pread(5, 0x3ffffffb) == bytes.fromhex('003fffff f8')",
		"import struct; b = h.pread(1 << 20, 123 << 20); "+
			"assert all(struct.unpack_from('>Q', b, i)[0] == (123 << 20) + i for i in range(0, 1 << 20, 8))",
	)
}

// TestE2EMatchesNbdkit compares gonbd's pattern with nbdkit's, byte for byte, on a
// disk whose size is not a multiple of 8, with reads that start and end inside words.
func TestE2EMatchesNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "nbdsh")
	const size = "3000005"
	ours := servertest.StartStack(t, Spec(), nil, size).URI()
	theirs := servertest.SocketURI(servertest.StartNbdkit(t, "pattern", size), "")
	servertest.SameAsNbdkit(t, ours, theirs, nil,
		"import hashlib; print(hashlib.sha256(h.pread(h.get_size(), 0)).hexdigest())",
		"print(h.pread(13, 1234567).hex(), h.pread(3, 3000002).hex(), h.pread(1, 7).hex())",
		"e = []; h.block_status(h.get_size(), 0, lambda ctx, off, ents, err: e.extend(ents)); print(e)",
	)
}

// readOnlyQemuIO runs qemu-io on a read-only export (which it opens only with -r) and
// fails the test if a command fails.
func readOnlyQemuIO(t *testing.T, uri string, cmds ...string) {
	t.Helper()
	args := []string{"-r", "-f", "raw"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	if r := servertest.Run(t, "qemu-io", append(args, uri)...); r.Code != 0 || servertest.QemuIOFailed(r) {
		t.Fatalf("qemu-io %q: %s", cmds, r)
	}
}
