package sparserandom

import (
	"encoding/json"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2ECopyOntoItself copies the disk onto itself, as nbdkit's manual suggests to
// test copying programs: nbdcopy and qemu-img must write every byte where it belongs
// and zero only holes, or the plugin fails the copy.
func TestE2ECopyOntoItself(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy", "qemu-img")
	for _, params := range [][]string{
		{"1T", "seed=1", "percent=0.001"}, // sparse indeed: the copy must skip the holes
		{"256M", "seed=2", "runlength=1M"},
		{"32M", "seed=3", "percent=50", "runlength=64k", "random-content=true"},
	} {
		uri := servertest.StartStack(t, Spec(), nil, params...).URI()
		servertest.MustRun(t, "nbdcopy", uri, uri)
		servertest.MustRun(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", uri, uri)
	}
}

// TestE2EMapMatchesData checks with qemu-img map and nbdsh that the extents clients
// see tell the truth about the data they read.
func TestE2EMapMatchesData(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdsh")
	const size = 64 << 20
	uri := servertest.StartStack(t, Spec(), nil, "64M", "seed=3", "percent=25", "runlength=256k").URI()
	r := servertest.MustRun(t, "qemu-img", "map", "--output=json", "-f", "raw", uri)
	var entries []struct {
		Start, Length int64
		Data, Zero    bool
	}
	if err := json.Unmarshal([]byte(r.Stdout), &entries); err != nil {
		t.Fatalf("qemu-img map: %v\n%s", err, r.Stdout)
	}
	var dataBytes, covered int64
	for _, e := range entries {
		if e.Start != covered || e.Data == e.Zero {
			t.Fatalf("qemu-img map entry %+v after %d bytes", e, covered)
		}
		covered += e.Length
		if e.Data {
			dataBytes += e.Length
		}
	}
	if covered != size || dataBytes < size/8 || dataBytes > size*3/8 {
		t.Errorf("qemu-img map covers %d bytes, %d of data; want %d, about a quarter", covered, dataBytes, size)
	}
	servertest.Nbdsh(t, uri,
		"e = []",
		"h.block_status(64 << 20, 0, lambda ctx, off, ents, err: e.extend(ents))",
		"off = 0\n"+
			"for i in range(0, len(e), 2):\n"+
			"  n, hole = e[i], e[i+1] == 3\n"+
			"  b = h.pread(n, off)\n"+
			"  assert (b == bytes(n)) == hole, (off, n, hole)\n"+
			"  off += n\n"+
			"assert off == 64 << 20",
		"def err(f):\n try:\n  f()\n except nbd.Error as e:\n  return e.errno\n return 'ok'",
		"data = next(sum(e[:i]) for i in range(0, len(e), 2) if e[i+1] == 0)",
		"assert err(lambda: h.zero(4096, data)) == 'EIO'",
		"assert err(lambda: h.pwrite(bytes(4096), data)) == 'EIO'",
		"b = h.pread(1 << 20, data); h.pwrite(b, data, nbd.CMD_FLAG_FUA)",
	)
}

// TestE2EMatchesNbdkit compares what clients are offered by gonbd's sparse-random
// plugin and nbdkit's, and the errors they get. The layouts and bytes differ: each
// has its own generator.
func TestE2EMatchesNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "nbdsh")
	ours := servertest.StartStack(t, Spec(), nil, "1M", "percent=100").URI()
	theirs := servertest.SocketURI(servertest.StartNbdkit(t, "sparse-random", "1M", "percent=100"), "")
	tryAll := "def err(f):\n try:\n  f()\n except nbd.Error as e:\n  return e.errno\n return 'ok'\n" +
		"print([err(f) for f in [lambda: h.pwrite(h.pread(512, 0), 0, nbd.CMD_FLAG_FUA), lambda: h.pwrite(bytes(512), 0)," +
		" lambda: h.trim(512, 0), lambda: h.zero(512, 0), lambda: h.flush(), lambda: h.cache(512, 0)]])"
	servertest.SameAsNbdkit(t, ours, theirs, []string{"content"},
		"e = []; h.block_status(1 << 20, 0, lambda ctx, off, ents, err: e.extend(ents)); print(e)",
		"b = h.pread(1 << 20, 0); print(set(len(set(b[i:i+4096])) for i in range(0, 1 << 20, 4096)))",
		tryAll,
	)
}
