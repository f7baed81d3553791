package partitioning

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// sfdiskTable is what `sfdisk --json` says of a disk image.
type sfdiskTable struct {
	PartitionTable struct {
		Label      string            `json:"label"`
		Partitions []sfdiskPartition `json:"partitions"`
	} `json:"partitiontable"`
}

// sfdiskPartition is a partition as `sfdisk --json` lists it, in sectors.
type sfdiskPartition struct {
	Start int64  `json:"start"`
	Size  int64  `json:"size"`
	Type  string `json:"type"`
	Name  string `json:"name"`
}

func readSfdisk(t *testing.T, image string) sfdiskTable {
	t.Helper()
	r := servertest.MustRun(t, "sfdisk", "--json", image)
	var table sfdiskTable
	if err := json.Unmarshal([]byte(r.Stdout), &table); err != nil {
		t.Fatalf("sfdisk --json: %v\n%s", err, r.Stdout)
	}
	return table
}

// copyDisk copies the disk at uri to a new image file with qemu-img, for the tools that
// need a file.
func copyDisk(t *testing.T, uri string) string {
	t.Helper()
	image := filepath.Join(t.TempDir(), "disk.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", uri, "-O", "raw", image)
	return image
}

// e2eCase is a disk to build from files of the given sizes with extra parameters.
type e2eCase struct {
	name   string
	sizes  []int64
	params []string
	label  string // the table sfdisk must find: dos or gpt
}

var e2eCases = []e2eCase{
	{"one file", []int64{1<<20 + 3}, nil, "dos"},
	{"three files", []int64{1000, 70000, 2 << 20}, nil, "dos"},
	{"four files gpt", []int64{512, 3 << 20, 5000, 1}, []string{"partition-type=gpt"}, "gpt"},
	{"five files", []int64{1000, 70000, 1 << 20, 5000, 512}, nil, "gpt"},
	{"six files mbr", []int64{1000, 70000, 1 << 20, 5000, 512, 3000000}, []string{"partition-type=mbr"}, "dos"},
	{"six files gpt aligned", []int64{4097, 100, 1 << 20, 777, 65536, 1}, []string{"alignment=4k", "partition-type=gpt"}, "gpt"},
}

// params returns the command-line parameters of the case for files: the extra ones
// first (alignment= applies to the files after it), then one file= each.
func (c e2eCase) paramsFor(files []string) []string {
	params := append([]string(nil), c.params...)
	for _, f := range files {
		params = append(params, "file="+f)
	}
	return params
}

// TestE2ETablesWithClients builds disks from 1 to 6 files, MBR and GPT, copies each
// with qemu-img, and checks with sfdisk and sgdisk that the table is valid and that
// each partition holds its file; nbdsh reads a partition straight from the server.
func TestE2ETablesWithClients(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdsh", "sfdisk", "sgdisk")
	for _, c := range e2eCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var files, sums []string
			for _, size := range c.sizes {
				path, sum := servertest.RandomFile(t, dir, size)
				files, sums = append(files, path), append(sums, sum)
			}
			s := servertest.StartStack(t, Spec(), nil, c.paramsFor(files)...)
			image := copyDisk(t, s.URI())

			table := readSfdisk(t, image)
			if table.PartitionTable.Label != c.label {
				t.Fatalf("sfdisk finds a %q table, want %q", table.PartitionTable.Label, c.label)
			}
			if r := servertest.MustRun(t, "sfdisk", "--verify", image); !strings.Contains(r.Stdout, "No errors detected") {
				t.Errorf("sfdisk --verify: %s", r)
			}
			if c.label == "gpt" {
				if r := servertest.MustRun(t, "sgdisk", "-v", image); !strings.Contains(r.Stdout, "No problems found") {
					t.Errorf("sgdisk -v: %s", r)
				}
			}

			parts := dataPartitions(table)
			if len(parts) != len(files) {
				t.Fatalf("sfdisk lists %d partitions (besides an extended one), want %d: %+v", len(parts), len(files), table)
			}
			img, err := os.ReadFile(image)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range parts {
				start, size := p.Start*512, c.sizes[i]
				if p.Size != (size+511)/512 {
					t.Errorf("partition %d of %d sectors, want %d", i+1, p.Size, (size+511)/512)
				}
				if got := servertest.SHA256(img[start : start+size]); got != sums[i] {
					t.Errorf("partition %d does not hold file %d", i+1, i+1)
				}
				if !allZero(img[start+size : start+p.Size*512]) {
					t.Errorf("partition %d: its last sector's tail is not zero", i+1)
				}
			}
			last := parts[len(parts)-1]
			servertest.Nbdsh(t, s.URI(),
				"import hashlib",
				fmt.Sprintf("assert hashlib.sha256(h.pread(%d, %d)).hexdigest() == %q", c.sizes[len(parts)-1], last.Start*512, sums[len(sums)-1]),
			)
		})
	}
}

// dataPartitions returns the partitions of table without the extended partition.
func dataPartitions(table sfdiskTable) []sfdiskPartition {
	var parts []sfdiskPartition
	for _, p := range table.PartitionTable.Partitions {
		if table.PartitionTable.Label == "dos" && (p.Type == "5" || p.Type == "f" || p.Type == "85") {
			continue
		}
		parts = append(parts, p)
	}
	return parts
}

// TestE2ESameLayoutAsNbdkit serves the same files with nbdkit's partitioning plugin
// and with gonbd, and compares what sfdisk finds in both copies: the same table type,
// disk size, and partitions (start, size, type, name), GUIDs aside.
func TestE2ESameLayoutAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "sfdisk", "nbdkit")
	for _, c := range e2eCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var files []string
			for i, size := range c.sizes {
				// Relative names short enough to become GPT partition names.
				name := fmt.Sprintf("p%d", i+1)
				b := make([]byte, size)
				for j := range b {
					b[j] = byte(i + j)
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
				files = append(files, name)
			}
			t.Chdir(dir)
			params := c.paramsFor(files)

			s := servertest.StartStack(t, Spec(), nil, params...)
			ours := copyDisk(t, s.URI())
			theirs := filepath.Join(t.TempDir(), "nbdkit.img")
			args := append([]string{"-U", "-", "partitioning"}, params...)
			args = append(args, "--run", `qemu-img convert -f raw "$uri" -O raw `+theirs)
			servertest.MustRun(t, "nbdkit", args...)

			ourInfo, _ := os.Stat(ours)
			theirInfo, _ := os.Stat(theirs)
			if ourInfo.Size() != theirInfo.Size() {
				t.Errorf("disk of %d bytes, nbdkit's of %d", ourInfo.Size(), theirInfo.Size())
			}
			a, b := readSfdisk(t, ours).PartitionTable, readSfdisk(t, theirs).PartitionTable
			if a.Label != b.Label || fmt.Sprint(a.Partitions) != fmt.Sprint(b.Partitions) {
				t.Errorf("sfdisk:\ngonbd  %s %+v\nnbdkit %s %+v", a.Label, a.Partitions, b.Label, b.Partitions)
			}
			// Outside the GUIDs, GPT header and CRCs, the disks are the same bytes: the
			// partitions and MBR/EBR tables.
			if c.label == "dos" {
				if sa, _ := servertest.FileSHA256(t, ours); sa != mustSHA256(t, theirs) {
					t.Errorf("the MBR disk differs from nbdkit's")
				}
			}
		})
	}
}

// TestE2EWritesReachTheFiles writes into a partition with qemu-io and checks the file;
// a write that would change the partition table fails.
func TestE2EWritesReachTheFiles(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io")
	dir := t.TempDir()
	first, _ := servertest.RandomFile(t, dir, 1<<20)
	second, _ := servertest.RandomFile(t, dir, 1<<20)
	s := servertest.StartStack(t, Spec(), nil, first, second)
	// Partition 2 starts at 2 MiB.
	servertest.QemuIO(t, s.URI(), "write -P 0x5a 2M 64k", "write -P 0xa5 3040k 32k", "flush", "read -P 0x5a 2M 64k")
	got, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range got[:64<<10] {
		if b != 0x5a {
			t.Fatalf("file 2 byte %d is %#x, want 0x5a", i, b)
		}
	}
	for i, b := range got[(3040-2048)<<10 : (3072-2048)<<10] {
		if b != 0xa5 {
			t.Fatalf("file 2 byte %d from its tail is %#x, want 0xa5", i, b)
		}
	}
	if r := servertest.RunQemuIO(t, s.URI(), "write -P 0x01 0 512"); !servertest.QemuIOFailed(r) {
		t.Errorf("a write over the MBR succeeded: %s", r)
	}
}

func mustSHA256(t *testing.T, path string) string {
	t.Helper()
	sum, _ := servertest.FileSHA256(t, path)
	return sum
}
