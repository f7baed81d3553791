package partition

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// sfdiskPartition is a partition as `sfdisk --json` lists it, in sectors.
type sfdiskPartition struct {
	Node  string `json:"node"`
	Start int64  `json:"start"`
	Size  int64  `json:"size"`
	Type  string `json:"type"`
}

// realTable writes a partition table on a new image file of size bytes full of random
// data, with tool (sfdisk or sgdisk) and args, and returns the image's path and the
// partitions sfdisk finds, by number (extended partitions left out).
func realTable(t *testing.T, size int64, script string, tool string, args ...string) (string, map[int]sfdiskPartition) {
	t.Helper()
	image, _ := servertest.RandomFile(t, t.TempDir(), size)
	if tool == "sfdisk" {
		cmd := fmt.Sprintf("printf %q | sfdisk -q %s", script, image)
		servertest.MustRun(t, "sh", "-c", cmd)
	} else {
		servertest.MustRun(t, tool, append(args, image)...)
	}
	r := servertest.MustRun(t, "sfdisk", "--json", image)
	var out struct {
		PartitionTable struct {
			Label      string            `json:"label"`
			Partitions []sfdiskPartition `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("sfdisk --json: %v\n%s", err, r.Stdout)
	}
	parts := make(map[int]sfdiskPartition)
	for _, p := range out.PartitionTable.Partitions {
		if out.PartitionTable.Label == "dos" && (p.Type == "5" || p.Type == "f" || p.Type == "85") {
			continue
		}
		n, err := strconv.Atoi(p.Node[strings.LastIndexAny(p.Node, "abcdefghijklmnopqrstuvwxyz.")+1:])
		if err != nil {
			t.Fatalf("partition node %q: %v", p.Node, err)
		}
		parts[n] = p
	}
	return image, parts
}

// The tables the end-to-end tests use: an MBR with a primary partition after the
// extended one (partition 3) and three logical partitions, and a GPT made by sgdisk.
const mbrScript = "label: dos\n" +
	"start=2048, size=2048, type=83\n" +
	"start=4096, size=1024, type=82\n" +
	"start=6144, size=8192, type=5\n" +
	"start=14336, size=1024, type=83\n" +
	"size=500, type=83\n" +
	"size=1000, type=7\n" +
	"size=100, type=83\n"

var gptArgs = []string{"-n", "1:2048:+1M", "-n", "2:0:+513K", "-n", "3:0:+64K", "-n", "5:0:+1M"}

// TestE2ERealTables serves each partition of tables made by sfdisk and sgdisk, through
// the filter in front of a servertest.Disk holding the image, and checks with qemu-io
// that writes at both ends of the partition land at the right place of the disk, and
// with nbdsh that the size is the partition's.
func TestE2ERealTables(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh", "sfdisk", "sgdisk")
	mbrImage, mbrParts := realTable(t, 8*mib, mbrScript, "sfdisk")
	gptImage, gptParts := realTable(t, 8*mib, "", "sgdisk", gptArgs...)
	if len(mbrParts) != 6 || len(gptParts) != 4 {
		t.Fatalf("the tools made %d MBR and %d GPT partitions: %v %v", len(mbrParts), len(gptParts), mbrParts, gptParts)
	}
	for _, table := range []struct {
		name  string
		image string
		parts map[int]sfdiskPartition
	}{{"mbr", mbrImage, mbrParts}, {"gpt", gptImage, gptParts}} {
		image, err := os.ReadFile(table.image)
		if err != nil {
			t.Fatal(err)
		}
		for n, p := range table.parts {
			t.Run(fmt.Sprintf("%s-%d", table.name, n), func(t *testing.T) {
				d := newDisk(image)
				s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, fmt.Sprintf("partition=%d", n))
				start, size := p.Start*512, p.Size*512
				servertest.Nbdsh(t, s.URI(), fmt.Sprintf("assert h.get_size() == %d, h.get_size()", size))
				servertest.QemuIO(t, s.URI(),
					"write -P 0x5a 0 512",
					fmt.Sprintf("write -P 0xa5 %d 512", size-512),
					fmt.Sprintf("read -P 0xa5 %d 512", size-512),
					"flush")
				want := append([]byte(nil), image...)
				copy(want[start:], bytes.Repeat([]byte{0x5a}, 512))
				copy(want[start+size-512:], bytes.Repeat([]byte{0xa5}, 512))
				if !bytes.Equal(d.Bytes(), want) {
					t.Errorf("the writes did not land at bytes %d and %d of the disk alone", start, start+size-512)
				}
				if r := servertest.RunQemuIO(t, s.URI(), fmt.Sprintf("write 0 %d", size+512)); !servertest.QemuIOFailed(r) {
					t.Errorf("a write past the partition's end succeeded: %s", r)
				}
			})
		}
	}
}

// TestE2ESameAsNbdkit serves each partition of the same images with nbdkit's file
// plugin and partition filter and with gonbd, and compares their sizes and contents;
// the partition numbers that do not exist fail with both.
func TestE2ESameAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "qemu-img", "nbdinfo", "sfdisk", "sgdisk", "nbdkit")
	mbrImage, _ := realTable(t, 8*mib, mbrScript, "sfdisk")
	gptImage, _ := realTable(t, 8*mib, "", "sgdisk", gptArgs...)
	for _, tt := range []struct {
		image  string
		parts  []int
		served int // how many of parts exist
	}{{mbrImage, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, 6}, {gptImage, []int{1, 2, 3, 4, 5, 6}, 4}} {
		served := 0
		image, err := os.ReadFile(tt.image)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tt.parts {
			param := fmt.Sprintf("partition=%d", n)
			dir := t.TempDir()
			theirs := filepath.Join(dir, "nbdkit.img")
			r := servertest.Run(t, "nbdkit", "-U", "-", "--filter=partition", "file", tt.image, param,
				"--run", `qemu-img convert -f raw "$uri" -O raw `+theirs)
			nbdkitServes := r.Code == 0

			d := newDisk(image)
			layer, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, param)
			if err != nil {
				t.Fatal(err)
			}
			s := servertest.Start(t, layer, server.Options{})
			ours := filepath.Join(dir, "gonbd.img")
			r2 := servertest.Run(t, "qemu-img", "convert", "-f", "raw", s.URI(), "-O", "raw", ours)
			if gonbdServes := r2.Code == 0; gonbdServes != nbdkitServes {
				t.Errorf("%s %s: gonbd serves it: %v, nbdkit: %v\nnbdkit: %s\ngonbd: %s", filepath.Base(tt.image), param, gonbdServes, nbdkitServes, r, r2)
				continue
			}
			if !nbdkitServes {
				continue
			}
			served++
			ourSum, ourSize := servertest.FileSHA256(t, ours)
			theirSum, theirSize := servertest.FileSHA256(t, theirs)
			if ourSize != theirSize || ourSum != theirSum {
				t.Errorf("%s %s: gonbd serves %d bytes (%s), nbdkit %d bytes (%s)", filepath.Base(tt.image), param, ourSize, ourSum[:12], theirSize, theirSum[:12])
			}
		}
		if served != tt.served {
			t.Errorf("%s: %d partitions served, want %d", filepath.Base(tt.image), served, tt.served)
		}
	}
}
