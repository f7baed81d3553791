package data

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// mbr is the manual's example: a 1 MiB disk with an MBR partition table.
const mbr = `
  @0x1be    # MBR first partition entry
    0           # Partition status
    0 2 0       # CHS start
    0x83        # Partition type (Linux)
    0x20 0x20 0 # CHS last sector
    le32:1      # LBA first sector
    le32:0x7ff  # LBA number of sectors
  @0x1fe    # Boot signature
    0x55 0xaa
`

// TestE2EClients serves the manual's MBR example and drives it with qemu-io, nbdsh,
// qemu-img and sfdisk: the boot signature and the partition entry are where they
// should be, sfdisk reads the partition back, and writes, zeroes and trims by clients
// stick and show in the extents.
func TestE2EClients(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh", "qemu-img", "sfdisk")
	s := servertest.StartStack(t, Spec(), nil, mbr, "size=1M")

	servertest.QemuIO(t, s.URI(),
		"read -P 0 0 446", "read -P 0x55 510 1", "read -P 0xaa 511 1", "read -P 0 512 1048064",
		"write -P 0xab 65536 65536", "read -P 0xab 65536 65536",
		"write -z 65536 4096", "read -P 0 65536 4096", "read -P 0xab 69632 61440",
	)

	// What a partitioning tool makes of the disk.
	image := filepath.Join(t.TempDir(), "disk.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), image)
	out := servertest.MustRun(t, "sfdisk", "--json", image).Stdout
	var table struct {
		PartitionTable struct {
			Label      string
			Partitions []struct {
				Start, Size int64
				Type        string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &table); err != nil {
		t.Fatalf("sfdisk --json: %v\n%s", err, out)
	}
	pt := table.PartitionTable
	if pt.Label != "dos" || len(pt.Partitions) != 1 || pt.Partitions[0].Start != 1 ||
		pt.Partitions[0].Size != 0x7ff || pt.Partitions[0].Type != "83" {
		t.Fatalf("sfdisk reads %+v, want one dos partition of type 83 from sector 1, 0x7ff sectors", pt)
	}

	servertest.Nbdsh(t, s.URI(),
		"assert h.get_size() == 1 << 20 and not h.is_read_only()",
		"assert h.can_trim() and h.can_zero() and h.can_fast_zero() and h.can_fua() and h.can_multi_conn() and h.can_cache()",
		"assert h.pread(16, 0x1be) == bytes.fromhex('00 000200 83 202000 01000000 ff070000')",
		// Page 0 holds the table; qemu-io's writes made pages 2 and 3; the rest
		// was never written.
		"e = []; h.block_status(1 << 20, 0, lambda ctx, off, ents, err: e.extend(ents)); "+
			"assert e == [32768, 0, 32768, 3, 65536, 0, 917504, 3], e",
		// Trimming drops pages 2 and 3; zeroing the first sector leaves page 0
		// allocated but all zeroes.
		"h.trim(65536, 65536); h.zero(512, 0)",
		"e = []; h.block_status(1 << 20, 0, lambda ctx, off, ents, err: e.extend(ents)); "+
			"assert e == [32768, 2, 1015808, 3], e",
		"assert h.pread(512, 0) == bytes(512)",
		"assert h.pread(65536, 65536) == bytes(65536)",
	)
}

// TestE2ECopy copies disks out with nbdcopy and qemu-img and compares them with what
// the data describes, evaluated in this process.
func TestE2ECopy(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy", "qemu-img")
	dir := t.TempDir()
	for i, args := range [][]string{
		{` ( "Hello" )*2000 `, "size=8192"},
		{`(1 @1048576)*3 "end" @^65536 </dev/zero[:1000] 0xff*70000 @^512`}, // qemu-img copies whole sectors
		{"data=$p*100 @^4096", "p=le64:0x0102030405060708 be32:7 \"=\""},
		{"base64=aGVsbG8gbmJka2l0IHVzZXI=", "size=1M", "allocator=malloc"},
	} {
		want := mustEvaluate(t, dir, args...)
		s := servertest.StartStack(t, Spec(), nil, args...)
		for _, copier := range []string{"nbdcopy", "qemu-img"} {
			out := filepath.Join(dir, fmt.Sprintf("%d-%s.img", i, copier))
			if copier == "nbdcopy" {
				servertest.MustRun(t, "nbdcopy", s.URI(), out)
			} else {
				servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), out)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if servertest.SHA256(got) != servertest.SHA256(want) || len(got) != len(want) {
				t.Errorf("%q: %s copied %d bytes that differ from the %d evaluated", args, copier, len(got), len(want))
			}
		}
	}
}

// TestE2EMapLikeNbdkit compares nbdinfo --map of nbdkit's data plugin and of this one.
func TestE2EMapLikeNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "nbdkit")
	for _, args := range [][]string{
		{`(1 @1048576)*4 @^4194304 0*65536 "x"`, "size=16M"},
		{`@32767 1 @+32768 0*32768 1 ( @70000 2 )*3`},
	} {
		theirs := servertest.MustRun(t, "nbdkit", append([]string{"-U", "-", "data"},
			append(paramArgs(args), "--run", "nbdinfo --map \"$uri\"")...)...).Stdout
		s := servertest.StartStack(t, Spec(), nil, args...)
		ours := servertest.MustRun(t, "nbdinfo", "--map", s.URI()).Stdout
		if ours != theirs {
			t.Errorf("%q: nbdinfo --map shows\n%s\nnbdkit's shows\n%s", args, ours, theirs)
		}
	}
}
