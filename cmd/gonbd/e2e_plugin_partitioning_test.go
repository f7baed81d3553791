package main

// End-to-end tests of the partitioning plugin through the gonbd binary.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// e2ePartitioningSfdisk returns the partitions `sfdisk --json` finds in image: start and
// size in sectors, and type.
func e2ePartitioningSfdisk(t *testing.T, image string) (label string, parts []struct {
	Start, Size int64
	Type        string
}) {
	t.Helper()
	r := e2eMustRun(t, "sfdisk", "--json", image)
	var out struct {
		PartitionTable struct {
			Label      string `json:"label"`
			Partitions []struct {
				Start, Size int64
				Type        string
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("sfdisk --json %s: %v\n%s", image, err, r.Stdout)
	}
	return out.PartitionTable.Label, out.PartitionTable.Partitions
}

func TestE2EPluginPartitioning(t *testing.T) {
	e2eStart(t, "qemu-img", "qemu-io", "sfdisk", "sgdisk")
	dir := t.TempDir()
	var files, sums []string
	for _, size := range []int64{e2eMiB, 3 * e2eMiB / 2, 70000} {
		f, sum := e2eRandomFile(t, dir, size)
		files, sums = append(files, f), append(sums, sum)
	}
	s := e2eUnix(t, "partitioning", files[0], "mbr-id=0x82", "type-guid=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
		"file="+files[1], "alignment=4k", files[2], "partition-type=gpt")
	image := filepath.Join(t.TempDir(), "disk.img")
	e2eMustRun(t, "qemu-img", "convert", "-f", "raw", s.URI, "-O", "raw", image)
	if r := e2eMustRun(t, "sgdisk", "-v", image); !strings.Contains(r.Stdout, "No problems found") {
		t.Errorf("sgdisk -v: %s", r)
	}
	label, parts := e2ePartitioningSfdisk(t, image)
	// Partition 2 starts at the first MiB after partition 1; partition 3 at the first
	// 4 KiB after partition 2.
	wantStarts := []int64{2048, 4096, 4096 + 3072}
	if label != "gpt" || len(parts) != 3 {
		t.Fatalf("sfdisk finds a %q table with %+v", label, parts)
	}
	img, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range parts {
		if p.Start != wantStarts[i] {
			t.Errorf("partition %d at sector %d, want %d", i+1, p.Start, wantStarts[i])
		}
		_, size := e2eFileSHA256(t, files[i])
		h := e2ePartitioningSHA256(img[p.Start*512 : p.Start*512+size])
		if h != sums[i] {
			t.Errorf("partition %d does not hold its file", i+1)
		}
	}
	if parts[1].Type != "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" || parts[0].Type != "0FC63DAF-8483-4772-8E79-3D69D8477DE4" {
		t.Errorf("partition types %q, %q", parts[0].Type, parts[1].Type)
	}

	// Writes reach the files; the table cannot be changed.
	e2eQemuIO(t, s.URI, "write -P 0x33 1M 4k", "flush")
	got, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:4096], bytes.Repeat([]byte{0x33}, 4096)) {
		t.Error("a write to partition 1 did not reach its file")
	}
	if r := e2eRunQemuIO(t, s.URI, "write -P 0x33 0 512"); !e2eQemuIOFailed(r) {
		t.Errorf("a write over the protective MBR succeeded: %s", r)
	}
}

func TestE2EPluginPartitioningBadParameters(t *testing.T) {
	e2eStart(t)
	f, _ := e2eRandomFile(t, t.TempDir(), 4096)
	bin := e2eServerBinary(t)
	sock := filepath.Join(t.TempDir(), "sock")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"partitioning"}, "at least one file= parameter"},
		{[]string{"partitioning", f, "alignment=3072"}, "alignment=3072: alignment 3072 must be a power of 2"},
		{[]string{"partitioning", f, "partition-type=apm"}, "partition-type=apm: unknown partition table type"},
		{[]string{"partitioning", f, "mbr-id=0x1ff"}, "mbr-id=0x1ff"},
		{[]string{"partitioning", filepath.Join(t.TempDir(), "missing.img")}, "missing.img: no such file or directory"},
	} {
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}

func e2ePartitioningSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
